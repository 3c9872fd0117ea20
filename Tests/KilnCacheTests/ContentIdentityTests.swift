import Foundation
import Testing
@testable import KilnCache
import KilnELF
import KilnTestSupport

/// Sets a file's atime and mtime to exact nanosecond values (as a binary rewritten in place
/// by a careful tool would).
private func setTimes(_ path: String, mtimeNanoseconds: Int64) {
    let ts = timespec(tv_sec: Int(mtimeNanoseconds / 1_000_000_000), tv_nsec: Int(mtimeNanoseconds % 1_000_000_000))
    var times = [ts, ts]
    utimensat(AT_FDCWD, path, &times, 0)
}

@Suite struct ContentIdentityTests {
    static let source = Fixture.libcPath

    @Test func identityIgnoresPathAndTouch() throws {
        let dir = try TemporaryDirectory()
        let a = dir.path + "/a.so", b = dir.path + "/sub-b.so"
        let bytes = try readFile(ContentIdentityTests.source)
        try writeFile(a, bytes, mode: 0o644)
        try writeFile(b, bytes, mode: 0o755)
        let index = IdentityIndex(path: nil)
        let ia = try index.identity(ofFileAt: a), ib = try index.identity(ofFileAt: b)
        #expect(ia == ib)
        #expect(ia == Fixture.identity)
        let readelf = try #require(TestEnvironment.which("readelf"))
        let notes = try runProcess(readelf, ["-n", a]).stdoutText
        #expect(notes.contains("Build ID: \(ia.buildIDHex)"))
        // touch: new mtime and ctime, same content, same identity.
        setTimes(a, mtimeNanoseconds: 1_700_000_000_123_456_789)
        #expect(try index.identity(ofFileAt: a) == ia)
    }

    @Test func inPlaceRewriteWithRestoredSizeAndMtimeChangesIdentity() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/lib.so"
        var bytes = try readFile(ContentIdentityTests.source)
        try writeFile(path, bytes)
        setTimes(path, mtimeNanoseconds: 1_600_000_000_000_000_000)
        // A window of 0 remembers every stamp: the case where only ctime can tell.
        let index = IdentityIndex(path: dir.path + "/index", racyWindowNanoseconds: 0)
        let before = try index.identity(ofFileAt: path)
        let stampBefore = try FileStamp.of(path: path).get()
        // Let the coarse timestamp clock tick so the rewrite gets a distinct ctime.
        usleep(20_000)
        let segment = Fixture.textSegment
        let at = Int(segment.offset + segment.fileSize / 2)
        bytes[at] ^= 0x01
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + at, 1, off_t(at)) }
        close(fd)
        setTimes(path, mtimeNanoseconds: 1_600_000_000_000_000_000)
        let stampAfter = try FileStamp.of(path: path).get()
        #expect(stampAfter.size == stampBefore.size && stampAfter.mtimeNanoseconds == stampBefore.mtimeNanoseconds)
        #expect(stampAfter.inode == stampBefore.inode && stampAfter.ctimeNanoseconds != stampBefore.ctimeNanoseconds)
        let after = try index.identity(ofFileAt: path)
        #expect(after.buildID == before.buildID)
        #expect(after.contentHash != before.contentHash)
        // A fresh index reading the persisted records agrees.
        #expect(try IdentityIndex(path: dir.path + "/index", racyWindowNanoseconds: 0).identity(ofFileAt: path) == after)
    }

    @Test func nonExecutableBytesDoNotChangeIdentity() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/lib.so"
        var bytes = try readFile(ContentIdentityTests.source)
        let data = try #require(Fixture.elf.section(named: ".data"))
        #expect(!Fixture.elf.programHeaders.contains { $0.isExecutableLoad && $0.offset <= data.offset && data.offset < $0.offset + $0.fileSize })
        bytes[Int(data.offset)] ^= 0xFF
        try writeFile(path, bytes)
        #expect(try IdentityIndex(path: nil).identity(ofFileAt: path) == Fixture.identity)
    }

    @Test func untouchedFileCostsOneStat() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/lib.so"
        try writeFile(path, try readFile(ContentIdentityTests.source))
        setTimes(path, mtimeNanoseconds: 1_500_000_000_000_000_000)
        let indexPath = dir.path + "/index"
        let index = IdentityIndex(path: indexPath, racyWindowNanoseconds: 0)
        _ = try index.identity(ofFileAt: path)
        _ = try index.identity(ofFileAt: path)
        #expect(index.hashCount == 1)
        // Remembered across processes: a new index loads the record and hashes nothing.
        let reopened = IdentityIndex(path: indexPath, racyWindowNanoseconds: 0)
        #expect(try reopened.identity(ofFileAt: path) == Fixture.identity)
        #expect(reopened.hashCount == 0)
    }

    @Test func recentlyChangedFilesAreNotRemembered() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/lib.so"
        try writeFile(path, try readFile(ContentIdentityTests.source))
        // Just written: ctime is now, inside the default racy window.
        let index = IdentityIndex(path: dir.path + "/index")
        _ = try index.identity(ofFileAt: path)
        _ = try index.identity(ofFileAt: path)
        #expect(index.hashCount == 2)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/index"))
    }

    @Test func tornIndexKeepsEarlierRecords() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/lib.so", indexPath = dir.path + "/index"
        try writeFile(path, try readFile(ContentIdentityTests.source))
        _ = try IdentityIndex(path: indexPath, racyWindowNanoseconds: 0).identity(ofFileAt: path)
        var indexBytes = try readFile(indexPath)
        indexBytes += indexBytes.suffix(from: 8).prefix(30)
        try writeFile(indexPath, indexBytes)
        let reopened = IdentityIndex(path: indexPath, racyWindowNanoseconds: 0)
        #expect(try reopened.identity(ofFileAt: path) == Fixture.identity)
        #expect(reopened.hashCount == 0)
    }

    @Test func oversizedIndexIsCompactedToTheNewestEntries() throws {
        let dir = try TemporaryDirectory()
        let indexPath = dir.path + "/index"
        var bytes = IdentityIndex.magic
        let total = IdentityIndex.maximumEntries + 10
        for i in 0..<total {
            let stamp = FileStamp(device: 1, inode: UInt64(i), size: 10, mtimeNanoseconds: 0, ctimeNanoseconds: 0)
            bytes += RecordLog.frame(IdentityIndex.encode(stamp, Fixture.identity))
        }
        try writeFile(indexPath, bytes)
        _ = IdentityIndex(path: indexPath)
        let (payloads, clean) = RecordLog.payloads(in: try readFile(indexPath), magic: IdentityIndex.magic)
        #expect(clean && payloads.count == IdentityIndex.maximumEntries / 2)
        let inodes = payloads.compactMap { IdentityIndex.decode($0)?.0.inode }
        #expect(inodes == Array(UInt64(total - IdentityIndex.maximumEntries / 2)..<UInt64(total)))
    }

    @Test func nonELFAndCodelessFilesHaveNoIdentity() throws {
        let dir = try TemporaryDirectory()
        try writeFile(dir.path + "/script", Array("#!/bin/sh\necho\n".utf8))
        #expect(throws: ContentIdentityError.elf(.badMagic)) { try IdentityIndex(path: nil).identity(ofFileAt: dir.path + "/script") }
        #expect(throws: ContentIdentityError.io(path: dir.path + "/absent", errno: ENOENT)) {
            try IdentityIndex(path: nil).identity(ofFileAt: dir.path + "/absent")
        }
    }
}

@Suite struct CacheKeyTests {
    @Test func everyConfigurationFieldChangesTheKey() {
        let base = Fixture.configuration()
        var variants = [base]
        var c = base; c.abiVersion += 1; variants.append(c)
        c = base; c.hostFeatures.insert(.avx2); variants.append(c)
        c = base; c.guestFeatures.hwcap |= 1 << 5; variants.append(c)
        c = base; c.guestFeatures.hwcap2 = 1; variants.append(c)
        c = base; c.options.optimizationLevel = 0; variants.append(c)
        c = base; c.options.smcMode = .full; variants.append(c)
        c = base; c.options.smcMode = .mtrack; variants.append(c)
        c = base; c.options.smcMode = .none; variants.append(c)
        c = base; c.options.memoryModel = .strict; variants.append(c)
        let keys = variants.map { cacheKey(identity: Fixture.identity, configuration: $0, baseName: "libc.so.6") }
        #expect(Set(keys.map(\.configurationHash)).count == variants.count)
        #expect(Set(keys.map(\.fileName)).count == variants.count)
        for config in variants {
            #expect(config.encoded.withUnsafeBytes { TranslationConfiguration(encoded: $0) } == config)
        }
    }

    @Test func fileNameIsReadableAndPathIndependent() {
        let key = cacheKey(identity: Fixture.identity, configuration: Fixture.configuration(), baseName: "/usr/lib/aarch64-linux-gnu/libc.so.6")
        let other = cacheKey(identity: Fixture.identity, configuration: Fixture.configuration(), baseName: "/elsewhere/libc.so.6")
        #expect(key == other)
        #expect(key.fileName == "libc.so.6-\(Fixture.identity.contentHash.hex)-\(hex64(key.configurationHash)).kcache")
        #expect(cacheKey(identity: Fixture.identity, configuration: Fixture.configuration(), baseName: "../.x y-z")
            .fileName.hasPrefix("x_y_z-"))
        #expect(cacheKey(identity: Fixture.identity, configuration: Fixture.configuration(), baseName: "").fileName.hasPrefix("region-"))
    }

    @Test func hostFeaturesParseCPUInfo() throws {
        let text = "processor\t: 0\nflags\t\t: fpu sse2 pni ssse3 sse4_1 sse4_2 popcnt abm bmi1 bmi2 avx avx2 fma cx16\n"
        let features = HostFeatures.parse(cpuinfo: text)
        #expect(features == [.sse3, .ssse3, .sse41, .sse42, .popcnt, .lzcnt, .bmi1, .bmi2, .avx, .avx2, .fma, .cmpxchg16b])
        #expect(HostFeatures(names: features.names) == features)
        #expect(HostFeatures(names: ["nonsense"]) == nil)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        #expect(HostFeatures.detect() == HostFeatures.parse(cpuinfo: cpuinfo))
        #expect(HostFeatures.detect().contains(.cmpxchg16b))
    }
}
