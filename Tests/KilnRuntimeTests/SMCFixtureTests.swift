import Foundation
import KilnTestSupport
import Testing

/// One line of fixtures/smc-cases.tsv run in one `--smc` mode.
struct SMCRun: CustomStringConvertible, Sendable {
    var name: String, program: String, status: Int32, arguments: [String], mode: String
    var description: String { "\(name) --smc \(mode)" }

    /// Every row, once per listed mode.
    static let all: [SMCRun] = {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/smc-cases.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").flatMap { line -> [SMCRun] in
            guard !line.hasPrefix("#") else { return [] }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 5, let status = Int32(f[2]) else { return [] }
            return f[4].split(separator: ",").map {
                SMCRun(name: f[0], program: f[1], status: status, arguments: f[3].split(separator: " ").map(String.init), mode: String($0))
            }
        }
    }()

    /// One run per row in the row's first mode (for `--lockstep` and the interpreter tier).
    static var firstModes: [SMCRun] {
        var seen = Set<String>()
        return all.filter { seen.insert($0.name).inserted }
    }

    func run(tier: Tier, options: [String] = [], environment: [String: String]? = nil) throws -> KilnBinary.Result {
        let path = TestEnvironment.fixturesBinDirectory.appendingPathComponent(program).path
        return try KilnBinary.run([path] + arguments, tier: tier, options: options, environment: environment)
    }

    var expected: String {
        get throws {
            String(decoding: try Data(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/expected/\(name).stdout")), as: UTF8.self)
        }
    }
}

/// Guest code written at run time (fixtures/smc-cases.tsv) under every mode that promises to
/// follow it, on the JIT, in lockstep with the interpreter, and on the interpreter tier.
@Suite struct SMCFixtureTests {
    @Test func tableHasCases() {
        #expect(SMCRun.all.count >= 11)
    }

    @Test(arguments: SMCRun.all)
    func fixtureRunsOnTheJIT(run: SMCRun) throws {
        let result = try run.run(tier: .jit, options: ["--smc", run.mode])
        #expect(result.status == run.status && !result.signaled, "\(result.stderr)")
        let expected = try run.expected
        #expect(result.stdoutText == expected)
    }

    @Test(arguments: SMCRun.firstModes)
    func fixtureAgreesInLockstep(run: SMCRun) throws {
        let result = try run.run(tier: .jit, options: ["--lockstep", "--smc", run.mode])
        #expect(result.status == run.status && !result.signaled, "\(result.stderr)")
        let expected = try run.expected
        #expect(result.stdoutText == expected)
    }

    @Test(arguments: SMCRun.firstModes.filter { $0.mode == "icache" })
    func fixtureRunsOnTheInterpreter(run: SMCRun) throws {
        let result = try run.run(tier: .interp)
        #expect(result.status == run.status && !result.signaled, "\(result.stderr)")
        let expected = try run.expected
        #expect(result.stdoutText == expected)
    }

    /// KILN_SMC chooses the mode when --smc is absent: the run that skips cache maintenance
    /// is right under mtrack.
    @Test func environmentChoosesTheMode() throws {
        let run = try #require(SMCRun.all.first { $0.name == "smc-rwx-nosync" })
        let result = try run.run(tier: .jit, environment: ["KILN_SMC": "mtrack"])
        let expected = try run.expected
        #expect(result.status == 0 && result.stdoutText == expected, "\(result.stderr)")
    }

    @Test func unknownModeIsRefused() throws {
        let hello = TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path
        let result = try KilnBinary.run(KilnBinary.path, ["run", "--smc", "sometimes", hello])
        #expect(result.status != 0 && result.stdoutText.isEmpty)
        #expect(result.stderr.contains("icache"), "\(result.stderr)")
    }
}
