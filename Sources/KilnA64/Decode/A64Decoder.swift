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
    /// Per bucket: start in `candidates` (upper 32 bits would never be needed) and count.
    private let bucketStart: UnsafeMutableBufferPointer<UInt32>
    private let bucketCount: UnsafeMutableBufferPointer<UInt16>
    private let candidates: UnsafeMutableBufferPointer<UInt16>
    private let masks: UnsafeMutableBufferPointer<UInt32>
    private let values: UnsafeMutableBufferPointer<UInt32>

    @inline(__always) static func key(_ word: UInt32) -> Int {
        Int((word >> 21) << 6 | (word >> 10 & 63))
    }

    public init(table: [A64Encoding]) {
        self.table = table
        let bucketTotal = 1 << 17
        var lists = [[UInt16]](repeating: [], count: bucketTotal)
        let order = table.indices.sorted {
            let a = table[$0].mask.nonzeroBitCount, b = table[$1].mask.nonzeroBitCount
            return a != b ? a > b : $0 < $1
        }
        for i in order {
            let e = table[i]
            let keyMask = A64Decoder.key(e.mask), keyValue = A64Decoder.key(e.value)
            let free = ~keyMask & (bucketTotal - 1)
            // Enumerate every key compatible with the line's fixed bits (subsets of `free`).
            var sub = free
            while true {
                lists[keyValue | sub].append(UInt16(i))
                if sub == 0 { break }
                sub = (sub - 1) & free
            }
        }
        let total = lists.reduce(0) { $0 + $1.count }
        bucketStart = .allocate(capacity: bucketTotal)
        bucketCount = .allocate(capacity: bucketTotal)
        candidates = .allocate(capacity: max(total, 1))
        var position = 0
        for (k, list) in lists.enumerated() {
            bucketStart[k] = UInt32(position)
            bucketCount[k] = UInt16(list.count)
            for c in list { candidates[position] = c; position += 1 }
        }
        masks = .allocate(capacity: max(table.count, 1))
        values = .allocate(capacity: max(table.count, 1))
        for (i, e) in table.enumerated() { masks[i] = e.mask; values[i] = e.value }
    }

    deinit {
        bucketStart.deallocate(); bucketCount.deallocate(); candidates.deallocate()
        masks.deallocate(); values.deallocate()
    }

    /// Decodes one instruction word.
    @inline(__always)
    public func decode(_ word: UInt32) -> A64Decoded {
        let k = A64Decoder.key(word)
        let start = Int(bucketStart[k]), end = start + Int(bucketCount[k])
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
