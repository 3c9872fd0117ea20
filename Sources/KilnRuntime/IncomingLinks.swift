/// The link slots chained to each block, to point back at their stubs when the block is
/// invalidated: one list per target block, threaded through a shared pool, whose head is the
/// target's `BlockCache` tag. Recording a link (once per chained exit, tens of thousands at
/// start-up) is then an append here and a tag exchange on the block's slot, which chaining
/// has just looked up: no table of its own (a second hash lookup, usually a cache miss) and no
/// array per target. The nodes of removed lists stay in the pool until `removeAll` (the next
/// flush).
struct IncomingLinks {
    private struct Node {
        var link: IncomingLink
        /// Index of the next node of the same target (-1: last).
        var next: Int32
    }

    private var pool: [Node] = []

    /// The index the next `add` puts its node at.
    var nextNode: Int32 { Int32(pool.count) }

    /// Adds a node for `link` in front of the list whose head was `next` (-1: empty), at
    /// index `nextNode`.
    mutating func add(_ link: IncomingLink, next: Int32) {
        pool.append(Node(link: link, next: next))
    }

    /// Calls `body` with each link of the list starting at `head` (-1: empty).
    func forEach(from head: Int32, _ body: (IncomingLink) -> Void) {
        var node = head
        while node >= 0 && Int(node) < pool.count {
            body(pool[Int(node)].link)
            node = pool[Int(node)].next
        }
    }

    mutating func removeAll() {
        pool.removeAll()
    }
}
