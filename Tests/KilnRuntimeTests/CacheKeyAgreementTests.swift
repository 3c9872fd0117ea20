import Foundation
import KilnCache
@testable import KilnRuntime
import Testing

/// The runtime names caches with the configuration it really runs with (invariant 3).
@Suite struct CacheKeyAgreementTests {
    @Test func keyedHWCAPIsWhatTheGuestIsTold() {
        let cache = CacheAttach(mode: .off, environment: [:], timing: false)
        #expect(cache.configuration.guestFeatures.hwcap == GuestHardwareCapabilities.hwcap)
        #expect(cache.configuration.guestFeatures.hwcap2 == GuestHardwareCapabilities.hwcap2)
    }

    @Test func keyedHostFeaturesAreOnesThisHostHas() {
        let cache = CacheAttach(mode: .off, environment: [:], timing: false)
        #expect(cache.configuration.hostFeatures.isSubset(of: HostFeatures.detect()))
        #expect(cache.configuration.abiVersion == TranslationConfiguration.currentABIVersion)
    }
}
