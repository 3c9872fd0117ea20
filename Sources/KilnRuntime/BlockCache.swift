/// Translated blocks by guest pc, for both execution tiers, with a direct-mapped cache in front
/// of the dictionary (on the dispatch path, hashing dominates a dictionary hit) and an index of
/// the guest pages each block's bytes lie on, so that invalidating a range finds exactly the
/// blocks overlapping it.
struct BlockCache<Block> {
    static var recentCount: Int { 4096 }
    static var pageShift: UInt64 { 12 }

    /// Every block, by guest pc, with the number of guest bytes it covers.
    private(set) var blocks: [UInt64: (block: Block, length: UInt64)] = [:]
    /// Guest page number -> pcs of the blocks whose bytes touch that page.
    private var pages: [UInt64: [UInt64]] = [:]
    private var recentPCs = [UInt64](repeating: .max, count: BlockCache.recentCount)
    private var recentBlocks = [Block?](repeating: nil, count: BlockCache.recentCount)

    var count: Int { blocks.count }
    var isEmpty: Bool { blocks.isEmpty }

    /// The block at `pc`, or nil when it has not been translated.
    @inline(__always) mutating func lookup(_ pc: UInt64) -> Block? {
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        if recentPCs[slot] == pc, let recent = recentBlocks[slot] { return recent }
        guard let entry = blocks[pc] else { return nil }
        recentPCs[slot] = pc
        recentBlocks[slot] = entry.block
        return entry.block
    }

    /// The block at `pc` without touching the direct-mapped cache.
    subscript(pc: UInt64) -> Block? { blocks[pc]?.block }

    /// Keeps `block` in the direct-mapped cache only. For blocks another table already
    /// finds again cheaply (cached code, served from its file's index): the dictionary
    /// would grow by tens of thousands of entries, each insert touching a fresh page.
    mutating func insertRecent(_ block: Block, at pc: UInt64) {
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        recentPCs[slot] = pc
        recentBlocks[slot] = block
    }

    /// Records `block`, translated from the `length` guest bytes at `pc`.
    mutating func insert(_ block: Block, at pc: UInt64, length: UInt64) {
        if blocks.updateValue((block, length), forKey: pc) == nil {
            for page in Self.pageRange(pc, pc &+ max(length, 4)) { pages[page, default: []].append(pc) }
        }
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        recentPCs[slot] = pc
        recentBlocks[slot] = block
    }

    /// Removes and returns the blocks whose guest bytes overlap `start ..< end`.
    mutating func removeBlocks(overlapping start: UInt64, _ end: UInt64) -> [(pc: UInt64, block: Block)] {
        guard !blocks.isEmpty, start < end else { return [] }
        var candidates: [UInt64] = []
        let range = Self.pageRange(start, end)
        if UInt64(range.count) <= UInt64(pages.count) {
            for page in range { if let pcs = pages[page] { candidates += pcs } }
        } else {
            for (page, pcs) in pages where range.contains(page) { candidates += pcs }
        }
        var removed: [(pc: UInt64, block: Block)] = []
        for pc in candidates {
            guard let entry = blocks[pc], pc < end, pc &+ max(entry.length, 4) > start else { continue }
            blocks[pc] = nil
            for page in Self.pageRange(pc, pc &+ max(entry.length, 4)) {
                pages[page]?.removeAll { $0 == pc }
                if pages[page]?.isEmpty == true { pages[page] = nil }
            }
            let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
            if recentPCs[slot] == pc { recentPCs[slot] = .max; recentBlocks[slot] = nil }
            removed.append((pc, entry.block))
        }
        return removed
    }

    mutating func removeAll() {
        blocks.removeAll(keepingCapacity: true)
        pages.removeAll(keepingCapacity: true)
        for i in recentPCs.indices { recentPCs[i] = .max; recentBlocks[i] = nil }
    }

    /// Page numbers touched by `start ..< end` (`end > start`).
    static func pageRange(_ start: UInt64, _ end: UInt64) -> ClosedRange<UInt64> {
        (start >> pageShift)...((end &- 1) >> pageShift)
    }
}
