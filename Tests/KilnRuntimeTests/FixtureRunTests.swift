import Foundation
import KilnTestSupport
import Testing

/// One line of fixtures/cases.tsv (the same table FixtureTests checks against qemu).
struct RunCase: CustomStringConvertible, Sendable {
    var name: String, program: String, status: Int32, arguments: [String]
    var description: String { name }

    /// Fixtures of tens of millions of guest instructions (see `KilnBinary.runsSlowCases`).
    static let slowNames: Set<String> = ["malloc", "canary", "canary-3"]

    /// The cases this run includes.
    static var selected: [RunCase] { all.filter { KilnBinary.runsSlowCases || !slowNames.contains($0.name) } }

    static let all: [RunCase] = {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/cases.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3, let status = Int32(f[2]) else { return nil }
            return RunCase(name: f[0], program: f[1], status: status, arguments: f.count > 3 ? f[3].split(separator: " ").map(String.init) : [])
        }
    }()
}

/// `kiln run --interp` on the committed fixtures and on hand-made programs for the error paths.
@Suite struct FixtureRunTests {
    @Test(arguments: RunCase.selected, Tier.allCases)
    func fixtureMatchesExpected(fixture: RunCase, tier: Tier) throws {
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent(fixture.program).path
        let result = try KilnBinary.run([program] + fixture.arguments, tier: tier, environment: ["KILN_FIXTURE_GREETING": "hi"])
        let expected = try Data(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/expected/\(fixture.name).stdout"))
        #expect(result.status == fixture.status && !result.signaled, "\(result.stderr)")
        #expect(result.stdoutText == String(decoding: expected, as: UTF8.self))
    }

    /// Every block of every fixture on both tiers from the same state: no difference.
    @Test(arguments: RunCase.selected)
    func fixtureAgreesInLockstep(fixture: RunCase) throws {
        let program = TestEnvironment.fixturesBinDirectory.appendingPathComponent(fixture.program).path
        let result = try KilnBinary.run([program] + fixture.arguments, tier: .jit, options: ["--lockstep"],
                                        environment: ["KILN_FIXTURE_GREETING": "hi"])
        #expect(result.status == fixture.status && !result.signaled, "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func exitStatusPassesThrough(tier: Tier) throws {
        // mov x0, #42; mov x8, #93 (exit); svc #0
        let path = try temporaryExecutable(makeTinyELF([0xD280_0540, 0xD280_0BA8, 0xD400_0001]), name: "exit-\(tier)")
        defer { unlink(path) }
        let result = try KilnBinary.run([path], tier: tier)
        #expect(result.status == 42 && !result.signaled)
    }

    /// SIGABRT (abort) and SIGILL, whose host handler Kiln keeps for its own traps.
    @Test(arguments: [SIGABRT, SIGILL], Tier.allCases)
    func guestSignalKillsKiln(signal: Int32, tier: Tier) throws {
        // rt_sigprocmask(SIG_UNBLOCK, {signal}) as abort() does (the test runner may block it),
        // getpid, kill(pid, signal), exit(0)
        let bit = UInt32(1) << UInt32(signal - 1)
        let unblock: [UInt32] = [0xD280_0020, 0xD280_0009 | bit << 5, 0xF81F_0FE9, 0x9100_03E1, 0xD280_0002, 0xD280_0103, 0xD280_10E8, 0xD400_0001]
        let code: [UInt32] = unblock + [0xD280_1588, 0xD400_0001, 0xD280_0001 | UInt32(signal) << 5, 0xD280_1028, 0xD400_0001, 0xD280_0BA8, 0xD400_0001]
        let path = try temporaryExecutable(makeTinyELF(code), name: "signal\(signal)-\(tier)")
        defer { unlink(path) }
        let result = try KilnBinary.run([path], tier: tier)
        #expect(result.signaled && result.status == signal, "\(result.status) \(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func guestCrashNamesPcAndDiesOfSIGSEGV(tier: Tier) throws {
        // mov x0, #0; ldr x1, [x0]
        let path = try temporaryExecutable(makeTinyELF([0xD280_0000, 0xF940_0001]), name: "crash-\(tier)")
        defer { unlink(path) }
        let result = try KilnBinary.run([path], tier: tier)
        #expect(result.signaled && result.status == SIGSEGV)
        #expect(result.stderr.contains("SIGSEGV") && result.stderr.contains("pc 0x40007c"), "\(result.stderr)")
        #expect(result.stderr.contains("+0x7c"), "file offset named: \(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func wildPointerInsideGuestRangeCrashes(tier: Tier) throws {
        // mov x0, #0x1000, lsl #16 (0x10000000, unmapped); str x0, [x0]
        let path = try temporaryExecutable(makeTinyELF([0xD2A2_0000, 0xF900_0000]), name: "wild-\(tier)")
        defer { unlink(path) }
        let result = try KilnBinary.run([path], tier: tier)
        #expect(result.signaled && result.status == SIGSEGV, "\(result.stderr)")
        #expect(result.stderr.contains("0x10000000"), "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func unsupportedInstructionIsNamed(tier: Tier) throws {
        // SVE add z0.d, z0.d, z0.d: an encoding Kiln recognises but never runs.
        let path = try temporaryExecutable(makeTinyELF([0x04E0_0000]), name: "sve-\(tier)")
        defer { unlink(path) }
        let result = try KilnBinary.run([path], tier: tier)
        #expect(result.status == 125 && !result.signaled, "\(result.stderr)")
        #expect(result.stderr.contains("04e00000") && result.stderr.contains("0x400078"), "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func notAnELF(tier: Tier) throws {
        let path = try temporaryExecutable(Array("plain text, neither ELF nor script\n".utf8), name: "text-\(tier)")
        defer { unlink(path) }
        let result = try KilnBinary.run([path], tier: tier)
        #expect(result.status == 126)
        #expect(result.stderr.contains("not an ELF"), "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func truncatedELF(tier: Tier) throws {
        let hello = try [UInt8](Data(contentsOf: TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello")))
        let path = try temporaryExecutable(Array(hello.prefix(100)), name: "truncated-\(tier)")
        defer { unlink(path) }
        let result = try KilnBinary.run([path], tier: tier)
        #expect(result.status == 126)
        #expect(result.stderr.contains("cannot execute"), "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func wrongMachine(tier: Tier) throws {
        let result = try KilnBinary.run(["/bin/ls"], tier: tier, options: ["--rootfs", "/"])
        #expect(result.status == 126)
        #expect(result.stderr.contains("x86-64"), "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func missingProgram(tier: Tier) throws {
        let result = try KilnBinary.run(["/nonexistent/kiln-program"], tier: tier)
        #expect(result.status == 127)
        #expect(result.stderr.contains("not found"), "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func missingInterpreterNamesThePathTried(tier: Tier) throws {
        // A dynamic program (the host's ls, relabelled arm64) against an empty rootfs.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/bin/ls")))
        bytes[18] = 183; bytes[19] = 0
        let path = try temporaryExecutable(bytes, name: "dynamic-\(tier)")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-empty-root-\(getpid())-\(tier)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { unlink(path); rmdir(root) }
        let result = try KilnBinary.run([path], tier: tier, options: ["--rootfs", root])
        #expect(result.status == 127)
        #expect(result.stderr.contains(root + "/lib64/ld-linux-x86-64.so.2"), "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func straceFileRecordsCalls(tier: Tier) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-strace-\(getpid())-\(tier)").path
        defer { unlink(log) }
        let hello = TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path
        let result = try KilnBinary.run(["--", hello], tier: tier, options: ["--strace-file", log])
        #expect(result.status == 0 && result.stdoutText == "hello from arm64\n")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("write(1,"), "\(text)")
        #expect(text.contains("exit"), "\(text)")
    }
}

@Test func interpAndJITExcludeEachOther() throws {
    let hello = TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path
    let result = try KilnBinary.run(KilnBinary.path, ["run", "--interp", "--jit", hello])
    #expect(result.status != 0 && result.stdoutText.isEmpty)
    #expect(result.stderr.contains("--interp excludes"), "\(result.stderr)")
}
