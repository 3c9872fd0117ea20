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
    public static let flags: Set<String> = flags(cpuinfo: readCPUInfo())

    /// The words of the first `flags` line of /proc/cpuinfo text.
    public static func flags(cpuinfo: String) -> Set<String> {
        guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
    }

    /// The start of /proc/cpuinfo, up to the first processor's flags line.
    private static func readCPUInfo() -> String {
        let fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        // /proc files report size 0, so read until EOF rather than by fstat size.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
            // The first processor's block is enough.
            if bytes.count > 8192, String(decoding: bytes, as: UTF8.self).contains("\nflags") { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
