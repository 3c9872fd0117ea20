#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended, what it wrote and what it cost.
public struct ChildResult: Sendable {
    /// Exit status, or the signal number when `signaled`.
    public var status: Int32
    /// True when the child died of signal `status`.
    public var signaled: Bool
    public var stdout: Data
    public var stderr: Data
    /// Wall-clock time from spawn to reap, on the monotonic clock.
    public var wallSeconds: Double
    /// CPU time the child (and its descendants it waited for) spent in user and system mode.
    public var userSeconds: Double
    public var systemSeconds: Double

    /// "exit 3" or "signal 11", as reports print it.
    public var outcome: String { signaled ? "signal \(status)" : "exit \(status)" }
}

/// A failure to start a child process.
public struct ChildProcessError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs one command to completion with `posix_spawn`. Its stdin, stdout and stderr are
/// unlinked temporary files rather than pipes: no threads are needed to keep a chatty child
/// from blocking, and timing measures the child, not the parent's reading of its output.
/// Only a caller that watches stdout as it comes gets a pipe for it.
public struct ChildProcess: Sendable {
    public var executable: String
    public var arguments: [String]
    /// The complete environment; nil inherits Kiln's.
    public var environment: [String: String]?
    /// The child's working directory; nil (the default) is Kiln's, so every run of a
    /// comparison shares it.
    public var workingDirectory: String?

    public init(executable: String, arguments: [String], environment: [String: String]? = nil, workingDirectory: String? = nil) {
        self.executable = executable; self.arguments = arguments; self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Runs the command feeding it `stdin` and returns how it ended. An executable without a
    /// slash is searched on PATH.
    public func run(stdin: Data = Data()) throws -> ChildResult { try run(stdin: stdin, streaming: nil) }

    /// Runs the command with its stdout through a pipe: `onStdout` sees it in pieces as it is
    /// written (the result still has all of it).
    public func run(stdin: Data = Data(), onStdout: (ArraySlice<UInt8>) -> Void) throws -> ChildResult {
        try withoutActuallyEscaping(onStdout) { try run(stdin: stdin, streaming: $0) }
    }

    private func run(stdin: Data, streaming onStdout: ((ArraySlice<UInt8>) -> Void)?) throws -> ChildResult {
        let input = try ScratchFile()
        let output = try ScratchFile()
        let errors = try ScratchFile()
        try input.write(stdin)
        let pipe = try onStdout.map { _ in try OutputPipe() }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input.descriptor, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe?.writeEnd ?? output.descriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, errors.descriptor, 2)
        if let workingDirectory {
            guard let addchdir = spawnChangeDirectory else {
                throw ChildProcessError("cannot run \(executable) in \(workingDirectory): posix_spawn_file_actions_addchdir_np is missing")
            }
            _ = addchdir(&actions, workingDirectory)
        }

        let argv = [executable] + arguments
        let envp: [String] = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }.sorted()
        var pid: pid_t = 0
        let start = monotonicSeconds()
        let spawnError = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in
                posix_spawnp(&pid, executable, &actions, nil, cArgv, cEnvp)
            }
        }
        guard spawnError == 0 else {
            throw ChildProcessError("cannot run \(executable): \(String(cString: strerror(spawnError)))")
        }
        var streamed: [UInt8] = []
        if let pipe, let onStdout {
            pipe.closeWriteEnd()
            Descriptor.readChunks(pipe.readEnd) { chunk in
                streamed += chunk
                onStdout(chunk)
            }
        }
        var waitStatus: Int32 = 0
        var usage = rusage()
        while wait4(pid, &waitStatus, 0, &usage) < 0 {
            guard errno == EINTR else { throw ChildProcessError("wait for \(executable): \(String(cString: strerror(errno)))") }
        }
        let wall = monotonicSeconds() - start
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS, which Swift does not import as macros.
        let signal = waitStatus & 0x7f
        let signaled = signal != 0 && signal != 0x7f
        return ChildResult(
            status: signaled ? signal : (waitStatus >> 8) & 0xff, signaled: signaled,
            stdout: pipe == nil ? try output.contents() : Data(streamed), stderr: try errors.contents(), wallSeconds: wall,
            userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime))
    }
}

private typealias SpawnChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

/// glibc's posix_spawn_file_actions_addchdir_np (2.29), which the Glibc module does not
/// declare (it is a GNU extension).
private let spawnChangeDirectory = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: SpawnChangeDirectory.self) }

/// Seconds on CLOCK_MONOTONIC.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

private func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }

/// Calls `body` with a NULL-terminated C array of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers + [nil])
}

/// An unlinked temporary file, closed on deinit.
private final class ScratchFile {
    let descriptor: Int32

    init() throws {
        var template = Array(temporaryPath("kiln-child.XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ChildProcessError("cannot create a temporary file: \(String(cString: strerror(errno)))") }
        // Only the child's 0, 1 and 2 (dup2 clears the flag) may carry it into the child.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        descriptor = fd
    }

    deinit { close(descriptor) }

    func write(_ data: Data) throws {
        var done = 0
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            while done < buffer.count {
                let n = pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(done))
                guard n > 0 else { throw ChildProcessError("cannot write a temporary file: \(String(cString: strerror(errno)))") }
                done += n
            }
        }
    }

    /// Everything the child wrote (the shared file offset moved; reading uses absolute offsets).
    func contents() throws -> Data {
        var result = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            guard n >= 0 else { throw ChildProcessError("cannot read a temporary file: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            result.append(contentsOf: chunk[0 ..< n])
            offset += off_t(n)
        }
        return result
    }
}

/// A pipe for a child's stdout: the child gets the write end, the parent reads until end of file.
private final class OutputPipe {
    let readEnd: Int32
    private(set) var writeEnd: Int32

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw ChildProcessError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        // Only the child's descriptor 1 (dup2 clears the flag) may carry it into the child.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        readEnd = ends[0]; writeEnd = ends[1]
    }

    deinit {
        close(readEnd)
        closeWriteEnd()
    }

    /// After the spawn, so the reader sees end of file when the child (and any child of its
    /// that kept stdout) exits.
    func closeWriteEnd() {
        if writeEnd >= 0 { close(writeEnd) }
        writeEnd = -1
    }
}

/// `name` inside the temporary directory ($TMPDIR, else /tmp).
public func temporaryPath(_ name: String) -> String {
    var directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
    return directory + "/" + name
}
