/// Appends instructions to a block. Reuse one builder across translations: `reset` keeps the
/// instruction storage, so building does not allocate once it has grown.
public struct IRBuilder: Sendable {
    public var block: IRBlock

    public init(addressing: IRAddressing = .region, startOffset: UInt64 = 0) {
        block = IRBlock(addressing: addressing, startOffset: startOffset)
        block.instructions.reserveCapacity(256)
    }

    /// Starts a new block, keeping storage.
    public mutating func reset(addressing: IRAddressing, startOffset: UInt64) {
        block.addressing = addressing
        block.startOffset = startOffset
        block.guestLength = 0
        block.instructions.removeAll(keepingCapacity: true)
        block.exit = .jump(startOffset)
    }

    /// Number of instructions emitted so far.
    @inlinable public var count: Int { block.instructions.count }

    /// Removes instructions from index `count` on (undoing a partially lifted guest instruction).
    public mutating func truncate(to count: Int) {
        block.instructions.removeSubrange(count...)
    }

    @inlinable @discardableResult
    public mutating func emit(_ op: IROp, _ type: IRType, _ a: IRValue = .none, _ b: IRValue = .none, _ c: IRValue = .none, imm: UInt64 = 0, aux: UInt16 = 0) -> IRValue {
        let v = IRValue(block.instructions.count)
        block.instructions.append(IRInst(op: op, type: type, aux: aux, a: a, b: b, c: c, imm: imm))
        return v
    }

    @inlinable public func type(of v: IRValue) -> IRType { block.instructions[Int(v.index)].type }

    // MARK: Conveniences for the common operations

    public mutating func guestInstruction(offset: UInt64, encoding: UInt32) {
        emit(.guestInstruction, .void, IRValue(encoding), imm: offset)
    }
    @inlinable public mutating func const(_ type: IRType, _ bits: UInt64) -> IRValue { emit(.const, type, imm: bits & type.mask) }
    @inlinable public mutating func regionAddress(_ offset: UInt64) -> IRValue { emit(.regionAddress, .i64, imm: offset) }
    @inlinable public mutating func readReg(_ r: IRGuestRegister) -> IRValue { emit(.readReg, r.type, aux: r.rawValue) }
    @inlinable public mutating func writeReg(_ r: IRGuestRegister, _ v: IRValue) { emit(.writeReg, .void, v, aux: r.rawValue) }
    /// A binary operation whose result has the type of `a`.
    @inlinable public mutating func binary(_ op: IROp, _ a: IRValue, _ b: IRValue) -> IRValue { emit(op, type(of: a), a, b) }
    @inlinable public mutating func unary(_ op: IROp, _ a: IRValue) -> IRValue { emit(op, type(of: a), a) }
    @inlinable public mutating func add(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.add, a, b) }
    @inlinable public mutating func sub(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.sub, a, b) }
    @inlinable public mutating func and(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.and, a, b) }
    @inlinable public mutating func or(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.or, a, b) }
    @inlinable public mutating func xor(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.xor, a, b) }
    @inlinable public mutating func not(_ a: IRValue) -> IRValue { unary(.not, a) }
    @inlinable public mutating func shl(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.shl, a, b) }
    @inlinable public mutating func lshr(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.lshr, a, b) }
    @inlinable public mutating func ashr(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.ashr, a, b) }
    @inlinable public mutating func ror(_ a: IRValue, _ b: IRValue) -> IRValue { binary(.ror, a, b) }
    @inlinable public mutating func zext(_ a: IRValue, to t: IRType) -> IRValue { emit(.zext, t, a) }
    @inlinable public mutating func sext(_ a: IRValue, to t: IRType) -> IRValue { emit(.sext, t, a) }
    @inlinable public mutating func trunc(_ a: IRValue, to t: IRType) -> IRValue { emit(.trunc, t, a) }
    @inlinable public mutating func select(_ c: IRValue, _ a: IRValue, _ b: IRValue) -> IRValue { emit(.select, type(of: a), c, a, b) }
    @inlinable public mutating func icmp(_ p: IRComparison, _ a: IRValue, _ b: IRValue) -> IRValue { emit(.icmp, .i1, a, b, aux: p.rawValue) }
    @inlinable public mutating func condition(_ cond: IRCondition, _ nzcv: IRValue) -> IRValue { emit(.condition, .i1, nzcv, aux: cond.rawValue) }
    @inlinable public mutating func load(_ t: IRType, _ address: IRValue, _ access: IRMemoryAccess) -> IRValue {
        emit(.load, t, address, aux: access.rawValue)
    }
    @inlinable public mutating func store(_ address: IRValue, _ value: IRValue, _ access: IRMemoryAccess) {
        emit(.store, .void, address, value, aux: access.rawValue)
    }

    /// Ends the block with `exit` after `guestLength` guest bytes.
    public mutating func finish(_ exit: IRExit, guestLength: UInt32) {
        block.exit = exit
        block.guestLength = guestLength
    }
}
