/// One IR instruction: 24 bytes, stored inline in its block.
public struct IRInst: Hashable, Sendable {
    public var op: IROp
    /// Result type (`.void` when the instruction produces no value).
    public var type: IRType
    /// Operation-specific attribute word (see `IROp`).
    public var aux: UInt16
    public var a: IRValue
    public var b: IRValue
    public var c: IRValue
    public var imm: UInt64

    @inlinable public init(op: IROp, type: IRType, aux: UInt16 = 0, a: IRValue = .none, b: IRValue = .none, c: IRValue = .none, imm: UInt64 = 0) {
        self.op = op; self.type = type; self.aux = aux
        self.a = a; self.b = b; self.c = c; self.imm = imm
    }
}

/// How a block's guest addresses are expressed.
public enum IRAddressing: UInt8, Sendable {
    /// Code from a file-backed region: every guest address is region base + offset and the base
    /// is supplied at run time, so the IR is position independent and cacheable.
    case region = 0
    /// Code from anonymous memory (a guest JIT): the "region base" is 0, offsets are absolute
    /// addresses, and the translation must not be persisted.
    case absolute = 1
}

/// Why a block ends in a trap.
public enum IRTrapKind: UInt8, Sendable, CaseIterable {
    /// BRK #imm (`info` = imm).
    case breakpoint = 0
    /// UDF #imm or a permanently undefined encoding (`info` = encoding).
    case undefined
    /// A valid instruction Kiln does not implement (`info` = encoding).
    case unimplemented
    /// An unallocated encoding (`info` = encoding).
    case unallocated
    /// IC IVAU / IC IALLU / IC IALLUIS (`info` = encoding): the guest says instruction bytes
    /// may have changed. The runtime drops the translations concerned and resumes after it.
    case instructionCacheMaintenance
}

/// How control leaves a block.
public enum IRExitKind: UInt8, Sendable, CaseIterable {
    /// Continue at `target` (B, or falling into the next block).
    case jump = 0
    /// If `condition` continue at `target`, else at `next` (B.cond, CBZ, TBZ...).
    case branch
    /// Call `target` (BL); the link register write is explicit IR. `next` is the return point.
    case call
    /// Continue at the address in `value` (BR).
    case indirectJump
    /// Call the address in `value` (BLR); `next` is the return point.
    case indirectCall
    /// Return to the address in `value` (RET).
    case ret
    /// Supervisor call (SVC); the runtime handles it and continues at `next`.
    case syscall
    /// Stop with a trap of `trap` kind at the instruction at `target`.
    case trap
}

/// The terminator of a block. Direct addresses are region offsets (see `IRAddressing`).
public struct IRExit: Hashable, Sendable {
    public var kind: IRExitKind
    public var trap: IRTrapKind
    /// The i1 condition of `.branch`, the i64 address of indirect exits, else `.none`.
    public var value: IRValue
    /// Direct target offset (jump, branch taken, call; the trapping instruction for traps).
    public var target: UInt64
    /// Fall-through / return offset (branch not taken, call and syscall return point).
    public var next: UInt64
    /// Trap detail: BRK/UDF immediate or the instruction encoding; SVC immediate.
    public var info: UInt32

    @inlinable public init(kind: IRExitKind, trap: IRTrapKind = .breakpoint, value: IRValue = .none, target: UInt64 = 0, next: UInt64 = 0, info: UInt32 = 0) {
        self.kind = kind; self.trap = trap; self.value = value
        self.target = target; self.next = next; self.info = info
    }

    public static func jump(_ target: UInt64) -> IRExit { IRExit(kind: .jump, target: target) }
    public static func branch(_ condition: IRValue, taken: UInt64, notTaken: UInt64) -> IRExit {
        IRExit(kind: .branch, value: condition, target: taken, next: notTaken)
    }
    public static func call(_ target: UInt64, returnTo next: UInt64) -> IRExit { IRExit(kind: .call, target: target, next: next) }
    public static func indirectJump(_ address: IRValue) -> IRExit { IRExit(kind: .indirectJump, value: address) }
    public static func indirectCall(_ address: IRValue, returnTo next: UInt64) -> IRExit { IRExit(kind: .indirectCall, value: address, next: next) }
    public static func ret(_ address: IRValue) -> IRExit { IRExit(kind: .ret, value: address) }
    public static func syscall(immediate: UInt32, next: UInt64) -> IRExit { IRExit(kind: .syscall, next: next, info: immediate) }
    public static func trap(_ kind: IRTrapKind, at offset: UInt64, info: UInt32) -> IRExit {
        IRExit(kind: .trap, trap: kind, target: offset, info: info)
    }
}

/// A straight-line sequence of IR instructions lifted from consecutive guest instructions,
/// ending in one exit (side exits, `exitIf`, may leave before it). Values are instruction indices; an operand always names an earlier
/// instruction.
public struct IRBlock: Hashable, Sendable {
    public var addressing: IRAddressing
    /// Region offset of the first guest instruction.
    public var startOffset: UInt64
    /// Number of guest bytes the block covers.
    public var guestLength: UInt32
    public var instructions: [IRInst]
    public var exit: IRExit

    public init(addressing: IRAddressing = .region, startOffset: UInt64 = 0, guestLength: UInt32 = 0, instructions: [IRInst] = [], exit: IRExit = .jump(0)) {
        self.addressing = addressing; self.startOffset = startOffset; self.guestLength = guestLength
        self.instructions = instructions; self.exit = exit
    }

    /// The type of `value` (void for `.none` or an out-of-range index).
    @inlinable public func type(of value: IRValue) -> IRType {
        let i = Int(value.index)
        return i < instructions.count ? instructions[i].type : .void
    }
}
