#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host process's environment, read from `environ` on bytes. Foundation's
/// `ProcessInfo.environment` splits every variable on Characters and builds its dictionary
/// on each call: two calls cost 1.1M instructions, a sixth of `kiln run`'s own start-up.
public enum HostEnvironment {
    /// Every variable as a dictionary; where a name repeats, the first wins, as with getenv.
    public static func all() -> [String: String] {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let length = strlen(pointer)
            pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                let buffer = UnsafeBufferPointer(start: bytes, count: length)
                guard let equals = buffer.firstIndex(of: UInt8(ascii: "=")) else { return }
                let name = String(decoding: buffer[..<equals], as: UTF8.self)
                if variables[name] == nil {
                    variables[name] = String(decoding: buffer[(equals + 1)...], as: UTF8.self)
                }
            }
            entry += 1
        }
        return variables
    }
}
