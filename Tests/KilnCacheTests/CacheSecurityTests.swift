import Foundation
import Testing
@testable import KilnCache

/// Ownership and mode checks. As root the tests hand files to uid 65534 (nobody); as any other
/// user they rely on mode bits, which every user can set on their own files.
@Suite struct CacheSecurityTests {
    static let host: HostFeatures = [.sse41, .sse42, .popcnt]

    @Test func directoryResolutionFollowsTheEnvironment() {
        #expect(CacheDirectory.defaultPath(environment: ["KILN_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/c"]) == "/a")
        #expect(CacheDirectory.defaultPath(environment: ["KILN_CACHE_DIR": "", "XDG_CACHE_HOME": "/b", "HOME": "/c"]) == "/b/kiln")
        #expect(CacheDirectory.defaultPath(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/c"]) == "/c/.cache/kiln")
        #expect(CacheDirectory.defaultPath(environment: ["HOME": "/c"]) == "/c/.cache/kiln")
    }

    @Test func createdDirectoryIsPrivate() throws {
        let root = try TemporaryDirectory()
        let path = root.path + "/x/y/kiln"
        let dir = try CacheDirectory.open(environment: ["KILN_CACHE_DIR": path]).get()
        var st = stat()
        #expect(stat(dir.path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o700)
        #expect(st.st_uid == geteuid())
    }

    @Test func writableDirectoriesAreRefused() throws {
        let root = try TemporaryDirectory()
        for mode: mode_t in [0o777, 0o770, 0o702] {
            let path = root.path + "/d\(mode)"
            mkdir(path, 0o700)
            chmod(path, mode)
            guard case .failure(let rejection) = CacheDirectory.open(path: path, create: true) else {
                Issue.record("mode \(String(mode, radix: 8)) accepted"); continue
            }
            #expect(rejection.reason == .permissions && rejection.detail.contains("writable"))
        }
        let link = root.path + "/link"
        mkdir(root.path + "/target", 0o700)
        symlink(root.path + "/target", link)
        if case .success = CacheDirectory.open(path: link, create: false) { Issue.record("symlinked directory accepted") }
    }

    @Test func groupOrWorldWritableFilesAreRefused() throws {
        let root = try TemporaryDirectory()
        let path = root.path + "/f.kcache"
        for mode: mode_t in [0o666, 0o620, 0o602] {
            try writeFile(path, Fixture.cacheBytes(count: 2), mode: mode)
            guard case .failure(let rejection) = CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: CacheSecurityTests.host) else {
                Issue.record("mode \(String(mode, radix: 8)) accepted"); continue
            }
            #expect(rejection.reason == .permissions)
        }
        chmod(path, 0o644)
        #expect((try? CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: CacheSecurityTests.host).get()) != nil)
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to give files to another user"))
    func filesAndDirectoriesOfOtherUsersAreRefused() throws {
        let root = try TemporaryDirectory()
        let dirPath = root.path + "/cache"
        let dir = try CacheDirectory.open(path: dirPath, create: true).get()
        let path = try CacheWriter(directory: dir).publish(Fixture.cacheBytes(count: 2), name: Fixture.key().fileName)
        #expect(chown(path, 65534, 65534) == 0)
        guard case .failure(let rejection) = CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: CacheSecurityTests.host) else {
            Issue.record("file owned by uid 65534 accepted"); return
        }
        #expect(rejection.reason == .permissions && rejection.detail.contains("65534"))
        #expect(chown(dirPath, 65534, 65534) == 0)
        guard case .failure(let dirRejection) = CacheDirectory.open(path: dirPath, create: false) else {
            Issue.record("directory owned by uid 65534 accepted"); return
        }
        #expect(dirRejection.reason == .permissions && dirRejection.detail.contains("65534"))
    }

    @Test func symlinkedCacheFilesAreRefused() throws {
        let root = try TemporaryDirectory()
        try writeFile(root.path + "/real", Fixture.cacheBytes(count: 2))
        symlink(root.path + "/real", root.path + "/f.kcache")
        guard case .failure(let rejection) = CacheFile.open(path: root.path + "/f.kcache", expectedKey: Fixture.key(), hostFeatures: CacheSecurityTests.host) else {
            Issue.record("symlink followed"); return
        }
        #expect(rejection.reason == .permissions)
    }
}

@Suite struct CacheWriterTests {
    @Test func publishLeavesOnlyTheFinalFile() throws {
        let root = try TemporaryDirectory()
        let dir = try CacheDirectory.open(path: root.path + "/c", create: true).get()
        let bytes = Fixture.cacheBytes()
        let path = try CacheWriter(directory: dir).publish(bytes, name: Fixture.key().fileName)
        #expect(try readFile(path) == bytes)
        #expect(listDirectory(dir.path) == [Fixture.key().fileName])
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(throws: CacheWriteError.badName("../x")) { try CacheWriter(directory: dir).publish(bytes, name: "../x") }
    }

    @Test func concurrentThreadsPublishingOneNameLeaveOneValidFile() async throws {
        let root = try TemporaryDirectory()
        let dir = try CacheDirectory.open(path: root.path + "/c", create: true).get()
        let versions = (0..<8).map { Fixture.cacheBytes(count: 40 + $0, seed: UInt64($0)) }
        await withTaskGroup(of: Void.self) { group in
            for v in versions {
                group.addTask { for _ in 0..<5 { _ = try? CacheWriter(directory: dir).publish(v, name: Fixture.key().fileName) } }
            }
        }
        let final = try readFile(dir.filePath(for: Fixture.key()))
        #expect(versions.contains(final))
        #expect(listDirectory(dir.path) == [Fixture.key().fileName])
    }

    @Test func sizeCapRemovesInvalidFilesFirstThenLeastRecentlyUsed() throws {
        let root = try TemporaryDirectory()
        let dir = try CacheDirectory.open(path: root.path + "/c", create: true).get()
        let writer = CacheWriter(directory: dir)
        var names: [String] = []
        for i in 0..<4 {
            var key = Fixture.key()
            key.configuration.options.optimizationLevel = UInt8(i)
            key = cacheKey(identity: key.identity, configuration: key.configuration, baseName: "libc.so.6")
            try writer.publish(try CacheFileBuilder.build(key: key, entries: Fixture.entries(count: 20, seed: UInt64(i))), name: key.fileName)
            names.append(key.fileName)
        }
        // Access times: file 2 oldest, then 0, 3, 1.
        for (name, age) in zip(names, [300, 100, 400, 200]) {
            let t = timespec(tv_sec: 1_700_000_000 - age, tv_nsec: 0)
            var times = [t, t]
            utimensat(AT_FDCWD, dir.path + "/" + name, &times, 0)
        }
        try writeFile(dir.path + "/broken.kcache", [UInt8](repeating: 7, count: 100))
        try writeFile(dir.path + "/.tmp-stale.kcache.abc", [1, 2, 3])
        let old = timespec(tv_sec: 1_000_000_000, tv_nsec: 0)
        var oldTimes = [old, old]
        utimensat(AT_FDCWD, dir.path + "/.tmp-stale.kcache.abc", &oldTimes, 0)
        try writeFile(dir.path + "/.tmp-fresh.kcache.abc", [1, 2, 3])

        let sizes = names.map { name -> UInt64 in var st = stat(); stat(dir.path + "/" + name, &st); return UInt64(st.st_size) }
        let cap = sizes.reduce(0, +) - sizes[2] - 1
        let report = writer.enforceSizeCap(maximumBytes: cap, hostFeatures: [.sse41, .sse42, .popcnt])
        #expect(report.removedInvalid == ["broken.kcache"])
        #expect(report.removedTemporaries == [".tmp-stale.kcache.abc"])
        #expect(report.removedLeastRecentlyUsed == [names[2], names[0]])
        #expect(Set(listDirectory(dir.path)) == [names[1], names[3], ".tmp-fresh.kcache.abc"])
        #expect(report.remainingBytes == sizes[1] + sizes[3])
    }

    @Test func attachRecordsUseForEviction() throws {
        let root = try TemporaryDirectory()
        let dir = try CacheDirectory.open(path: root.path + "/c", create: true).get()
        let path = try CacheWriter(directory: dir).publish(Fixture.cacheBytes(), name: Fixture.key().fileName)
        let t = timespec(tv_sec: 1_000_000_000, tv_nsec: 0)
        var times = [t, t]
        utimensat(AT_FDCWD, path, &times, 0)
        _ = try CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
        var st = stat()
        stat(path, &st)
        #expect(st.st_atim.tv_sec > 1_600_000_000)
        #expect(st.st_mtim.tv_sec == 1_000_000_000)
    }
}
