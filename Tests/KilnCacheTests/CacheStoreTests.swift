import Foundation
import Testing
@testable import KilnCache

@Suite struct CacheStoreTests {
    @Test func bakeThenRunFindsTheSameFile() throws {
        let root = try TemporaryDirectory()
        let directory = try CacheDirectory.open(environment: ["KILN_CACHE_DIR": root.path + "/cache"]).get()
        let configuration = Fixture.configuration()
        let host: HostFeatures = [.sse41, .sse42, .popcnt, .avx]
        // The "bake" side, through one store.
        let bake = CacheStore(directory: directory, hostFeatures: host)
        let key = try bake.key(forFileAt: Fixture.libcPath, configuration: configuration)
        let entries = Fixture.entries(count: 16, seed: 31)
        try bake.publish(key: key, entries: entries)
        // The "run" side, a separate store over a copy of the library at another path.
        let copy = root.path + "/libc.so.6"
        try writeFile(copy, try readFile(Fixture.libcPath), mode: 0o644)
        let run = CacheStore(directory: directory, hostFeatures: host)
        let file = try #require(run.attach(fileAt: copy, configuration: configuration))
        Fixture.image.withGuestRegion { guest in
            for entry in entries { #expect(file.lookup(guestOffset: entry.guestOffset, guest: guest) != nil) }
        }
        // Another configuration has no file yet; a non-ELF region has no identity.
        var other = configuration
        other.options.optimizationLevel = 0
        #expect(run.attach(fileAt: copy, configuration: other) == nil)
        try writeFile(root.path + "/script", Array("#!/bin/sh\n".utf8))
        #expect(run.attach(fileAt: root.path + "/script", configuration: configuration) == nil)
        let snapshot = run.diagnostics.snapshot
        #expect(snapshot.filesAttached == 1 && snapshot.filesRejected == ["missing": 2] && snapshot.entriesServed == 16)
        #expect(run.diagnostics.renderText().contains("missing: 2"))
    }
}
