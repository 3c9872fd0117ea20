import Foundation
import KilnCache
import KilnHost
import KilnTestSupport
import Testing
@testable import KilnBench

/// The kiln executable the command tests run: `$KILN_BINARY`, else the one beside the tests.
enum KilnExecutable {
    static var path: String {
        if let binary = ProcessInfo.processInfo.environment["KILN_BINARY"], !binary.isEmpty { return binary }
        for dir in [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(), TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("kiln").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/kiln").path
    }

    /// Whether the interpreter is fast enough for the bigger fixtures (a release binary, or CI).
    static var isFast: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["KILN_BINARY"].map { !$0.isEmpty } == true || env["KILN_SLOW_TESTS"] == "1" || TestEnvironment.rootfsRequired
    }

    static func fixture(_ name: String) -> String { TestEnvironment.fixturesBinDirectory.appendingPathComponent(name).path }

    /// Runs `kiln ARGUMENTS` with KILN_CACHE_DIR set to `cacheDirectory`.
    static func run(_ arguments: [String], cacheDirectory: String, stdin: Data = Data(), environment extra: [String: String] = [:]) throws -> ChildResult {
        var environment = ProcessInfo.processInfo.environment
        environment["KILN_CACHE_DIR"] = cacheDirectory
        environment["KILN_CACHE"] = nil
        environment["KILN_CACHE_REPORT"] = nil
        environment.merge(extra) { $1 }
        return try ChildProcess(executable: path, arguments: arguments, environment: environment).run(stdin: stdin)
    }
}

/// A private temporary directory removed on deinit (mode 0700, as a cache directory must be).
final class ScratchDirectory {
    let path: String
    init() throws {
        var template = Array(temporaryPath("kiln-tools-test.XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ChildProcessError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite(.serialized) struct BenchCommandTests {
    @Test func rejectsBadInputWithAClearError() throws {
        let scratch = try ScratchDirectory()
        let cases: [([String], String)] = [
            (["bench", "--runs", "0", KilnExecutable.fixture("hello")], "--runs must be at least 1 (got 0)"),
            (["bench", "--warmup=-1", KilnExecutable.fixture("hello")], "--warmup must be 0 or more"),
            (["bench", scratch.path + "/no-such-program"], "program not found: \(scratch.path)/no-such-program"),
            (["bench"], "Missing the program to run"),
            (["bench", "--suite", scratch.path + "/missing.json"], "cannot read suite file"),
            (["validate", "--modes", "jit", KilnExecutable.fixture("hello")], "at least two modes"),
            (["validate", "--modes", "jit,fast", KilnExecutable.fixture("hello")], "unknown mode 'fast'"),
            (["validate", scratch.path + "/no-such-program"], "program not found"),
        ]
        for (arguments, message) in cases {
            let result = try KilnExecutable.run(arguments, cacheDirectory: scratch.path)
            let stderr = String(decoding: result.stderr, as: UTF8.self)
            #expect(result.status != 0 && !result.signaled, "\(arguments)")
            #expect(stderr.contains(message), "\(arguments): \(stderr)")
        }
    }

    /// `--help` among Kiln's own options shows the subcommand's help, even for the commands
    /// that hand the rest of the line to a program; after the program it is the program's.
    @Test func helpAmongKilnsOptionsIsKilnsHelp() throws {
        let scratch = try ScratchDirectory()
        let cases: [([String], String)] = [
            (["run", "--help"], "Run an arm64 Linux program."),
            (["run", "--cache", "off", "-h"], "Run an arm64 Linux program."),
            (["bench", "--help"], "Measure a program cold"),
            (["validate", "-h"], "Check that a program behaves the same"),
        ]
        for (arguments, overview) in cases {
            let result = try KilnExecutable.run(arguments, cacheDirectory: scratch.path)
            #expect(result.status == 0 && !result.signaled, "\(arguments)")
            #expect(String(decoding: result.stdout, as: UTF8.self).contains(overview), "\(arguments)")
        }
        let guest = try KilnExecutable.run(["run", KilnExecutable.fixture("hello"), "--help"], cacheDirectory: scratch.path)
        #expect(!String(decoding: guest.stdout, as: UTF8.self).contains("OVERVIEW"))
    }

    @Test func writesTheReportsWithTheDocumentedSchema() throws {
        let scratch = try ScratchDirectory()
        let reports = scratch.path + "/reports"
        let result = try KilnExecutable.run(["bench", "--runs", "2", "--warmup", "0", "--report-dir", reports, "--cache-dir", scratch.path + "/cache",
                                             "--native", "printf 'hello from arm64\\n'", KilnExecutable.fixture("hello")],
                                            cacheDirectory: scratch.path + "/unused")
        let stdout = String(decoding: result.stdout, as: UTF8.self)
        #expect(result.status == 0, "\(String(decoding: result.stderr, as: UTF8.self))")
        #expect(stdout.contains("| hello | baseline |"))
        #expect(stdout.contains("| hello | prebuilt |"))
        #expect(stdout.contains("| hello | native |"))
        let data = try #require(FileManager.default.contents(atPath: reports + "/report.json"))
        try BenchReportSchema.check(data)
        let report = try JSONDecoder().decode(BenchReport.self, from: data)
        let workload = try #require(report.workloads.first)
        #expect(workload.variants.map(\.name) == ["baseline", "prebuilt", "native"])
        #expect(workload.variants.allSatisfy { $0.samples.count == 2 && $0.outcome == "exit 0" })
        #expect(workload.preparation.map(\.name) == ["record", "bake"])
        // kiln run's cache report gives the translation time of both kiln variants.
        #expect(workload.variants[0].translateSeconds != nil)
        #expect(workload.variants[1].translateSeconds != nil)
        #expect(workload.variants[2].translateSeconds == nil)
        let markdown = try String(contentsOfFile: reports + "/report.md", encoding: .utf8)
        #expect(markdown.contains("| hello | prebuilt |"))
        #expect(markdown.contains("(report.svg)"))
        let svg = try String(contentsOfFile: reports + "/report.svg", encoding: .utf8)
        #expect(svg.contains(">prebuilt</text>"))
        // The bake went to --cache-dir.
        let baked = try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/cache").filter { $0.hasSuffix(".kcache") }
        #expect(baked.count == 1)
    }

    @Test func runsASuite() throws {
        let scratch = try ScratchDirectory()
        try Data("one two\n".utf8).write(to: URL(fileURLWithPath: scratch.path + "/input.txt"))
        let suite = """
            {"runs": 1, "warmup": 0, "workloads": [
              {"name": "exit42", "command": ["\(KilnExecutable.fixture("exit42"))"]},
              {"name": "args", "command": ["\(KilnExecutable.fixture("args"))", "a", "b c"], "stdin": "input.txt"}
            ]}
            """
        try Data(suite.utf8).write(to: URL(fileURLWithPath: scratch.path + "/suite.json"))
        let result = try KilnExecutable.run(["bench", "--suite", scratch.path + "/suite.json", "--report-dir", scratch.path + "/r"], cacheDirectory: scratch.path + "/cache")
        #expect(result.status == 0, "\(String(decoding: result.stderr, as: UTF8.self))")
        let report = try JSONDecoder().decode(BenchReport.self, from: try #require(FileManager.default.contents(atPath: scratch.path + "/r/report.json")))
        #expect(report.workloads.map(\.name) == ["exit42", "args"])
        #expect(report.workloads[0].variants.allSatisfy { $0.outcome == "exit 42" })
        #expect(report.workloads[1].preparation.map(\.name) == ["record", "bake"])
        #expect(report.runs == 1 && report.warmup == 0)
    }
}

@Suite(.serialized) struct ValidateCommandTests {
    /// The fixture cases of fixtures/cases.tsv.
    static var cases: [(name: String, program: String, arguments: [String])] {
        let table = (try? String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/cases.tsv"), encoding: .utf8)) ?? ""
        return table.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3 else { return nil }
            let arguments = fields.count > 3 ? fields[3].split(separator: " ").map(String.init) : []
            return (fields[0], fields[1], arguments)
        }
    }

    @Test func fixturesAreAlignedAcrossInterpreterJITAndCache() throws {
        let scratch = try ScratchDirectory()
        // The interpreter in a debug build needs about a minute for the canary; it runs with a
        // release binary and in CI.
        let slow: Set<String> = ["canary", "canary-3", "malloc", "math", "neon"]
        // Their system-call traces differ from run to run on any one tier (threads interleave,
        // signals arrive at different points, children run concurrently): FixtureTests compares
        // their output with qemu-aarch64 instead.
        let concurrent: Set<String> = ["threads", "atomics", "atomics-lse", "signals", "faults", "forkexec", "sigrace"]
        for fixture in Self.cases where (KilnExecutable.isFast || !slow.contains(fixture.name)) && !concurrent.contains(fixture.name) {
            let result = try KilnExecutable.run(["validate", "--json", "--", KilnExecutable.fixture(fixture.program)] + fixture.arguments,
                                                cacheDirectory: scratch.path)
            let report = try JSONDecoder().decode(ValidationReport.self, from: result.stdout)
            #expect(report.modes.map(\.mode) == ["interp", "jit", "cache"])
            #expect(report.modes.allSatisfy { $0.syscalls > 0 }, "\(fixture.name): no syscall trace")
            #expect(report.verdict == "aligned", "\(fixture.name): \(report.differences)")
            #expect(result.status == 0, "\(fixture.name)")
        }
    }

    @Test func aUsersCacheReportStaysOutOfTheComparedStderr() throws {
        let scratch = try ScratchDirectory()
        let result = try KilnExecutable.run(["validate", "--modes", "jit,cache", "--json", KilnExecutable.fixture("hello")], cacheDirectory: scratch.path,
                                            environment: ["KILN_CACHE_REPORT": "1"])
        let report = try JSONDecoder().decode(ValidationReport.self, from: result.stdout)
        #expect(report.aligned, "\(report.differences)")
        #expect(report.modes.allSatisfy { $0.stderrBytes == 0 })
    }

    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled)) func stdinIsReadOnceAndReplayedToEveryMode() throws {
        let scratch = try ScratchDirectory()
        let input = Data((1 ... 200).map { "line \($0)\n" }.joined().utf8)
        let result = try KilnExecutable.run(["validate", "--modes", "interp,jit", "--json", "/usr/bin/cat"], cacheDirectory: scratch.path, stdin: input)
        let report = try JSONDecoder().decode(ValidationReport.self, from: result.stdout)
        #expect(report.aligned, "\(report.differences)")
        #expect(report.modes.map(\.stdoutBytes) == [input.count, input.count])
    }

    @Test func demoShowsPrebuiltAgainstBaselineAndAnAlignedVerdict() throws {
        // Its validate step runs the canary on the interpreter: a minute in a debug build.
        guard KilnExecutable.isFast else { return }
        let scratch = try ScratchDirectory()
        let result = try KilnExecutable.run(["demo", "--runs", "1"], cacheDirectory: scratch.path + "/never-used")
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(result.status == 0, "\(text)\(String(decoding: result.stderr, as: UTF8.self))")
        #expect(text.contains("| canary | baseline |"))
        #expect(text.contains("| canary | prebuilt |"))
        #expect(text.contains("bytecode: 392931"))
        #expect(text.hasSuffix("verdict: aligned\n"))
        // The demo's caches went to its own temporary directory and are gone.
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/never-used"))
    }

    /// A cache entry patched to compute a wrong value, with every section and header hash made
    /// right again, passes the structural checks; validate must find the difference and name
    /// the block.
    @Test func catchesADeliberatelyBrokenCacheAndNamesTheBlock() throws {
        let scratch = try ScratchDirectory()
        let program = KilnExecutable.fixture("exit42")
        let bake = try KilnExecutable.run(["bake", program], cacheDirectory: scratch.path)
        #expect(bake.status == 0, "\(String(decoding: bake.stderr, as: UTF8.self))")
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasSuffix(".kcache") }
        let file = scratch.path + "/" + (try #require(files.first))
        let block = try CacheCorruption.changeImmediate(inFile: file, from: 42, to: 43)

        // Structurally valid: kiln cache verify (the structural checks) and the run accept it.
        let check = try KilnExecutable.run(["cache", "verify", file], cacheDirectory: scratch.path)
        #expect(check.status == 0, "\(String(decoding: check.stdout + check.stderr, as: UTF8.self))")
        let broken = try KilnExecutable.run(["run", "--cache", "readonly", program], cacheDirectory: scratch.path)
        #expect(broken.status == 43, "the patched entry was not served")

        let result = try KilnExecutable.run(["validate", "--no-bake", "--modes", "jit,cache", program], cacheDirectory: scratch.path)
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(result.status == 1)
        #expect(text.contains("cache differs from jit in exit status:"), "\(text)")
        #expect(text.contains("- exit 42   [jit]"))
        #expect(text.contains("+ exit 43   [cache]"))
        #expect(text.contains("cache also differs from jit in syscall trace"))
        #expect(text.contains("cached block at \(String(format: "0x%llx", block))"), "\(text)")
        #expect(text.hasSuffix("verdict: differs\n"))

        let json = try KilnExecutable.run(["validate", "--json", "--no-bake", "--modes", "jit,cache", program], cacheDirectory: scratch.path)
        let report = try JSONDecoder().decode(ValidationReport.self, from: json.stdout)
        #expect(report.verdict == "differs")
        #expect(report.verifyRun)
        #expect(report.blocks.count == 1)
        #expect(report.blocks.first?.contains("entry 0 of") == true)
    }
}

/// Patches a baked cache file so one entry computes something else, then makes every hash
/// right again: only recompiling (verify) or running (validate) can tell.
enum CacheCorruption {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Changes the first 32-bit immediate `from` in an entry's code to `to`; returns the
    /// entry's guest offset (its guest address in a fixed-address program).
    static func changeImmediate(inFile path: String, from: UInt32, to: UInt32) throws -> UInt64 {
        guard var bytes = FileManager.default.contents(atPath: path).map({ [UInt8]($0) }) else { throw Failure(description: "cannot read \(path)") }
        let needle = withUnsafeBytes(of: from.littleEndian) { Array($0) }
        let replacement = withUnsafeBytes(of: to.littleEndian) { Array($0) }
        var patched: (index: Int, guestOffset: UInt64, codeStart: Int, codeLength: Int, at: Int)?
        var sections: [CacheSection] = []
        var headerSize = 0
        try bytes.withUnsafeBytes { raw in
            guard case .success(let view) = CacheFileView.attach(raw, expectedKey: nil, hostFeatures: HostFeatures.detect()) else {
                throw Failure(description: "\(path) is not a valid cache file before patching")
            }
            sections = view.header.sections
            headerSize = Int(view.header.headerSize)
            for i in 0 ..< view.entryCount {
                guard case .success(let entry) = view.validateEntry(i, guest: nil, checkGuestBytes: false) else { continue }
                let code = Array(entry.code)
                guard code.count >= 4 else { continue }
                if let at = (0 ... code.count - 4).first(where: { Array(code[$0 ..< $0 + 4]) == needle }) {
                    let start = Int(view.codeFileOffset) + Int(entry.codeOffset)
                    patched = (i, entry.guestOffset, start, code.count, start + at)
                    break
                }
            }
        }
        guard let patched else { throw Failure(description: "no entry of \(path) holds the immediate \(from)") }
        bytes.replaceSubrange(patched.at ..< patched.at + 4, with: replacement)
        func put(_ value: UInt64, at offset: Int) { bytes.replaceSubrange(offset ..< offset + 8, with: withUnsafeBytes(of: value.littleEndian) { Array($0) }) }
        func u32(_ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24 }
        // The entry's own hash (record bytes [0, 64) with the first slot at 40 and the slot
        // count at 44, its slot records, its code), then the section hashes (row i of the
        // table at 184 + 32 i, hash at +24), then the header hash.
        guard let entries = sections.first(where: { $0.kind == .entries }), let slots = sections.first(where: { $0.kind == .slots }) else {
            throw Failure(description: "\(path) lacks an entries or slots section")
        }
        let record = Int(entries.offset) + patched.index * CacheFormat.entryRecordSize
        let firstSlot = Int(slots.offset) + u32(record + 40) * CacheFormat.slotRecordSize
        let slotBytes = u32(record + 44) * CacheFormat.slotRecordSize
        let entryHash = Array(bytes[record ..< record + 64]).withUnsafeBytes { r in
            Array(bytes[firstSlot ..< firstSlot + slotBytes]).withUnsafeBytes { s in
                Array(bytes[patched.codeStart ..< patched.codeStart + patched.codeLength]).withUnsafeBytes { c in
                    CacheEntryHash.hash(record: r, slots: s, code: c)
                }
            }
        }
        put(entryHash, at: record + 64)
        for (i, section) in sections.enumerated() {
            put(XXH3.hash64(Array(bytes[Int(section.offset) ..< Int(section.offset + section.length)])), at: CacheFormat.fixedHeaderSize + CacheFormat.sectionRecordSize * i + 24)
        }
        put(XXH3.hash64(Array(bytes[0 ..< headerSize - 8])), at: headerSize - 8)
        // A new file (mode 0600) renamed over the old one, as the cache writer does.
        let temporary = path + ".patched"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0 else { throw Failure(description: "cannot rewrite \(path)") }
        let intact = bytes.withUnsafeBytes { raw -> Bool in
            guard case .success(let view) = CacheFileView.attach(raw, expectedKey: nil, hostFeatures: HostFeatures.detect()),
                  case .success = view.validateEntry(patched.index, guest: nil, checkGuestBytes: false) else { return false }
            return true
        }
        guard intact else { throw Failure(description: "the patched file no longer passes the structural checks") }
        return patched.guestOffset
    }
}
