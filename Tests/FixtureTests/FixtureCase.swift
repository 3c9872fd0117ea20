import Foundation
import KilnTestSupport

/// One line of fixtures/cases.tsv: a guest program run and the result an arm64 machine gives.
struct FixtureCase: CustomStringConvertible, Sendable {
    var name: String
    var program: String
    var exitStatus: Int32
    var arguments: [String]
    /// False for cases qemu-user cannot run (fifth column "kernel" in cases.tsv; no "qemu" tag
    /// in smc-cases.tsv).
    var qemuIsOracle = true
    /// smc-cases.tsv only: the row's tags (see there).
    var tags: [String] = []

    /// The environment every fixture run gets, and nothing else.
    static let environment = ["KILN_FIXTURE_GREETING": "hi"]

    var description: String { name }

    var programPath: String { TestEnvironment.fixturesBinDirectory.appendingPathComponent(program).path }

    var expectedStdout: Data {
        get throws {
            try Data(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/expected/\(name).stdout"))
        }
    }

    /// Every case in fixtures/cases.tsv.
    static let all = table("cases.tsv")

    /// The self-modifying-code cases (fixtures/smc-cases.tsv).
    static let selfModifying = table("smc-cases.tsv")

    static func table(_ name: String) -> [FixtureCase] {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/" + name)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, let status = Int32(fields[2]) else { return nil }
            let arguments = fields.count > 3 ? fields[3].split(separator: " ").map(String.init) : []
            if name == "smc-cases.tsv" {
                let tags = fields.count > 5 ? fields[5].split(separator: ",").map(String.init) : []
                return FixtureCase(name: fields[0], program: fields[1], exitStatus: status, arguments: arguments,
                                   qemuIsOracle: tags.contains("qemu"), tags: tags)
            }
            return FixtureCase(name: fields[0], program: fields[1], exitStatus: status, arguments: arguments,
                               qemuIsOracle: fields.count <= 4 || fields[4] != "kernel")
        }
    }

    /// The programs fixtures/build.sh produces.
    static var programs: [String] { Array(Set((all + selfModifying).map(\.program))).sorted() }
}
