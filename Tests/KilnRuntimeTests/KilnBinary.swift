import Foundation
import KilnTestSupport

/// Runs the built `kiln` executable, as users do: exit status and death by signal are only
/// observable on the real binary.
enum KilnBinary {
    /// `$KILN_BINARY` (e.g. a release build: the interpreter is ~25x faster optimised), else
    /// the kiln executable beside the test bundle (same build configuration), else .build/debug.
    static var path: String {
        if let binary = ProcessInfo.processInfo.environment["KILN_BINARY"], !binary.isEmpty { return binary }
        let beside = Bundle.main.bundleURL.appendingPathComponent("kiln").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        for dir in [Bundle.main.bundleURL.deletingLastPathComponent(), TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("kiln").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/kiln").path
    }

    /// Whether to run cases that execute hundreds of millions of guest instructions: with a
    /// chosen (release) binary, with `KILN_SLOW_TESTS=1`, and always in CI
    /// (`KILN_REQUIRE_ROOTFS=1`). A debug interpreter needs minutes for each of them.
    static var runsSlowCases: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["KILN_BINARY"].map { !$0.isEmpty } == true || env["KILN_SLOW_TESTS"] == "1" || TestEnvironment.rootfsRequired
    }

    struct Result {
        var status: Int32
        /// True when the process was killed by signal `status`.
        var signaled: Bool
        var stdout: Data
        var stderr: String
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `executable` with `arguments` and `stdin`, collecting output and how it ended.
    static func run(_ executable: String, _ arguments: [String], stdin: Data = Data(),
                    environment: [String: String]? = nil, directory: String? = nil) throws -> Result {
        let result = try runProcess(executable, arguments, stdin: stdin, environment: environment, currentDirectory: directory)
        return Result(status: result.status, signaled: result.signaled, stdout: result.stdout, stderr: result.stderrText)
    }

    /// `kiln run --interp|--jit [options] program args`.
    static func run(_ arguments: [String], tier: Tier, options: [String] = [], stdin: Data = Data(),
                    environment: [String: String]? = nil, directory: String? = nil) throws -> Result {
        try run(path, ["run", tier.flag] + options + arguments, stdin: stdin, environment: environment, directory: directory)
    }
}

/// The engine a test runs guest code on: every `kiln run` test runs under both.
enum Tier: String, CaseIterable, CustomStringConvertible, Sendable {
    case interp, jit
    var flag: String { "--" + rawValue }
    var description: String { rawValue }
}

/// A minimal static arm64 ELF executable: one R+X segment at 0x400000 holding `code`.
func makeTinyELF(_ code: [UInt32]) -> [UInt8] {
    var b = [UInt8]()
    func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    let base: UInt64 = 0x40_0000, codeOffset: UInt64 = 64 + 56
    let size = codeOffset + UInt64(code.count * 4)
    b += [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
    u16(2); u16(183); u32(1); u64(base + codeOffset); u64(64); u64(0); u32(0)
    u16(64); u16(56); u16(1); u16(64); u16(0); u16(0)
    u32(1); u32(5); u64(0); u64(base); u64(base); u64(size); u64(size); u64(0x1000)
    for word in code { u32(word) }
    return b
}

/// Writes `bytes` to a new executable temporary file and returns its path.
func temporaryExecutable(_ bytes: [UInt8], name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-rt-\(getpid())-\(name)").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    chmod(path, 0o755)
    return path
}
