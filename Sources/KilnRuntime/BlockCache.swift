/// Translated blocks by guest pc, for both execution tiers, with a direct-mapped cache in front
/// of the pc table (on the dispatch path, hashing dominates a table hit) and an index of
/// the guest pages each block's bytes lie on, so that invalidating a range finds exactly the
/// blocks overlapping it.
struct BlockCache<Block> {
    static var recentCount: Int { 4096 }
    static var pageShift: UInt64 { 12 }

    /// Every block with the number of guest bytes it covers, in chunks of `chunkSize` slots;
    /// the slots of removed blocks are reused. The pc table maps a pc to a slot rather than
    /// holding the block, and the chunks never move: growing a dictionary or one array moves
    /// every entry to fresh pages, which for blocks of over a hundred bytes cost more at
    /// start-up (tens of thousands of inserts) than the inserts themselves.
    private var chunks: [[Entry]] = []
    private var slotCount = 0
    static var chunkShift: Int { 10 }
    static var chunkSize: Int { 1 << chunkShift }
    private var freeSlots: [Int32] = []
    private var slotOfPC = PCTable()
    /// Guest page number -> pcs of the blocks whose bytes touch that page.
    private var pages: [UInt64: [UInt64]] = [:]
    /// The direct-mapped cache: a pc and its slot. Slots rather than blocks: a block is ~100
    /// bytes, and zeroing 4096 of them cost every `kiln run` a hundred page faults.
    private var recentPCs = [UInt64](repeating: .max, count: BlockCache.recentCount)
    private var recentSlots = [Int32](repeating: 0, count: BlockCache.recentCount)

    private struct Entry {
        var length: UInt64
        /// nil while the slot is free.
        var block: Block?
        /// The owner's word for this pc (`exchangeTag`), -1 until set.
        var tag: Int32 = -1
    }

    var count: Int { slotOfPC.count }
    var isEmpty: Bool { slotOfPC.isEmpty }

    /// The block at `pc`, or nil when it has not been translated.
    @inline(__always) mutating func lookup(_ pc: UInt64) -> Block? {
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        if recentPCs[slot] == pc, let recent = entry(recentSlots[slot]).block { return recent }
        guard let i = slotOfPC[pc], let block = entry(i).block else { return nil }
        recentPCs[slot] = pc
        recentSlots[slot] = i
        return block
    }

    /// The block at `pc` without touching the direct-mapped cache.
    subscript(pc: UInt64) -> Block? {
        guard let i = slotOfPC[pc] else { return nil }
        return entry(i).block
    }

    @inline(__always) private func entry(_ i: Int32) -> Entry {
        chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)]
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

    /// Records `block`, translated from the `length` guest bytes at `pc`.
    mutating func insert(_ block: Block, at pc: UInt64, length: UInt64) {
        let i: Int32
        if let existing = slotOfPC[pc] {
            i = existing
            // A new translation at the same pc keeps the tag (the JIT's links into this pc).
            chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)].length = length
            chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)].block = block
        } else {
            let entry = Entry(length: length, block: block)
            if let free = freeSlots.popLast() {
                i = free
                setEntry(i, entry)
            } else {
                i = addEntry(entry)
            }
            slotOfPC.set(pc, i)
            for page in Self.pageRange(pc, pc &+ max(length, 4)) { pages[page, default: []].append(pc) }
        }
        let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
        recentPCs[slot] = pc
        recentSlots[slot] = i
    }

    /// Sets the tag of the block at `pc` (a word its owner keeps with the block: the JIT's head
    /// of the list of links chained to it), returning the previous one; nil (and nothing set)
    /// when no block is at `pc`. Kept here, it costs no lookup of its own: the block's slot was
    /// just found or inserted.
    mutating func exchangeTag(at pc: UInt64, _ tag: Int32) -> Int32? {
        guard let i = slotOfPC[pc] else { return nil }
        let c = Int(i) >> Self.chunkShift, k = Int(i) & (Self.chunkSize - 1)
        guard chunks[c][k].block != nil else { return nil }
        let previous = chunks[c][k].tag
        chunks[c][k].tag = tag
        return previous
    }

    /// Removes and returns the blocks (with their tags) whose guest bytes overlap `start ..< end`.
    mutating func removeBlocks(overlapping start: UInt64, _ end: UInt64) -> [(pc: UInt64, block: Block, tag: Int32)] {
        guard !slotOfPC.isEmpty, start < end else { return [] }
        var candidates: [UInt64] = []
        let range = Self.pageRange(start, end)
        if UInt64(range.count) <= UInt64(pages.count) {
            for page in range { if let pcs = pages[page] { candidates += pcs } }
        } else {
            for (page, pcs) in pages where range.contains(page) { candidates += pcs }
        }
        var removed: [(pc: UInt64, block: Block, tag: Int32)] = []
        for pc in candidates {
            guard let i = slotOfPC[pc] else { continue }
            let entry = chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)]
            guard let block = entry.block else { continue }
            let length = entry.length
            guard pc < end, pc &+ max(length, 4) > start else { continue }
            slotOfPC.removeValue(forKey: pc)
            setEntry(i, Entry(length: 0, block: nil))
            freeSlots.append(i)
            for page in Self.pageRange(pc, pc &+ max(length, 4)) {
                pages[page]?.removeAll { $0 == pc }
                if pages[page]?.isEmpty == true { pages[page] = nil }
            }
            let slot = Int(truncatingIfNeeded: pc >> 2) & (BlockCache.recentCount - 1)
            if recentPCs[slot] == pc { recentPCs[slot] = .max }
            removed.append((pc, block, entry.tag))
        }
        return removed
    }

    mutating func removeAll() {
        chunks.removeAll()
        slotCount = 0
        freeSlots.removeAll(keepingCapacity: true)
        slotOfPC.removeAll()
        pages.removeAll(keepingCapacity: true)
        for i in recentPCs.indices { recentPCs[i] = .max }
    }

    /// Page numbers touched by `start ..< end` (`end > start`).
    static func pageRange(_ start: UInt64, _ end: UInt64) -> ClosedRange<UInt64> {
        (start >> pageShift)...((end &- 1) >> pageShift)
    }
}
