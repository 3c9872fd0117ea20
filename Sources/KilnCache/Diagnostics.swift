#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Counts what happened to caches in one run (or one `kiln cache` command): files attached
/// or rejected with their reasons, entries served, missed or rejected. Thread-safe.
public final class CacheDiagnostics: @unchecked Sendable {
    /// One rejection, with the file it concerned.
    public struct Event: Codable, Equatable, Sendable {
        public var path: String
        public var reason: String
        public var detail: String
    }

    /// A consistent copy of the counters, as rendered.
    public struct Snapshot: Codable, Equatable, Sendable {
        public var filesAttached = 0
        public var filesRejected: [String: Int] = [:]
        public var entriesServed = 0
        public var entriesMissed = 0
        public var entriesRejected: [String: Int] = [:]
        /// The first `eventLimit` rejections in order.
        public var events: [Event] = []
    }

    /// Events beyond this many are counted but not listed.
    public static let eventLimit = 256

    private var snapshotValue = Snapshot()
    private let lock = Lock()

    public init() {}

    public var snapshot: Snapshot { lock.withLock { snapshotValue } }

    public func recordAttached(path: String) { lock.withLock { snapshotValue.filesAttached += 1 } }

    public func recordRejectedFile(path: String, _ rejection: CacheRejection) {
        lock.withLock {
            snapshotValue.filesRejected[rejection.reason.rawValue, default: 0] += 1
            appendEvent(path, rejection)
        }
    }

    public func recordRejectedEntry(path: String, _ rejection: CacheRejection) {
        lock.withLock {
            snapshotValue.entriesRejected[rejection.reason.rawValue, default: 0] += 1
            appendEvent(path, rejection)
        }
    }

    public func recordEntryServed() { lock.withLock { snapshotValue.entriesServed += 1 } }

    public func recordEntryMiss() { lock.withLock { snapshotValue.entriesMissed += 1 } }

    private func appendEvent(_ path: String, _ rejection: CacheRejection) {
        if snapshotValue.events.count < CacheDiagnostics.eventLimit {
            snapshotValue.events.append(Event(path: path, reason: rejection.reason.rawValue, detail: rejection.detail))
        }
    }

    /// Human-readable report; reasons appear in `CacheRejectionReason` order.
    public func renderText() -> String {
        let s = snapshot
        var lines = ["cache files attached: \(s.filesAttached)"]
        let rejectedFiles = s.filesRejected.values.reduce(0, +)
        lines.append("cache files rejected: \(rejectedFiles)")
        for reason in CacheRejectionReason.allCases { if let n = s.filesRejected[reason.rawValue] { lines.append("  \(reason.rawValue): \(n)") } }
        lines.append("entries served: \(s.entriesServed)")
        lines.append("entries missed: \(s.entriesMissed)")
        lines.append("entries rejected: \(s.entriesRejected.values.reduce(0, +))")
        for reason in CacheRejectionReason.allCases { if let n = s.entriesRejected[reason.rawValue] { lines.append("  \(reason.rawValue): \(n)") } }
        for event in s.events { lines.append("\(event.reason): \(event.detail)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The snapshot as JSON with sorted keys.
    public func renderJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(snapshot) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
