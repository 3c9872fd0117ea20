import Foundation
import Testing
@testable import KilnCache
import KilnTestSupport

/// Tests that run the built `kiln` executable as separate processes.
@Suite struct CacheProcessTests {
    static let host: HostFeatures = [.sse41, .sse42, .popcnt]

    /// Eight `kiln cache import` processes publish different valid versions of one cache file
    /// at once, repeatedly, while this process keeps attaching it: every attach sees a complete
    /// valid file (or none yet), and the survivor is exactly one of the versions.
    @Test func eightWriterProcessesNeverCorruptTheFile() throws {
        let kiln = try #require(Fixture.kilnExecutable, "build the kiln product first")
        for round in 0..<3 {
            let root = try TemporaryDirectory()
            let cache = root.path + "/cache"
            let key = Fixture.key()
            var versions: [[UInt8]] = []
            var sources: [String] = []
            for writer in 0..<8 {
                let bytes = try CacheFileBuilder.build(
                    key: key, entries: Fixture.entries(count: 200 + writer, seed: UInt64(round * 8 + writer), codeSize: 200...2000))
                let source = root.path + "/libc.so.6-v\(writer).kcache"
                try writeFile(source, bytes)
                versions.append(bytes)
                sources.append(source)
            }
            let processes = sources.map { source -> Process in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: kiln)
                p.arguments = ["cache", "import", "--cache-dir", cache] + Array(repeating: source, count: 30)
                p.standardOutput = FileHandle.nullDevice
                return p
            }
            for p in processes { try p.run() }
            var attached = 0, missing = 0
            let target = cache + "/" + key.fileName
            while processes.contains(where: { $0.isRunning }) {
                switch CacheFile.open(path: target, expectedKey: key, hostFeatures: CacheProcessTests.host, markUsed: false) {
                case .success(let file):
                    attached += 1
                    #expect(versions.contains { $0.count == file.view.bytes.count && $0.elementsEqual(file.view.bytes) })
                case .failure(let rejection):
                    #expect(rejection.reason == .missing, "round \(round): reader saw \(rejection)")
                    missing += 1
                }
            }
            for p in processes {
                p.waitUntilExit()
                #expect(p.terminationStatus == 0)
            }
            #expect(attached > 0, "the reader never overlapped a writer")
            let final = try readFile(target)
            #expect(versions.contains(final), "round \(round): final file is none of the versions")
            #expect(listDirectory(cache).filter { $0.hasPrefix(".tmp-") }.isEmpty)
        }
    }

    @Test func keyCommandPrintsTheLibraryKey() throws {
        let kiln = try #require(Fixture.kilnExecutable)
        let root = try TemporaryDirectory()
        let result = try runProcess(kiln, ["cache", "key", "--json", "--cache-dir", root.path + "/c",
                                           "--host-features", "sse4_1,sse4_2,popcnt", Fixture.libcPath])
        #expect(result.status == 0, "\(result.stderrText)")
        let json = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        let key = Fixture.key()
        #expect(json["build_id"] as? String == key.identity.buildIDHex)
        #expect(json["content_hash"] as? String == key.identity.contentHash.hex)
        #expect(json["config_key"] as? String == hex64(key.configurationHash))
        #expect(json["file_name"] as? String == key.fileName)
        let text = try runProcess(kiln, ["cache", "key", "--cache-dir", root.path + "/c", "--host-features", "sse4_1,sse4_2,popcnt", Fixture.libcPath])
        #expect(text.stdoutText.contains("file_name: \(key.fileName)\n"))
        let bad = try runProcess(kiln, ["cache", "key", "--cache-dir", root.path + "/c", "/etc/hostname"])
        #expect(bad.status != 0 && bad.stderrText.contains("bad magic"))
    }

    @Test func verifyReportsEveryInvalidFileWithItsReason() throws {
        let kiln = try #require(Fixture.kilnExecutable)
        let root = try TemporaryDirectory()
        let good = root.path + "/good.kcache"
        let bytes = Fixture.cacheBytes(count: 10, seed: 2)
        try writeFile(good, bytes)
        let ok = try runProcess(kiln, ["cache", "verify", "--region", Fixture.libcPath, good])
        #expect(ok.status == 0 && ok.stdoutText.contains("valid"), "\(ok.stdoutText)\(ok.stderrText)")

        var rng = SplitMix64(seed: 5)
        var cases: [(String, [UInt8], String)] = [
            ("truncated", Array(bytes.prefix(bytes.count / 2)), "truncated"),
            ("empty", [], "truncated"),
            ("version", { var b = bytes; b[8] = 9; return b }(), "format-version"),
            ("section", { var b = bytes; b[b.count - 3] ^= 1; return b }(), "corrupt-section"),
        ]
        for i in 0..<20 {
            var b = bytes
            _ = CacheFuzzTests.corrupt(&b, &rng, entryCount: 10)
            if b != bytes { cases.append(("fuzz\(i)", b, "")) }
        }
        for (name, content, reason) in cases {
            let path = root.path + "/\(name).kcache"
            try writeFile(path, content)
            let result = try runProcess(kiln, ["cache", "verify", "--json", "--region", Fixture.libcPath, path])
            let json = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
            let row = (json?["files"] as? [[String: Any]])?.first
            if result.status == 0 {
                // A resealed edit that leaves every entry consistent is a valid file.
                #expect(reason.isEmpty && row?["valid"] as? Bool == true, "\(name)")
            } else {
                #expect(result.status == 1, "\(name): crashed? status \(result.status) \(result.stderrText)")
                #expect(row?["valid"] as? Bool == false)
                #expect(reason.isEmpty || row?["reason"] as? String == reason, "\(name): \(String(describing: row))")
                #expect((row?["reason"] as? String).flatMap(CacheRejectionReason.init(rawValue:)) != nil)
            }
        }
        // A changed region: the cache is fine but its guest bytes are not.
        var changed = try readFile(Fixture.libcPath)
        for entry in Fixture.entries(count: 10, seed: 2) {
            let segment = Fixture.textSegment
            changed[Int(entry.guestOffset - segment.virtualAddress + segment.offset)] ^= 0x55
        }
        try writeFile(root.path + "/libc-changed.so", changed)
        let stale = try runProcess(kiln, ["cache", "verify", "--region", root.path + "/libc-changed.so", good])
        #expect(stale.status == 1 && stale.stdoutText.contains("guest-bytes-changed"))
    }

    @Test func listStatsGCAndClearWorkOnADirectory() throws {
        let kiln = try #require(Fixture.kilnExecutable)
        let root = try TemporaryDirectory()
        let cacheDir = root.path + "/c"
        let dir = try CacheDirectory.open(path: cacheDir, create: true).get()
        try CacheWriter(directory: dir).publish(Fixture.cacheBytes(count: 5), name: Fixture.key().fileName)
        try writeFile(cacheDir + "/junk-0-0.kcache", [1, 2, 3])
        let list = try runProcess(kiln, ["cache", "list", "--json", "--cache-dir", cacheDir])
        let files = try #require((try JSONSerialization.jsonObject(with: list.stdout) as? [String: Any])?["files"] as? [[String: Any]])
        #expect(Set(files.compactMap { $0["state"] as? String }) == ["valid", "corrupt-header"])
        let stats = try runProcess(kiln, ["cache", "stats", "--json", "--cache-dir", cacheDir])
        let s = try #require(try JSONSerialization.jsonObject(with: stats.stdout) as? [String: Any])
        #expect(s["files"] as? Int == 2 && s["entries"] as? Int == 5)
        // Two runs' codemaps: gc folds them into the merged one.
        for pid: Int32 in [41, 42] {
            let recorder = try CodemapRecorder(directory: dir.codemapDirectory, processID: pid)
            recorder.record(region: XXH128Hash(low64: 1, high64: 2), offset: UInt64(pid))
        }
        #expect(listDirectory(dir.codemapDirectory).count == 2)
        let gc = try runProcess(kiln, ["cache", "gc", "--json", "--cache-dir", cacheDir])
        let g = try #require(try JSONSerialization.jsonObject(with: gc.stdout) as? [String: Any])
        #expect(g["removed_invalid"] as? [String] == ["junk-0-0.kcache"])
        #expect(g["folded_codemaps"] as? Int == 2)
        #expect(listDirectory(dir.codemapDirectory) == ["merged.kcodemap"])
        #expect(Codemap.read(path: dir.codemapDirectory + "/merged.kcodemap").offsets == [XXH128Hash(low64: 1, high64: 2): [41, 42]])
        let clear = try runProcess(kiln, ["cache", "clear", "--json", "--cache-dir", cacheDir])
        #expect(clear.status == 0)
        // Codemaps stay until --all.
        #expect(listDirectory(cacheDir) == ["codemaps"])
        let clearAll = try runProcess(kiln, ["cache", "clear", "--all", "--json", "--cache-dir", cacheDir])
        #expect(clearAll.status == 0)
        #expect(listDirectory(dir.codemapDirectory).isEmpty)
    }

    @Test(.enabled(if: TestEnvironment.which("xxhsum") != nil))
    func hashCommandMatchesXXHSum() throws {
        let kiln = try #require(Fixture.kilnExecutable)
        let xxhsum = try #require(TestEnvironment.which("xxhsum"))
        let files = [Fixture.libcPath, "/usr/bin/ls", "/etc/hostname"]
        for (algorithm, flag) in [("xxh3-64", "-H3"), ("xxh128", "-H2")] {
            let ours = try runProcess(kiln, ["cache", "hash", "--algorithm", algorithm] + files)
            let theirs = try runProcess(xxhsum, [flag] + files)
            #expect(ours.status == 0 && ours.stdoutText == theirs.stdoutText)
        }
    }
}
