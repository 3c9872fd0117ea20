/// Why a cache file, or one entry in it, was not used. Every failure to find, open, validate
/// or use a cache ends in exactly one of these, counted in `CacheDiagnostics`.
public enum CacheRejectionReason: String, CaseIterable, Codable, Sendable {
    /// No cache file for the key.
    case missing
    /// A Kiln cache of another format version.
    case formatVersion = "format-version"
    /// A valid file for another region or configuration.
    case keyMismatch = "key-mismatch"
    /// Built with host features this machine lacks.
    case hostFeatures = "host-features"
    /// Shorter than its header says.
    case truncated
    /// Bad magic, header hash, sizes or section table.
    case corruptHeader = "corrupt-header"
    /// A section's hash, size or contents (including an entry's records) are inconsistent.
    case corruptSection = "corrupt-section"
    /// The file or directory is owned by someone else or writable by others, or unreadable.
    case permissions
    /// An entry's guest bytes no longer match the bytes it was translated from.
    case guestBytesChanged = "guest-bytes-changed"
}

/// A rejection with the detail that explains it.
public struct CacheRejection: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: CacheRejectionReason
    public var detail: String

    public init(_ reason: CacheRejectionReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
