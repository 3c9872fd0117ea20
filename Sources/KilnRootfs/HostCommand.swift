#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

/// Output of a host tool run to completion.
struct HostCommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs host tools (apt-get, dpkg-deb) found on `PATH`.
struct HostCommand {
    /// Directories searched for tools, in order.
    var searchPath: [String]

    init(searchPath: [String]? = nil) {
        self.searchPath = searchPath
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
    }

    /// The absolute path of `tool`, or nil when it is not installed.
    func locate(_ tool: String) -> String? {
        for dir in searchPath where !dir.isEmpty {
            let candidate = dir + "/" + tool
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `tool` with `arguments`; `onStdoutLine` sees each stdout line as it arrives.
    func run(
        _ tool: String, _ arguments: [String], in directory: String? = nil,
        environment: [String: String] = [:], onStdoutLine: (String) -> Void = { _ in }
    ) throws -> HostCommandResult {
        guard let path = locate(tool) else {
            throw RootfsError.toolMissing(tool: tool, hint: "kiln rootfs fetch needs Debian's apt and dpkg (apt-get install apt dpkg)")
        }
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"  // apt's messages are parsed; keep them untranslated.
        for (key, value) in environment { env[key] = value }
        // stdout comes through a pipe, read here as it is written; stderr goes to a file.
        var pending: [UInt8] = []
        let result = try ChildProcess(executable: path, arguments: arguments, environment: env, workingDirectory: directory)
            .run { chunk in
                pending += chunk
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    onStdoutLine(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
        return HostCommandResult(
            status: result.status,
            stdout: String(decoding: result.stdout, as: UTF8.self),
            stderr: String(decoding: result.stderr, as: UTF8.self))
    }
}
