/// Translated blocks by guest pc, for both execution tiers, with a direct-mapped cache in front
/// of the dictionary (on the dispatch path, hashing dominates a dictionary hit) and an index of
/// the guest pages each block's bytes lie on, so that invalidating a range finds exactly the
/// blocks overlapping it.
struct BlockCache<Block> {
    static var recentCount: Int { 4096 }
    static var pageShift: UInt64 { 12 }

    /// Every block with the number of guest bytes it covers, in chunks of `chunkSize` slots;
    /// the slots of removed blocks are reused. The dictionary maps a pc to a slot rather than
    /// holding the block, and the chunks never move: growing a dictionary or one array moves
    /// every entry to fresh pages, which for blocks of over a hundred bytes cost more at
    /// start-up (tens of thousands of inserts) than the inserts themselves.
    private var chunks: [[Entry]] = []
    private var slotCount = 0
    static var chunkShift: Int { 10 }
    static var chunkSize: Int { 1 << chunkShift }
    private var freeSlots: [Int32] = []
    private var slotOfPC: [UInt64: Int32] = [:]
    /// Guest page number -> pcs of the blocks whose bytes touch that page.
    private var pages: [UInt64: [UInt64]] = [:]
    private var recentPCs = [UInt64](repeating: .max, count: BlockCache.recentCount)
    private var recentBlocks = [Block?](repeating: nil, count: BlockCache.recentCount)

    private struct Entry {
        var length: UInt64
        /// nil while the slot is free.
        var block: Block?
    }

    var count: Int { slotOfPC.count }
    var isEmpty: Bool { slotOfPC.isEmpty }

    /// The block at `pc`, or nil when it has not been translated.
    @inline(__always) mutating func lookup(_ pc: UInt64) -> Block? {
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        if recentPCs[slot] == pc, let recent = recentBlocks[slot] { return recent }
        guard let block = self[pc] else { return nil }
        recentPCs[slot] = pc
        recentBlocks[slot] = block
        return block
    }

    /// The block at `pc` without touching the direct-mapped cache.
    subscript(pc: UInt64) -> Block? {
        guard let i = slotOfPC[pc] else { return nil }
        return chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)].block
    }

    private mutating func setEntry(_ i: Int32, _ entry: Entry) {
        chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)] = entry
    }

    /// A new slot holding `entry`.
    private mutating func addEntry(_ entry: Entry) -> Int32 {
        if slotCount & (Self.chunkSize - 1) == 0 {
            var chunk: [Entry] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(entry)
        slotCount += 1
        return Int32(slotCount - 1)
    }

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
        if let i = slotOfPC[pc] {
            setEntry(i, Entry(length: length, block: block))
        } else {
            let entry = Entry(length: length, block: block)
            if let i = freeSlots.popLast() {
                setEntry(i, entry)
                slotOfPC[pc] = i
            } else {
                slotOfPC[pc] = addEntry(entry)
            }
            for page in Self.pageRange(pc, pc &+ max(length, 4)) { pages[page, default: []].append(pc) }
        }
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        recentPCs[slot] = pc
        recentBlocks[slot] = block
    }

    /// Removes and returns the blocks whose guest bytes overlap `start ..< end`.
    mutating func removeBlocks(overlapping start: UInt64, _ end: UInt64) -> [(pc: UInt64, block: Block)] {
        guard !slotOfPC.isEmpty, start < end else { return [] }
        var candidates: [UInt64] = []
        let range = Self.pageRange(start, end)
        if UInt64(range.count) <= UInt64(pages.count) {
            for page in range { if let pcs = pages[page] { candidates += pcs } }
        } else {
            for (page, pcs) in pages where range.contains(page) { candidates += pcs }
        }
        var removed: [(pc: UInt64, block: Block)] = []
        for pc in candidates {
            guard let i = slotOfPC[pc] else { continue }
            let entry = chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)]
            guard let block = entry.block else { continue }
            let length = entry.length
            guard pc < end, pc &+ max(length, 4) > start else { continue }
            slotOfPC[pc] = nil
            setEntry(i, Entry(length: 0, block: nil))
            freeSlots.append(i)
            for page in Self.pageRange(pc, pc &+ max(length, 4)) {
                pages[page]?.removeAll { $0 == pc }
                if pages[page]?.isEmpty == true { pages[page] = nil }
            }
            let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
            if recentPCs[slot] == pc { recentPCs[slot] = .max; recentBlocks[slot] = nil }
            removed.append((pc, block))
        }
        return removed
    }

    mutating func removeAll() {
        chunks.removeAll()
        slotCount = 0
        freeSlots.removeAll(keepingCapacity: true)
        slotOfPC.removeAll(keepingCapacity: true)
        pages.removeAll(keepingCapacity: true)
        for i in recentPCs.indices { recentPCs[i] = .max; recentBlocks[i] = nil }
    }

    /// Page numbers touched by `start ..< end` (`end > start`).
    static func pageRange(_ start: UInt64, _ end: UInt64) -> ClosedRange<UInt64> {
        (start >> pageShift)...((end &- 1) >> pageShift)
    }
}
