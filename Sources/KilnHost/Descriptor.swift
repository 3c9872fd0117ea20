#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing whole byte strings on a file descriptor with read(2) and write(2):
/// FileHandle's readDataToEndOfFile and write without corelibs Foundation.
public enum Descriptor {
    /// Writes all of `bytes` to `fd`, retrying partial writes and interruptions; the errno of
    /// a failed write, or nil. The one write loop of Kiln's own files and diagnostics.
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0, errno == EINTR { continue }
            if n < 0 { return errno }
            if n == 0 { return EIO }
            done += n
        }
        return nil
    }

    /// Writes all of `bytes` to `fd`. A failed write ends it quietly: the reader has gone,
    /// and the caller (a diagnostic) has nothing better to do.
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) {
        _ = Array(bytes).withUnsafeBytes { write(fd, $0) }
    }

    /// Writes all of `text` to `fd`, quietly as `writeAll(_:_:)` with bytes.
    public static func writeAll(_ fd: Int32, _ text: String) { writeAll(fd, text.utf8) }

    /// Writes `text` to standard error.
    public static func writeError(_ text: String) { writeAll(STDERR_FILENO, text) }

    /// Everything `fd` yields until end of file (or an error).
    public static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        readChunks(fd) { result += $0 }
        return result
    }

    /// Calls `body` with each piece read from `fd` as it arrives, until end of file or an
    /// error: returns 0 or the error's errno.
    @discardableResult
    public static func readChunks(_ fd: Int32, size: Int = 1 << 16, _ body: (ArraySlice<UInt8>) -> Void) -> Int32 {
        var chunk = [UInt8](repeating: 0, count: size)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? 0 : errno }
            body(chunk[0 ..< n])
        }
    }
}

/// write(2), named apart from `Descriptor.write`, which would shadow it inside the enum.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
