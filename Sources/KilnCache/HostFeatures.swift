#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// x86-64 instruction-set extensions a backend may use. The cache key holds the set the
/// backend actually used; a cache is only usable on hosts that have all of them.
public struct HostFeatures: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let sse3 = HostFeatures(rawValue: 1 << 0)
    public static let ssse3 = HostFeatures(rawValue: 1 << 1)
    public static let sse41 = HostFeatures(rawValue: 1 << 2)
    public static let sse42 = HostFeatures(rawValue: 1 << 3)
    public static let popcnt = HostFeatures(rawValue: 1 << 4)
    public static let lzcnt = HostFeatures(rawValue: 1 << 5)
    public static let bmi1 = HostFeatures(rawValue: 1 << 6)
    public static let bmi2 = HostFeatures(rawValue: 1 << 7)
    public static let avx = HostFeatures(rawValue: 1 << 8)
    public static let avx2 = HostFeatures(rawValue: 1 << 9)
    public static let fma = HostFeatures(rawValue: 1 << 10)
    public static let f16c = HostFeatures(rawValue: 1 << 11)
    public static let movbe = HostFeatures(rawValue: 1 << 12)
    public static let adx = HostFeatures(rawValue: 1 << 13)
    public static let aes = HostFeatures(rawValue: 1 << 14)
    public static let pclmulqdq = HostFeatures(rawValue: 1 << 15)
    public static let sha = HostFeatures(rawValue: 1 << 16)
    public static let cmpxchg16b = HostFeatures(rawValue: 1 << 17)
    public static let avx512f = HostFeatures(rawValue: 1 << 18)
    public static let avx512bw = HostFeatures(rawValue: 1 << 19)
    public static let avx512vl = HostFeatures(rawValue: 1 << 20)
    /// LAHF/SAHF in 64-bit mode; the backend parks guest flags with them.
    public static let lahfsahf = HostFeatures(rawValue: 1 << 21)

    /// Each feature with its name in /proc/cpuinfo's `flags` line (also the name Kiln prints).
    public static let names: [(feature: HostFeatures, name: String)] = [
        (.sse3, "pni"), (.ssse3, "ssse3"), (.sse41, "sse4_1"), (.sse42, "sse4_2"),
        (.popcnt, "popcnt"), (.lzcnt, "abm"), (.bmi1, "bmi1"), (.bmi2, "bmi2"),
        (.avx, "avx"), (.avx2, "avx2"), (.fma, "fma"), (.f16c, "f16c"), (.movbe, "movbe"),
        (.adx, "adx"), (.aes, "aes"), (.pclmulqdq, "pclmulqdq"), (.sha, "sha_ni"),
        (.cmpxchg16b, "cx16"), (.avx512f, "avx512f"), (.avx512bw, "avx512bw"), (.avx512vl, "avx512vl"),
        (.lahfsahf, "lahf_lm"),
    ]

    /// The features named in the first `flags` line of /proc/cpuinfo text.
    public static func parse(cpuinfo: String) -> HostFeatures { features(flags: HostCPU.flags(cpuinfo: cpuinfo)) }

    /// The running host's features, from /proc/cpuinfo (empty when it cannot be read).
    public static func detect() -> HostFeatures { features(flags: HostCPU.flags) }

    private static func features(flags: Set<String>) -> HostFeatures {
        var result: HostFeatures = []
        for (feature, name) in names where flags.contains(name) { result.insert(feature) }
        return result
    }

    /// Space-separated feature names in table order.
    public var names: [String] { HostFeatures.names.filter { contains($0.feature) }.map(\.name) }

    /// Parses names as `names` prints them.
    public init?(names list: [String]) {
        var result: HostFeatures = []
        for name in list {
            guard let entry = HostFeatures.names.first(where: { $0.name == name }) else { return nil }
            result.insert(entry.feature)
        }
        self = result
    }
}
