import Dispatch

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

extension HashAlgorithm {
    /// In-memory throughput in bytes per second: hashes one `size`-byte buffer of
    /// pseudo-random bytes repeatedly for about `seconds`, best of three rounds (as
    /// `xxhsum -b` measures).
    public func throughput(size: Int, seconds: Double = 1.0) -> Double {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let buffer = (0..<max(size, 1)).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        var best = 0.0
        var sink: UInt64 = 0
        buffer.withUnsafeBytes { bytes in
            for _ in 0..<3 {
                var iterations = 0
                let start = DispatchTime.now().uptimeNanoseconds
                var elapsed: UInt64 = 0
                repeat {
                    for _ in 0..<64 {
                        switch self {
                        case .xxh3_64: sink &+= XXH3.hash64(bytes, seed: sink & 1)
                        case .xxh128: sink &+= XXH3.hash128(bytes, seed: sink & 1).low64
                        }
                    }
                    iterations += 64
                    elapsed = DispatchTime.now().uptimeNanoseconds - start
                } while Double(elapsed) < seconds / 3 * 1e9
                best = max(best, Double(iterations) * Double(size) / (Double(elapsed) / 1e9))
            }
        }
        benchmarkSink = sink
        return best
    }
}

/// Where the benchmark stores its results so the optimiser cannot drop the hashing as unused.
nonisolated(unsafe) var benchmarkSink: UInt64 = 0
