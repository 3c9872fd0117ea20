/// The result of decoding one instruction word: the matching table line, or none.
public struct A64Decoded: Sendable, Equatable {
    /// Index into `A64Decoder.table`, or -1 for an unallocated encoding.
    public var index: Int32
    public var word: UInt32
    @inlinable public var isAllocated: Bool { index >= 0 }
}

/// Table-driven A64 decoder. Lines are bucketed by 17 discriminating bits (31...21 and
/// 15...10); within a bucket the most specific line (most fixed bits) is tried first, so
/// decoding is a table lookup and a short scan, with no allocation.
public final class A64Decoder: @unchecked Sendable {
    public static let shared = A64Decoder(table: A64Table.all)

    public let table: [A64Encoding]
    /// Bucket `k`'s candidates are `candidates[bucketStart[k] ..< bucketStart[k + 1]]`.
    private let bucketStart: UnsafeMutableBufferPointer<UInt32>
    private let candidates: UnsafeMutableBufferPointer<UInt16>
    private let masks: UnsafeMutableBufferPointer<UInt32>
    private let values: UnsafeMutableBufferPointer<UInt32>

    @inline(__always) static func key(_ word: UInt32) -> Int {
        Int((word >> 21) << 6 | (word >> 10 & 63))
    }

    /// Builds the buckets in two passes over flat buffers (count, then place), with no
    /// per-bucket arrays: this runs at the start of every `kiln run`, so it must cost little.
    public init(table: [A64Encoding]) {
        self.table = table
        let bucketTotal = 1 << 17
        let order = table.indices.sorted {
            let a = table[$0].mask.nonzeroBitCount, b = table[$1].mask.nonzeroBitCount
            return a != b ? a > b : $0 < $1
        }
        // Calls `body` with every key compatible with line `i`'s fixed bits (the subsets of
        // its free key bits).
        func forEachKey(of i: Int, _ body: (Int) -> Void) {
            let e = table[i]
            let keyMask = A64Decoder.key(e.mask), keyValue = A64Decoder.key(e.value)
            let free = ~keyMask & (bucketTotal - 1)
            var sub = free
            while true {
                body(keyValue | sub)
                if sub == 0 { break }
                sub = (sub - 1) & free
            }
        }
        let bucketStart = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: bucketTotal + 1)
        bucketStart.initialize(repeating: 0)
        for i in order { forEachKey(of: i) { bucketStart[$0 + 1] += 1 } }
        for k in 0 ..< bucketTotal { bucketStart[k + 1] += bucketStart[k] }
        let total = Int(bucketStart[bucketTotal])
        let candidates = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: max(total, 1))
        // Placing in `order` keeps each bucket most-specific first; `next` walks each bucket.
        let next = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: bucketTotal)
        defer { next.deallocate() }
        _ = next.initialize(from: bucketStart[0 ..< bucketTotal])
        for i in order {
            forEachKey(of: i) { k in
                candidates[Int(next[k])] = UInt16(i)
                next[k] += 1
            }
        }
        self.bucketStart = bucketStart
        self.candidates = candidates
        masks = .allocate(capacity: max(table.count, 1))
        values = .allocate(capacity: max(table.count, 1))
        for (i, e) in table.enumerated() { masks[i] = e.mask; values[i] = e.value }
    }

    deinit {
        bucketStart.deallocate(); candidates.deallocate()
        masks.deallocate(); values.deallocate()
    }

    /// Decodes one instruction word.
    @inline(__always)
    public func decode(_ word: UInt32) -> A64Decoded {
        let k = A64Decoder.key(word)
        let start = Int(bucketStart[k]), end = Int(bucketStart[k + 1])
        var i = start
        while i < end {
            let c = Int(candidates[i])
            if word & masks[c] == values[c] { return A64Decoded(index: Int32(c), word: word) }
            i += 1
        }
        return A64Decoded(index: -1, word: word)
    }

    /// The table line of a decoded instruction.
    @inlinable public func encoding(_ d: A64Decoded) -> A64Encoding? {
        d.index >= 0 ? table[Int(d.index)] : nil
    }
}
