#if canImport(Glibc)
import Glibc
#endif

/// An errno value as an Error.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int32
    public var description: String { errnoDescription(code) }
}

// utimensat(2) special values (not exported by the Glibc module).
let utimeNow = (1 << 30) - 1
let utimeOmit = (1 << 30) - 2

/// strerror(3) text for an errno value.
func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

/// The parts of stat(2) that identify one version of a file's contents.
public struct FileStamp: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: UInt64
    public var mtimeNanoseconds: Int64
    public var ctimeNanoseconds: Int64

    public init(device: UInt64, inode: UInt64, size: UInt64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
    }

    public init(_ st: stat) {
        self.init(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: UInt64(st.st_size),
            mtimeNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
            ctimeNanoseconds: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }

    /// stat(2) of `path` (following symlinks), or the errno.
    public static func of(path: String) -> Result<FileStamp, Errno> {
        var st = stat()
        guard stat(path, &st) == 0 else { return .failure(Errno(code: errno)) }
        return .success(FileStamp(st))
    }
}

/// CLOCK_REALTIME in nanoseconds, the clock file timestamps use.
func realtimeNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Reads the whole of the open file `fd` from offset 0.
func readAll(_ fd: Int32) -> [UInt8]? {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    var offset: off_t = 0
    while true {
        let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { return result }
        result.append(contentsOf: chunk[0..<n])
        offset += off_t(n)
    }
}
