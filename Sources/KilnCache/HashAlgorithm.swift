import Foundation

/// The hash widths `kiln cache hash` offers, named as xxhsum names them.
public enum HashAlgorithm: String, CaseIterable, Sendable {
    case xxh3_64 = "xxh3-64"
    case xxh128 = "xxh128"

    /// The digest of `bytes` as lowercase hex in canonical order.
    public func hexDigest(_ bytes: UnsafeRawBufferPointer) -> String {
        switch self {
        case .xxh3_64: return hex64(XXH3.hash64(bytes))
        case .xxh128: return XXH3.hash128(bytes).hex
        }
    }

    /// The digest of a byte array as lowercase hex in canonical order.
    public func hexDigest(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hexDigest($0) }
    }
}

/// One output line in the format xxhsum 0.8 prints: BSD style for XXH3-64
/// (`XXH3 (path) = digest`), GNU style for XXH128 (`digest  path`).
public func xxhsumLine(algorithm: HashAlgorithm, digest: String, path: String) -> String {
    switch algorithm {
    case .xxh3_64: return "XXH3 (\(path)) = \(digest)"
    case .xxh128: return "\(digest)  \(path)"
    }
}
