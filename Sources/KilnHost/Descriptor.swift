#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing whole byte strings on a file descriptor with read(2) and write(2):
/// FileHandle's readDataToEndOfFile and write without corelibs Foundation.
public enum Descriptor {
    /// Writes all of `bytes` to `fd`, retrying partial writes and interruptions. A failed
    /// write ends it quietly: the reader has gone, and the caller has nothing better to do.
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        var done = 0
        bytes.withUnsafeBytes { buffer in
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return }
                done += n
            }
        }
    }

    /// Writes `text` to standard error.
    public static func writeError(_ text: String) { writeAll(STDERR_FILENO, text.utf8) }

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
