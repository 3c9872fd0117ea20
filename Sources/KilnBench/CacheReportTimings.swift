import Foundation

/// The time one `kiln run` spent translating and loading caches, read from the JSON report
/// that `--cache-report=json` prints to stderr at exit.
public struct CacheReportTimings: Codable, Equatable, Sendable {
    public var translateSeconds: Double
    public var loadSeconds: Double?

    public init(translateSeconds: Double, loadSeconds: Double?) {
        self.translateSeconds = translateSeconds; self.loadSeconds = loadSeconds
    }

    /// The totals of the last JSON object in `stderr` (the guest's own output comes before
    /// Kiln's report), or nil when there is no report with a translation time.
    public static func parse(stderr: String) -> CacheReportTimings? {
        guard let report = lastJSONObject(in: stderr) else { return nil }
        let totals = (report["totals"] as? [String: Any]) ?? report
        guard let translate = seconds(in: totals, matching: "translat") else { return nil }
        return CacheReportTimings(translateSeconds: translate, loadSeconds: seconds(in: totals, matching: "load") ?? seconds(in: totals, matching: "attach"))
    }

    /// A duration under a key containing `word`, its unit taken from the key's suffix
    /// (`_ns`, `_us`, `_ms`, `_s`, `_seconds`), or from a nested object with such keys.
    static func seconds(in object: [String: Any], matching word: String) -> Double? {
        for key in object.keys.sorted() where key.lowercased().contains(word) {
            if let value = object[key] as? NSNumber, let scale = unitScale(of: key) { return value.doubleValue * scale }
            if let nested = object[key] as? [String: Any] {
                for (inner, value) in nested.sorted(by: { $0.key < $1.key }) {
                    if let number = value as? NSNumber, let scale = unitScale(of: inner) { return number.doubleValue * scale }
                }
            }
        }
        return nil
    }

    private static func unitScale(of key: String) -> Double? {
        let key = key.lowercased()
        for (suffix, scale) in [("_ns", 1e-9), ("_us", 1e-6), ("_ms", 1e-3), ("_seconds", 1.0), ("_s", 1.0), ("seconds", 1.0)] where key.hasSuffix(suffix) {
            return scale
        }
        return nil
    }

    /// The last `{...}` in `text` that parses as a JSON object, starting at a line start.
    static func lastJSONObject(in text: String) -> [String: Any]? {
        let bytes = Array(text.utf8)
        var starts: [Int] = []
        for i in bytes.indices where bytes[i] == UInt8(ascii: "{") && (i == 0 || bytes[i - 1] == UInt8(ascii: "\n")) {
            starts.append(i)
        }
        for start in starts.reversed() {
            guard let end = matchingBrace(bytes, from: start) else { continue }
            let data = Data(bytes[start ... end])
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] { return object }
        }
        return nil
    }

    /// Index of the brace closing the one at `start`, skipping strings.
    private static func matchingBrace(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0, inString = false, escaped = false
        for i in start ..< bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return i }
            default: break
            }
        }
        return nil
    }
}
