#if canImport(Glibc)
import Glibc
#endif

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
    /// Bucket `k`'s candidates are `candidates[bucketStart[k + 1] ..< bucketStart[k + 2]]`
    /// (see `init` for why the offset of one).
    private let bucketStart: UnsafeMutableBufferPointer<UInt32>
    private let candidates: UnsafeMutableBufferPointer<UInt16>
    private let masks: UnsafeMutableBufferPointer<UInt32>
    private let values: UnsafeMutableBufferPointer<UInt32>

    @inline(__always) static func key(_ word: UInt32) -> Int {
        Int((word >> 21) << 6 | (word >> 10 & 63))
    }

    /// Builds the buckets with one counting sort over flat buffers: this runs at the start of
    /// every `kiln run` that translates, so it must cost little. The counts start zeroed from
    /// `calloc` (fresh pages, no clearing pass) and each bucket's end, decremented as the
    /// lines are placed, ends as its start, so no second cursor array is needed.
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
        let counts = calloc(bucketTotal + 2, MemoryLayout<UInt32>.stride)!.bindMemory(to: UInt32.self, capacity: bucketTotal + 2)
        let bucketStart = UnsafeMutableBufferPointer(start: counts, count: bucketTotal + 2)
        // Entry k + 1 counts bucket k's lines, then (prefix sums) holds the bucket's end.
        for i in order { forEachKey(of: i) { bucketStart[$0 + 1] += 1 } }
        for k in 0 ..< bucketTotal { bucketStart[k + 1] += bucketStart[k] }
        let total = Int(bucketStart[bucketTotal])
        bucketStart[bucketTotal + 1] = UInt32(total)
        let candidates = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: max(total, 1))
        // Placing from the back, least specific line first, leaves each bucket most specific
        // first and entry k + 1 at bucket k's start.
        for i in order.reversed() {
            forEachKey(of: i) { k in
                bucketStart[k + 1] -= 1
                candidates[Int(bucketStart[k + 1])] = UInt16(i)
            }
        }
        self.bucketStart = bucketStart
        self.candidates = candidates
        masks = .allocate(capacity: max(table.count, 1))
        values = .allocate(capacity: max(table.count, 1))
        for (i, e) in table.enumerated() { masks[i] = e.mask; values[i] = e.value }
    }

    deinit {
        free(bucketStart.baseAddress); candidates.deallocate()
        masks.deallocate(); values.deallocate()
    }

    /// Decodes one instruction word.
    @inline(__always)
    public func decode(_ word: UInt32) -> A64Decoded {
        let k = A64Decoder.key(word)
        let start = Int(bucketStart[k + 1]), end = Int(bucketStart[k + 2])
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
