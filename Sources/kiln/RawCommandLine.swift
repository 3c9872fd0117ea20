#if canImport(Glibc)
import Glibc
#endif

/// Kiln's own argv as the bytes the host passed. Swift's `CommandLine.arguments` (and so the
/// argument parser) repair bytes that are not UTF-8 to U+FFFD; the guest must get them as
/// they are, as it would from the kernel.
struct RawCommandLine {
    private let raw: [[UInt8]]
    /// How many of the last entries are the guest's command (program and arguments).
    private let captured: Int

    init(captured: Int) {
        raw = (0..<Int(CommandLine.argc)).map { index in
            CommandLine.unsafeArgv[index].map { Self.bytes($0) } ?? []
        }
        self.captured = min(captured, raw.count)
    }

    /// The bytes of a C string (without its NUL).
    static func bytes(_ string: UnsafePointer<CChar>) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: string, count: strlen(string)))
    }

    /// The guest command: the last `captured` raw entries, which the parser saw as `decoded`.
    /// Should an entry not decode to what the parser saw, the parser's text is used.
    func command(decoded: [String]) -> [[UInt8]] {
        let tail = raw.suffix(captured)
        return zip(tail, decoded).map { bytes, text in
            String(decoding: bytes, as: UTF8.self) == text ? bytes : Array(text.utf8)
        }
    }

    /// The raw value of the `--argv0` option (before the guest command), which the parser
    /// saw as `decoded`.
    func argv0(decoded: String) -> [UInt8] {
        let options = raw.dropFirst().prefix(raw.count - 1 - captured)
        let flag = Array("--argv0".utf8), joined = Array("--argv0=".utf8)
        var candidate: [UInt8]?
        var previous: [UInt8] = []
        for entry in options {
            if previous == flag { candidate = entry }
            if entry.starts(with: joined) { candidate = Array(entry.dropFirst(joined.count)) }
            previous = entry
        }
        guard let candidate, String(decoding: candidate, as: UTF8.self) == decoded else { return Array(decoded.utf8) }
        return candidate
    }
}
