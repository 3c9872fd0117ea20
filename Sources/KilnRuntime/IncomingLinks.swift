/// The link slots chained to each block, to point back at their stubs when the block is
/// invalidated. One list per target block threaded through a shared pool: recording a link
/// (once per chained exit, tens of thousands at start-up) is one dictionary access and an
/// append, with no array allocated per target. The nodes of removed lists stay in the pool
/// until `removeAll` (the next flush).
struct IncomingLinks {
    private struct Node {
        var link: IncomingLink
        /// Index of the next node of the same target (-1: last).
        var next: Int32
    }

    /// Target block pc -> its most recent link's node.
    private var first: [UInt64: Int32] = [:]
    private var pool: [Node] = []

    /// Records `link` as chained to the block at `target`.
    mutating func record(_ link: IncomingLink, to target: UInt64) {
        pool.append(Node(link: link, next: -1))
        swap(&first[target, default: -1], &pool[pool.count - 1].next)
    }

    /// Forgets the links chained to `target`, calling `body` with each.
    mutating func removeLinks(to target: UInt64, _ body: (IncomingLink) -> Void) {
        guard var node = first.removeValue(forKey: target) else { return }
        while node >= 0 {
            body(pool[Int(node)].link)
            node = pool[Int(node)].next
        }
    }

    mutating func removeAll() {
        first.removeAll()
        pool.removeAll()
    }
}
