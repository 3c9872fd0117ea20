@testable import KilnRuntime
import KilnTestSupport
import Testing

struct PCTableTests {
    /// Random inserts, updates and removals (keys crowded into few home slots, so probe runs
    /// wrap and removals shift entries back) agree with a Dictionary at every step.
    @Test func agreesWithADictionary() {
        var table = PCTable()
        var reference: [UInt64: Int32] = [:]
        var rng = SplitMix64(seed: 5)
        for step in 0..<20000 {
            // 4-aligned pcs from a small range, plus some far apart.
            let key = rng.next() % 3 == 0 ? (rng.next() & 0xFFFF_FFFF_FFFC) : (rng.next() % 512) * 4
            switch rng.next() % 4 {
            case 0:
                #expect(table.removeValue(forKey: key) == reference.removeValue(forKey: key))
            default:
                let value = Int32(truncatingIfNeeded: step)
                table.set(key, value)
                reference[key] = value
            }
            #expect(table[key] == reference[key])
            #expect(table.count == reference.count)
        }
        for (key, value) in reference { #expect(table[key] == value) }
        #expect(table[.max] == nil)
        table.removeAll()
        #expect(table.isEmpty && table[0] == nil)
    }
}
