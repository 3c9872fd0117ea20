#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The time one `kiln run` spent translating and loading caches, read from the JSON report
/// that `--cache-report=json` prints to stderr at exit.
public struct CacheReportTimings: Codable, Equatable, Sendable {
    public var translateSeconds: Double
    public var loadSeconds: Double?

    public init(translateSeconds: Double, loadSeconds: Double?) {
        self.translateSeconds = translateSeconds; self.loadSeconds = loadSeconds
    }

    /// The totals of the last JSON object in `stderr` that has them (the guest's own output
    /// comes before Kiln's report), or nil when there is no report with a translation time.
    /// Load time is loading plus attaching.
    public static func parse(stderr: String) -> CacheReportTimings? {
        guard let report = lastJSONObject(in: stderr, having: "totals"), let totals = report["totals"]?.object,
              let translate = seconds(in: totals, matching: "translat") else { return nil }
        let load = [seconds(in: totals, matching: "load"), seconds(in: totals, matching: "attach")].compactMap { $0 }
        return CacheReportTimings(translateSeconds: translate, loadSeconds: load.isEmpty ? nil : load.reduce(0, +))
    }

    /// A duration under a key containing `word` (any case), its unit taken from the key's
    /// suffix: `translatingMs`, `translate_ns`, `load_seconds`.
    static func seconds(in object: [String: JSONValue], matching word: String) -> Double? {
        for key in object.keys.sorted() where key.lowercased().contains(word) {
            if let value = object[key]?.number, let scale = unitScale(of: key) { return value * scale }
        }
        return nil
    }

    private static func unitScale(of key: String) -> Double? {
        let units: [(String, Double)] = [("Ns", 1e-9), ("_ns", 1e-9), ("Us", 1e-6), ("_us", 1e-6), ("Ms", 1e-3), ("_ms", 1e-3),
                                         ("Seconds", 1.0), ("_seconds", 1.0), ("_s", 1.0)]
        return units.first { key.hasSuffix($0.0) }?.1
    }

    /// The last `{...}` in `text` that parses as a JSON object with the key `key`.
    static func lastJSONObject(in text: String, having key: String) -> [String: JSONValue]? {
        let bytes = Array(text.utf8)
        for start in bytes.indices.reversed() where bytes[start] == UInt8(ascii: "{") {
            guard let end = matchingBrace(bytes, from: start) else { continue }
            if let object = (try? JSONValue(parsing: Data(bytes[start ... end])))?.object, object[key] != nil {
                return object
            }
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
