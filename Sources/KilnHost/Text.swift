#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension String {
    /// `format` filled in by C's printf: "%.1f", "%+.1f%%", "%5ld". The same text
    /// String(format:) gives for these conversions (it formats numbers with the C library too),
    /// without corelibs Foundation. Integers are Swift Ints: use the `l` length modifier.
    public init(printf format: String, _ arguments: CVarArg...) {
        var buffer = [CChar](repeating: 0, count: 128)
        let length = Int(withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) })
        if length >= buffer.count {
            buffer = [CChar](repeating: 0, count: length + 1)
            _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
        }
        self = String(decoding: buffer.prefix(Swift.max(length, 0)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension StringProtocol {
    /// Without the leading and trailing Unicode scalars for which `isTrimmed` holds: what
    /// `trimmingCharacters(in:)` gave for a CharacterSet.
    public func trimming(_ isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let scalars = String(self).unicodeScalars
        guard let first = scalars.firstIndex(where: { !isTrimmed($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isTrimmed($0) })!
        return String(scalars[first ... last])
    }

    /// Without leading and trailing tabs and spaces (Unicode space separators): what
    /// `trimmingCharacters(in: .whitespaces)` gave.
    public func trimmingWhitespace() -> String {
        trimming { $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }
    }

    /// The range of the last occurrence of `pattern`, searching backwards from the end.
    public func lastRange(of pattern: String) -> Range<Index>? {
        guard !pattern.isEmpty else { return nil }
        var start = endIndex
        while start > startIndex {
            start = index(before: start)
            if self[start...].hasPrefix(pattern) { return start ..< index(start, offsetBy: pattern.count) }
        }
        return nil
    }
}
