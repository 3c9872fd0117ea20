#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The running host CPU as Linux describes it.
public enum HostCPU {
    /// The words of the first `flags` line of /proc/cpuinfo (empty when it cannot be read).
    /// Read once per process: the backend's feature set and the cache key both come from it,
    /// and each read costs 40-100 us of kernel time on every `kiln run`.
    public static let flags: Set<String> = readCPUInfo().withUnsafeBytes { flags(bytes: $0) }

    /// The words of the first `flags` line of /proc/cpuinfo text.
    public static func flags(cpuinfo: String) -> Set<String> {
        var text = cpuinfo
        return text.withUTF8 { flags(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The words of the first line that starts with `flags`, split at spaces and tabs after
    /// its colon. Bytes, not String: splitting a whole cpuinfo into Characters (grapheme
    /// breaking) cost 1.5M instructions at every start-up.
    static func flags(bytes: UnsafeRawBufferPointer) -> Set<String> {
        guard let line = firstFlagsLine(bytes), let colon = line.first(where: { bytes[$0] == UInt8(ascii: ":") }) else { return [] }
        var words = Set<String>()
        var start = colon + 1
        while start < line.endIndex {
            while start < line.endIndex, isBlank(bytes[start]) { start += 1 }
            var end = start
            while end < line.endIndex, !isBlank(bytes[end]) { end += 1 }
            if end > start { words.insert(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)) }
            start = end
        }
        return words
    }

    @inline(__always) private static func isBlank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

    /// The index range (without its newline) of the first complete-or-final line of `bytes`
    /// starting with `flags`.
    private static func firstFlagsLine(_ bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        let prefix: [UInt8] = Array("flags".utf8)
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            if end - start >= prefix.count, prefix.indices.allSatisfy({ bytes[start + $0] == prefix[$0] }) { return start..<end }
            start = end + 1
        }
        return nil
    }

    /// The start of /proc/cpuinfo, up to the end of the first processor's flags line.
    private static func readCPUInfo() -> [UInt8] {
        let fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        // /proc files report size 0, so read until EOF rather than by fstat size. Small reads:
        // the kernel formats as many processors' blocks as a read has room for (each costs
        // tens of microseconds, with a cross-CPU call for its "cpu MHz"), and the first
        // processor's flags line ends within 2 KiB.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
            // The first processor's block is enough (a many-core host's file is long).
            let complete = bytes.withUnsafeBytes { all in
                firstFlagsLine(all).map { $0.upperBound < all.count } ?? false
            }
            if complete { break }
        }
        return bytes
    }
}
