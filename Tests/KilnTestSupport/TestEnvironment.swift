import Foundation

/// Where tests find the things they need from outside the repository: the arm64 rootfs,
/// the committed guest fixtures and host tools such as qemu-aarch64.
///
/// Tests that need the rootfs use `.enabled(if: TestEnvironment.rootfsTestsEnabled)`: they are
/// skipped on a developer machine without a rootfs, but CI sets `KILN_REQUIRE_ROOTFS=1`, which
/// enables them unconditionally so that a missing rootfs fails instead of silently skipping.
public enum TestEnvironment {
    /// The repository root (the directory holding Package.swift).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url
            }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// True when CI demands that rootfs-dependent tests run (`KILN_REQUIRE_ROOTFS=1`).
    public static var rootfsRequired: Bool {
        ProcessInfo.processInfo.environment["KILN_REQUIRE_ROOTFS"] == "1"
    }

    /// The rootfs directory: `$KILN_ROOTFS`, else the XDG default that `kiln rootfs fetch` uses.
    public static var rootfsPath: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["KILN_ROOTFS"], !dir.isEmpty { return dir }
        let dataHome = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() + "/.local/share")
        return dataHome + "/kiln/rootfs/debian-bookworm-arm64"
    }

    /// Whether a completed rootfs (manifest present, no in-progress marker) exists.
    public static var rootfsAvailable: Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: rootfsPath + "/.kiln-rootfs.json")
            && !fm.fileExists(atPath: rootfsPath + "/.kiln-rootfs.incomplete")
    }

    /// Enables a rootfs test when the rootfs exists, or when CI requires it (so it fails loudly).
    public static var rootfsTestsEnabled: Bool { rootfsAvailable || rootfsRequired }

    /// Absolute path of an executable found on `PATH`, or nil.
    public static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The committed guest fixture binaries (built by `fixtures/build.sh`).
    public static var fixturesBinDirectory: URL {
        repositoryRoot.appendingPathComponent("fixtures/bin")
    }
}

/// The result of running a child process to completion.
public struct ProcessResult: Sendable {
    /// Exit status, or the signal number when `signaled`.
    public var status: Int32
    /// True when the process was killed by signal `status`.
    public var signaled: Bool
    public var stdout: Data
    public var stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs `executable` with `arguments`, feeding `stdin`, and collects its output and how it ended.
public func runProcess(
    _ executable: String, _ arguments: [String], stdin: Data = Data(),
    environment: [String: String]? = nil, currentDirectory: String? = nil
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe
    // A child inherits the spawning thread's signal mask, and the test runner's worker threads
    // block most signals: a guest waiting for SIGALRM (CPython's test_signal) would wait
    // forever. The child starts with none blocked, as from a shell.
    var none = sigset_t(), saved = sigset_t()
    sigemptyset(&none)
    pthread_sigmask(SIG_SETMASK, &none, &saved)
    defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
    try process.run()
    // stdin is written and stderr drained on other threads, so a child that fills one pipe
    // while waiting on another never deadlocks.
    final class Collected: @unchecked Sendable { var data = Data() }
    let errData = Collected()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { errData.data = errPipe.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) {
        inPipe.fileHandleForWriting.write(stdin)
        try? inPipe.fileHandleForWriting.close()
    }
    let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                         stdout: outData, stderr: errData.data)
}
