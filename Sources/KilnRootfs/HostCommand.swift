import Foundation

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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"  // apt's messages are parsed; keep them untranslated.
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        try process.run()

        // stderr drains on another thread so a chatty child never blocks on a full pipe.
        final class Collected: @unchecked Sendable { var data = Data() }
        let errData = Collected()
        let errDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData.data = errPipe.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        var outData = Data()
        var pending = Data()
        let reader = outPipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            outData.append(chunk)
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                onStdoutLine(String(decoding: pending[pending.startIndex ..< newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex ... newline)
            }
        }
        errDone.wait()
        process.waitUntilExit()
        return HostCommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData.data, as: UTF8.self))
    }
}
