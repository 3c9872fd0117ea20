/// Translated blocks by guest pc, for both execution tiers, with a direct-mapped cache in front
/// of the dictionary: on the dispatch path, hashing dominates a dictionary hit.
struct BlockCache<Block> {
    static var recentCount: Int { 4096 }

    /// Every block, by guest pc.
    private(set) var blocks: [UInt64: Block] = [:]
    private var recentPCs = [UInt64](repeating: .max, count: BlockCache.recentCount)
    private var recentBlocks = [Block?](repeating: nil, count: BlockCache.recentCount)

    /// The block at `pc`, or nil when it has not been translated.
    @inline(__always) mutating func lookup(_ pc: UInt64) -> Block? {
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        if recentPCs[slot] == pc, let recent = recentBlocks[slot] { return recent }
        guard let block = blocks[pc] else { return nil }
        recentPCs[slot] = pc
        recentBlocks[slot] = block
        return block
    }

    /// The block at `pc` without touching the direct-mapped cache.
    subscript(pc: UInt64) -> Block? { blocks[pc] }

    /// Keeps `block` in the direct-mapped cache only. For blocks another table already
    /// finds again cheaply (cached code, served from its file's index): the dictionary
    /// would grow by tens of thousands of entries, each insert touching a fresh page.
    mutating func insertRecent(_ block: Block, at pc: UInt64) {
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        recentPCs[slot] = pc
        recentBlocks[slot] = block
    }

    mutating func insert(_ block: Block, at pc: UInt64) {
        blocks[pc] = block
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        recentPCs[slot] = pc
        recentBlocks[slot] = block
    }

    /// Drops the blocks that start in `start ..< end`.
    mutating func removeBlocks(startingIn start: UInt64, _ end: UInt64) {
        guard !blocks.isEmpty else { return }
        blocks = blocks.filter { $0.key < start || $0.key >= end }
        for i in recentPCs.indices where recentPCs[i] >= start && recentPCs[i] < end {
            recentPCs[i] = .max
            recentBlocks[i] = nil
        }
    }

    mutating func removeAll() {
        blocks.removeAll(keepingCapacity: true)
        for i in recentPCs.indices { recentPCs[i] = .max; recentBlocks[i] = nil }
    }
}
