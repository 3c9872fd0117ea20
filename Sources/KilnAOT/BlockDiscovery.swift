import KilnA64
import KilnIR

/// Grows a seed set by translating each entry the way the runtime will and following the
/// direct control flow out of it: branch targets (side exits' too), fall-throughs and call
/// return points.
public struct BlockDiscovery {
    public let image: ExecutableImage
    /// Upper bound on blocks translated. Every block starts at a distinct instruction of the
    /// image, so the default, one per instruction, never cuts discovery short (a fixed cap of 2M
    /// left 60% of libLLVM-14's code to the JIT); a smaller one bounds the work.
    public var maxBlocks: Int

    public init(image: ExecutableImage, maxBlocks: Int? = nil) {
        self.image = image
        self.maxBlocks = maxBlocks ?? Int(image.codeByteCount / 4)
    }

    /// Adds every block start reachable through direct exits from `seeds`, marked `.discovered`.
    /// Returns the number of blocks translated.
    @discardableResult
    public func discover(into seeds: inout SeedSet) -> Int {
        var translator = A64Translator()
        var worklist = seeds.addresses.reversed() as [UInt64]
        var visited = Set<UInt64>()
        while let start = worklist.popLast(), visited.count < maxBlocks {
            guard visited.insert(start).inserted, let segment = image.segment(containing: start) else { continue }
            translator.translate(code: segment.bytes, codeOffset: segment.address, at: start)
            let exit = translator.block.exit
            var successors: [UInt64] = []
            switch exit.kind {
            case .jump: successors = [exit.target]
            case .branch, .call: successors = [exit.target, exit.next]
            case .indirectCall, .syscall: successors = [exit.next]
            case .indirectJump, .ret, .trap: break
            }
            for inst in translator.block.instructions where inst.op == .exitIf { successors.append(inst.imm) }
            for target in successors where image.containsCode(target) {
                seeds.insert(target, from: .discovered)
                if !visited.contains(target) { worklist.append(target) }
            }
        }
        return visited.count
    }
}
