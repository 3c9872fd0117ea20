/// A hash table from a guest pc (any key but `UInt64.max`) to an `Int32`, for the tables the
/// dispatcher consults once per translated or chained block. Open addressing with linear
/// probing and the key beside its value: a lookup in a table of tens of thousands of blocks
/// costs one multiplication and usually one cache miss, where `Dictionary` hashes with
/// SipHash and reads its occupancy bitmap, key and value from three separate arrays.
struct PCTable {
    private struct Slot {
        /// `UInt64.max` while empty.
        var key: UInt64
        var value: Int32
    }

    private static let empty = UInt64.max
    private var slots = [Slot](repeating: Slot(key: PCTable.empty, value: 0), count: 16)
    /// 64 - log2(slots.count): the home slot is the top bits of the multiplied key.
    private var shift: UInt64 = 60
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Fibonacci hashing: multiplying by 2^64 / golden ratio spreads keys that differ only in
    /// low or aligned bits (pcs are multiples of 4) over the top bits.
    @inline(__always) private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Index of `key`'s slot, or of the empty slot where it would go.
    @inline(__always) private func find(_ key: UInt64) -> Int {
        let mask = slots.count - 1
        var i = home(key)
        while slots[i].key != key && slots[i].key != Self.empty { i = (i + 1) & mask }
        return i
    }

    subscript(key: UInt64) -> Int32? {
        guard key != Self.empty else { return nil }
        let i = find(key)
        return slots[i].key == key ? slots[i].value : nil
    }

    /// Sets the value of `key` (not `UInt64.max`), adding it if absent.
    mutating func set(_ key: UInt64, _ value: Int32) {
        precondition(key != Self.empty, "UInt64.max is the empty key")
        if (count + 1) * 2 > slots.count { resize(slots.count * 2) }
        let i = find(key)
        if slots[i].key != key { count += 1 }
        slots[i] = Slot(key: key, value: value)
    }

    /// Removes `key`, returning its value. The entries after it in its probe run move back
    /// into the hole (no tombstones, so lookups never slow down after removals).
    @discardableResult
    mutating func removeValue(forKey key: UInt64) -> Int32? {
        guard key != Self.empty else { return nil }
        var hole = find(key)
        guard slots[hole].key == key else { return nil }
        let value = slots[hole].value
        let mask = slots.count - 1
        var j = hole
        while true {
            j = (j + 1) & mask
            let k = slots[j].key
            if k == Self.empty { break }
            // The entry at j may move into the hole unless its home lies cyclically in (hole, j].
            let h = home(k)
            let staysPut = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !staysPut {
                slots[hole] = slots[j]
                hole = j
            }
        }
        slots[hole].key = Self.empty
        count -= 1
        return value
    }

    mutating func removeAll() {
        self = PCTable()
    }

    private mutating func resize(_ capacity: Int) {
        let old = slots
        slots = [Slot](repeating: Slot(key: Self.empty, value: 0), count: capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        for slot in old where slot.key != Self.empty { slots[find(slot.key)] = slot }
    }
}
