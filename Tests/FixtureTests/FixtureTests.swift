import Foundation
import Testing
import KilnTestSupport

/// The committed guest fixtures: what they are, that the script reproduces them, and what they
/// print on an arm64 machine (qemu-aarch64 standing in for one).
@Suite struct FixtureTests {
    /// CI installs the cross toolchain and qemu; there, missing tools are failures.
    static var toolsRequired: Bool { TestEnvironment.rootfsRequired }

    @Test func casesTableIsComplete() throws {
        #expect(FixtureCase.all.count >= 8)
        for fixture in FixtureCase.all {
            #expect(FileManager.default.isExecutableFile(atPath: fixture.programPath), "\(fixture.program) missing")
            _ = try fixture.expectedStdout
        }
    }

    @Test(arguments: FixtureCase.programs)
    func fixtureIsStaticStrippedArm64ELF(program: String) throws {
        let path = TestEnvironment.fixturesBinDirectory.appendingPathComponent(program).path
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count < 1_000_000, "fixtures stay small")
        try #require(bytes.count >= 64)
        #expect(Array(bytes[0 ..< 4]) == [0x7F, 0x45, 0x4C, 0x46])
        #expect(bytes[4] == 2 && bytes[5] == 1, "ELF64 little-endian")
        #expect(UInt16(bytes[18]) | UInt16(bytes[19]) << 8 == 183, "EM_AARCH64")
        let phoff = Int(readLE64(bytes, 32)), phentsize = Int(readLE16(bytes, 54)), phnum = Int(readLE16(bytes, 56))
        let types = (0 ..< phnum).map { readLE32(bytes, phoff + $0 * phentsize) }
        #expect(!types.contains(3), "static: no PT_INTERP")
        #expect(!types.contains(2), "static: no PT_DYNAMIC")
        let shoff = Int(readLE64(bytes, 40)), shentsize = Int(readLE16(bytes, 58)), shnum = Int(readLE16(bytes, 60))
        let sectionTypes = (0 ..< shnum).map { readLE32(bytes, shoff + $0 * shentsize + 4) }
        #expect(!sectionTypes.contains(2), "stripped: no SHT_SYMTAB")
    }

    @Test(.enabled(if: TestEnvironment.which("aarch64-linux-gnu-gcc") != nil || toolsRequired))
    func buildScriptReproducesCommittedBinaries() throws {
        let gcc = try #require(TestEnvironment.which("aarch64-linux-gnu-gcc"), "install gcc-aarch64-linux-gnu")
        let version = try runProcess(gcc, ["--version"]).stdoutText.split(separator: "\n").first.map(String.init) ?? ""
        let recorded = try String(contentsOf: TestEnvironment.fixturesBinDirectory.appendingPathComponent("TOOLCHAIN"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(version == recorded, "fixtures were built with \(recorded); this machine has \(version)")

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-fixtures-\(getpid())")
        defer { try? FileManager.default.removeItem(at: out) }
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/build.sh").path
        let build = try runProcess("/bin/sh", [script, out.path])
        try #require(build.status == 0, "build.sh failed: \(build.stderrText)")
        for program in FixtureCase.programs {
            let built = try Data(contentsOf: out.appendingPathComponent(program))
            let committed = try Data(contentsOf: TestEnvironment.fixturesBinDirectory.appendingPathComponent(program))
            #expect(built == committed, "fixtures/bin/\(program) differs from what build.sh produces")
        }
    }

    @Test(.enabled(if: TestEnvironment.which("qemu-aarch64") != nil || toolsRequired),
          arguments: (FixtureCase.all + FixtureCase.selfModifying).filter(\.qemuIsOracle))
    func fixtureRunsLikeArm64(fixture: FixtureCase) throws {
        let qemu = try #require(TestEnvironment.which("qemu-aarch64"), "install qemu-user")
        let result = try runProcess(qemu, [fixture.programPath] + fixture.arguments, environment: FixtureCase.environment)
        #expect(result.status == fixture.exitStatus)
        #expect(result.stdoutText == String(decoding: try fixture.expectedStdout, as: UTF8.self))
    }
}

private func readLE16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
private func readLE32(_ b: [UInt8], _ o: Int) -> UInt32 { (0 ..< 4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) } }
private func readLE64(_ b: [UInt8], _ o: Int) -> UInt64 { (0 ..< 8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * $1) } }
