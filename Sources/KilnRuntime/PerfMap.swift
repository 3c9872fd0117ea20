#if canImport(Glibc)
import Glibc
#endif
import KilnCache
import KilnHost

/// `KILN_PERF_MAP=1`: every block the JIT installs is appended to `/tmp/perf-<pid>.map` in
/// perf's JIT map format ("START SIZE name", hex), named by its guest pc and, for file-backed
/// code, the guest path and file offset, and the guest length, so that samples in translated
/// code can be attributed to guest blocks (scripts/perf-jit-blocks.py). `KILN_PERF_MAP=code`
/// also appends "START HEXBYTES" per block to /tmp/perf-<pid>.code, to disassemble hot blocks
/// afterwards. Read once per dispatcher; nothing is done when unset.
final class PerfMap: @unchecked Sendable {
    /// The process's map writer, or nil when `KILN_PERF_MAP` is neither 1 nor code.
    static let shared: PerfMap? = {
        guard let value = getenv("KILN_PERF_MAP") else { return nil }
        switch String(cString: value) {
        case "1": return PerfMap(withCode: false)
        case "code": return PerfMap(withCode: true)
        default: return nil
        }
    }()

    private let lock = HostMutex()
    private let withCode: Bool
    private var fd: Int32 = -1
    private var codeFD: Int32 = -1
    /// The process the file belongs to: a forked child opens its own.
    private var owner: pid_t = 0

    private init(withCode: Bool) { self.withCode = withCode }

    private static func open(_ path: String) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        return fd < 0 ? fd : CacheFile.moveOutOfGuestRange(fd)
    }

    /// Appends one line for `size` bytes of code at `code` (one write, so lines of concurrent
    /// threads never interleave).
    func record(code: UnsafeRawPointer, size: Int, name: String) {
        lock.lock()
        defer { lock.unlock() }
        let pid = getpid()
        if owner != pid {
            if fd >= 0 { close(fd) }
            if codeFD >= 0 { close(codeFD) }
            // Out of the guest's descriptor range, as Kiln's other files: profiling must not
            // change what the guest's open() returns.
            fd = Self.open("/tmp/perf-\(pid).map")
            codeFD = withCode ? Self.open("/tmp/perf-\(pid).code") : -1
            owner = pid
        }
        let start = String(UInt(bitPattern: code), radix: 16)
        if fd >= 0 { Descriptor.writeAll(fd, "\(start) \(String(size, radix: 16)) \(name)\n") }
        if codeFD >= 0 {
            let digits: [UInt8] = Array("0123456789abcdef".utf8)
            var line = [UInt8]()
            line.reserveCapacity(start.utf8.count + 2 + 2 * size)
            line.append(contentsOf: start.utf8)
            line.append(0x20)
            for byte in UnsafeRawBufferPointer(start: code, count: size) {
                line.append(digits[Int(byte >> 4)])
                line.append(digits[Int(byte & 15)])
            }
            line.append(0x0A)
            Descriptor.writeAll(codeFD, String(decoding: line, as: UTF8.self))
        }
    }
}
