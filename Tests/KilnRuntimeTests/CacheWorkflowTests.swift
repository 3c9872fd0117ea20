import Foundation
import KilnTestSupport
import Testing

/// The ahead-of-time workflow end to end on the real binary: `kiln bake`, then `kiln run`
/// with the cache in each mode, against the JIT alone (`--cache off`).
@Suite struct CacheWorkflowTests {
    /// A private cache directory (mode 0700, as the cache layer requires).
    final class CacheDir {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "kiln-cache-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var environment: [String: String] { ["KILN_CACHE_DIR": path, "KILN_FIXTURE_GREETING": "hi", "LC_ALL": "C", "PATH": "/usr/bin:/bin"] }
        var cacheFiles: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".kcache") }.sorted() }
    }

    static func bake(_ arguments: [String], _ cache: CacheDir) throws -> KilnBinary.Result {
        try KilnBinary.run(KilnBinary.path, ["bake", "--jobs", "2"] + arguments, environment: cache.environment)
    }

    /// The report of a run (`--cache-report=json` on stderr, after the guest's own output).
    static func report(_ result: KilnBinary.Result) throws -> [String: Any] {
        let line = try #require(result.stderr.split(separator: "\n").last { $0.hasPrefix("{\"mode\"") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    static func totals(_ report: [String: Any]) -> [String: Any] { report["totals"] as? [String: Any] ?? [:] }

    @Test(arguments: RunCase.selected)
    func bakedFixtureRunsLikeTheJIT(fixture: RunCase) throws {
        let cache = try CacheDir()
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent(fixture.program).path
        let baked = try Self.bake([program], cache)
        #expect(baked.status == 0, "\(baked.stderr)")
        #expect(cache.cacheFiles.count == 1)
        let jit = try KilnBinary.run([program] + fixture.arguments, tier: .jit, options: ["--cache", "off"], environment: cache.environment)
        for mode in ["readonly", "verify"] {
            let run = try KilnBinary.run([program] + fixture.arguments, tier: .jit, options: ["--cache", mode, "--cache-report=json"],
                                         environment: cache.environment)
            #expect(run.status == jit.status && run.stdout == jit.stdout, "\(mode): \(run.stderr)")
            let report = try Self.report(run)
            let regions = report["regions"] as? [[String: Any]] ?? []
            #expect(regions.first?["status"] as? String == "used", "\(mode): \(run.stderr)")
            #expect(Self.totals(report)["served"] as? Int ?? 0 > 0)
        }
    }

    /// A region rewritten in place after baking gets a new identity: its old cache is never
    /// found (the report says missing) and the new code runs.
    @Test func binaryRewrittenInPlaceIsNeverServedStaleCode() throws {
        let cache = try CacheDir()
        // mov x0, #N; mov x8, #93 (exit); svc #0
        let exits1 = makeTinyELF([0xD280_0020, 0xD280_0BA8, 0xD400_0001])
        let exits2 = makeTinyELF([0xD280_0040, 0xD280_0BA8, 0xD400_0001])
        let path = try temporaryExecutable(exits1, name: "rewrite-\(UInt32.random(in: 0...UInt32.max))")
        defer { unlink(path) }
        #expect(try Self.bake([path], cache).status == 0)
        let first = try KilnBinary.run([path], tier: .jit, options: ["--cache", "readonly", "--cache-report=json"], environment: cache.environment)
        #expect(first.status == 1)
        #expect((try Self.report(first)["regions"] as? [[String: Any]])?.first?["status"] as? String == "used")
        // Same size, same inode, same mtime: only the bytes (and ctime) change.
        var times = stat()
        stat(path, &times)
        let fd = open(path, O_WRONLY)
        _ = exits2.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var restore = [times.st_atim, times.st_mtim]
        futimens(fd, &restore)
        close(fd)
        let second = try KilnBinary.run([path], tier: .jit, options: ["--cache", "readonly", "--cache-report=json"], environment: cache.environment)
        #expect(second.status == 2, "\(second.stderr)")
        let region = (try Self.report(second)["regions"] as? [[String: Any]])?.first
        #expect(region?["status"] as? String == "missing")
    }

    /// A cache file corrupted on disk falls back to the JIT with its reason: a corrupt header
    /// rejects the file when it is attached, corrupt code the entries that hold it when they
    /// are first used (the runtime never reads the parts of a file a run does not use).
    @Test(arguments: ["header", "code"])
    func corruptedCacheFallsBackToTheJITWithItsReason(part: String) throws {
        let cache = try CacheDir()
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path
        #expect(try Self.bake([program], cache).status == 0)
        let file = cache.path + "/" + (try #require(cache.cacheFiles.first))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        if part == "header" {
            bytes[40] ^= 1
        } else {
            // The code section is the last one: its row's offset (section table at 184).
            let rows = Int(bytes[24])
            let codeRow = 184 + 32 * (rows - 1)
            let codeOffset = bytes[(codeRow + 8)..<(codeRow + 16)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            for i in codeOffset..<bytes.count { bytes[i] ^= 0x01 }
        }
        try bytes.write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        let run = try KilnBinary.run([program], tier: .jit, options: ["--cache", "readonly", "--cache-report=json"], environment: cache.environment)
        let expected = try Data(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/expected/hello.stdout"))
        #expect(run.status == 0 && run.stdout == expected)
        let region = try #require((try Self.report(run)["regions"] as? [[String: Any]])?.first)
        #expect((region["jit"] as? Int ?? 0) > 0 && region["served"] as? Int == 0)
        if part == "header" {
            #expect(region["status"] as? String == "rejected" && region["reason"] as? String == "corrupt-header", "\(run.stderr)")
        } else {
            #expect(region["status"] as? String == "used")
            #expect((region["jitReasons"] as? [String: Int])?["corrupt-entry"] ?? 0 > 0, "\(run.stderr)")
        }
    }

    /// Entries a recorded run executed are hot: prepared when their region attaches, so the
    /// same run needs no lookups for them. A corrupt hot entry is rejected there with its
    /// reason, and its block runs on the JIT; verify mode still checks every entry.
    @Test func hotEntriesArePreloadedAndCorruptOnesFallBackToTheJIT() throws {
        let cache = try CacheDir()
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path
        let recorded = try KilnBinary.run([program], tier: .jit, environment: cache.environment)
        #expect(recorded.status == 0)
        #expect(try Self.bake([program], cache).status == 0)
        let options = ["--cache", "readonly", "--cache-report=json"]
        let warm = try KilnBinary.run([program], tier: .jit, options: options, environment: cache.environment)
        #expect(warm.status == 0 && warm.stdout == recorded.stdout)
        let totals = Self.totals(try Self.report(warm))
        #expect(totals["preloaded"] as? Int ?? 0 > 0 && totals["jit"] as? Int == 0, "\(warm.stderr)")
        let verified = try KilnBinary.run([program], tier: .jit, options: ["--cache", "verify"], environment: cache.environment)
        #expect(verified.status == 0 && verified.stdout == recorded.stdout, "\(verified.stderr)")

        let file = cache.path + "/" + (try #require(cache.cacheFiles.first))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let codeRow = 184 + 32 * (Int(bytes[24]) - 1)
        let codeOffset = bytes[(codeRow + 8)..<(codeRow + 16)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        for i in codeOffset..<bytes.count { bytes[i] ^= 0x01 }
        try bytes.write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        let broken = try KilnBinary.run([program], tier: .jit, options: options, environment: cache.environment)
        #expect(broken.status == 0 && broken.stdout == recorded.stdout)
        let region = try #require((try Self.report(broken)["regions"] as? [[String: Any]])?.first)
        #expect(region["status"] as? String == "used" && region["preloaded"] as? Int == 0, "\(broken.stderr)")
        #expect((region["jitReasons"] as? [String: Int])?["corrupt-entry"] ?? 0 > 0, "\(broken.stderr)")
    }

    @Test func requiredFailsOnAMissingCacheNamingTheRegion() throws {
        let cache = try CacheDir()
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path
        let run = try KilnBinary.run([program], tier: .jit, options: ["--cache", "required"], environment: cache.environment)
        #expect(run.status == 123 && run.stdout.isEmpty)
        #expect(run.stderr.contains(program) && run.stderr.contains("missing"), "\(run.stderr)")
        #expect(try Self.bake([program], cache).status == 0)
        let baked = try KilnBinary.run([program], tier: .jit, options: ["--cache", "required"], environment: cache.environment)
        #expect(baked.status == 0, "\(baked.stderr)")
    }

    /// Codemaps recorded by an `auto` run feed the next bake: `--seeds codemaps` alone then
    /// covers what the run executed, and `--codemaps` alone finds the region by itself.
    @Test func codemapsFromARunSeedTheBake() throws {
        let cache = try CacheDir()
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent("math").path
        let run = try KilnBinary.run([program], tier: .jit, environment: cache.environment)
        #expect(run.status == 0)
        let baked = try KilnBinary.run(KilnBinary.path, ["bake", "--codemaps", "--seeds", "codemaps", "--json"], environment: cache.environment)
        #expect(baked.status == 0, "\(baked.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: baked.stdout) as? [String: Any])
        let regions = summary["regions"] as? [[String: Any]] ?? []
        #expect(regions.count == 1 && regions.first?["path"] as? String == program)
        #expect((regions.first?["codemapEntries"] as? Int ?? 0) > 0 && regions.first?["staticEntries"] as? Int == 0)
        let cached = try KilnBinary.run([program], tier: .jit, options: ["--cache", "verify", "--cache-report=json"], environment: cache.environment)
        #expect(cached.status == 0 && cached.stdout == run.stdout)
        // Every block the first run translated is now in the cache.
        let regionReport = (try Self.report(cached)["regions"] as? [[String: Any]])?.first
        #expect(regionReport?["jit"] as? Int == 0, "\(cached.stderr)")
    }

    /// Invariant 2: the same region baked with one thread or two gives the same bytes.
    @Test func bakesAreDeterministicWhateverTheJobCount() throws {
        let one = try CacheDir(), two = try CacheDir()
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent("malloc").path
        #expect(try KilnBinary.run(KilnBinary.path, ["bake", "--jobs", "1", program], environment: one.environment).status == 0)
        #expect(try KilnBinary.run(KilnBinary.path, ["bake", "--jobs", "2", program], environment: two.environment).status == 0)
        let name = try #require(one.cacheFiles.first)
        #expect(two.cacheFiles == [name])
        #expect(try Data(contentsOf: URL(fileURLWithPath: one.path + "/" + name)) == Data(contentsOf: URL(fileURLWithPath: two.path + "/" + name)))
    }

    @Test func concurrentBakesLeaveValidCaches() throws {
        let cache = try CacheDir()
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent("malloc").path
        let processes = try (0..<2).map { _ -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: KilnBinary.path)
            p.arguments = ["bake", "--jobs", "1", program]
            p.environment = cache.environment
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            return p
        }
        for p in processes { p.waitUntilExit(); #expect(p.terminationStatus == 0) }
        #expect(cache.cacheFiles.count == 1)
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []).filter { $0.hasPrefix(".tmp-") }
        #expect(leftovers.isEmpty)
        let run = try KilnBinary.run([program], tier: .jit, options: ["--cache", "required", "--cache-report=json"], environment: cache.environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect((try Self.report(run)["regions"] as? [[String: Any]])?.first?["status"] as? String == "used")
    }
}

/// Debian programs baked with their libraries give the same output from the cache as from
/// the JIT, and `--cache verify` finds every cached block identical to the JIT's.
@Suite(.enabled(if: TestEnvironment.rootfsTestsEnabled)) struct RootfsCacheTests {
    /// The runtime's program list, and python's start-up on its own.
    static let runs: [DebianRun] = DebianRun.selected
        + [DebianRun(name: "python-print", command: ["/usr/bin/python3.11", "-c", "print(sum(i*i for i in range(100)))"])]

    @Test(arguments: runs)
    func bakedProgramRunsLikeTheJIT(run: DebianRun) throws {
        let cache = try CacheWorkflowTests.CacheDir()
        let rootfs = TestEnvironment.rootfsPath
        try #require(FileManager.default.fileExists(atPath: rootfs + run.command[0]), "\(run.command[0]) missing from the rootfs")
        var environment = cache.environment
        environment["HOME"] = NSTemporaryDirectory()
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        let baked = try KilnBinary.run(KilnBinary.path, ["bake", "--rootfs", rootfs, run.command[0]], environment: environment)
        #expect(baked.status == 0, "\(baked.stderr)")
        let stdin = Data(run.stdin.utf8)
        let jit = try KilnBinary.run(run.command, tier: .jit, options: ["--rootfs", rootfs, "--cache", "off"], stdin: stdin, environment: environment)
        for mode in ["readonly", "verify"] {
            let cached = try KilnBinary.run(run.command, tier: .jit, options: ["--rootfs", rootfs, "--cache", mode, "--cache-report=json"],
                                            stdin: stdin, environment: environment)
            #expect(cached.status == jit.status && cached.stdout == jit.stdout, "\(mode): \(cached.stderr)")
            let report = try CacheWorkflowTests.report(cached)
            let regions = report["regions"] as? [[String: Any]] ?? []
            // The program and its DT_NEEDED closure are baked; modules it dlopens (python's
            // extension modules) are not, and must be missing rather than rejected.
            let program = rootfs + run.command[0]
            #expect(regions.contains { ($0["path"] as? String).map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
                                           == URL(fileURLWithPath: program).resolvingSymlinksInPath().path && $0["status"] as? String == "used" },
                    "\(mode): \(cached.stderr)")
            #expect(regions.allSatisfy { ["used", "missing"].contains($0["status"] as? String ?? "") }, "\(mode): \(cached.stderr)")
            #expect(CacheWorkflowTests.totals(report)["served"] as? Int ?? 0 > 0)
        }
    }

    /// A host path inside the rootfs (`R/usr/bin/python3.11`) is baked as the guest path
    /// it names, closure included; and the static seeds alone leave the JIT almost nothing of
    /// python's start-up (its computed-goto table in .rodata, switch tables whose bound
    /// check branches to the dispatch).
    @Test func hostPathInsideTheRootfsBakesItsClosureAndStaticSeedsCoverStartUp() throws {
        let cache = try CacheWorkflowTests.CacheDir()
        let rootfs = TestEnvironment.rootfsPath
        var environment = cache.environment
        environment["HOME"] = NSTemporaryDirectory()
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        let baked = try KilnBinary.run(KilnBinary.path, ["bake", "--rootfs", rootfs, "--seeds", "static", "--json", rootfs + "/usr/bin/python3.11"],
                                       environment: environment)
        #expect(baked.status == 0, "\(baked.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: baked.stdout) as? [String: Any])
        let paths = (summary["regions"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(paths.contains { $0.hasSuffix("/libc.so.6") } && paths.contains { $0.hasSuffix("/ld-linux-aarch64.so.1") }, "\(paths)")
        let run = try KilnBinary.run(["/usr/bin/python3.11", "-c", "pass"], tier: .jit,
                                     options: ["--rootfs", rootfs, "--cache", "readonly", "--cache-report=json"], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        let totals = CacheWorkflowTests.totals(try CacheWorkflowTests.report(run))
        let served = totals["served"] as? Int ?? 0, jit = totals["jit"] as? Int ?? -1
        #expect(served > 0 && jit >= 0 && jit * 100 <= served, "served \(served), JIT \(jit)")
    }
}
