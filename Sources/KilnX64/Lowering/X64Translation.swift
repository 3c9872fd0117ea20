import KilnIR

/// A place in the code that must point at an entry of the unit's writable table: a 32-bit
/// RIP-relative displacement. The value depends only on where the table sits relative to the
/// code (a layout decision of the code buffer or cache writer), never on the process or the
/// region's load address.
public struct X64Relocation: Hashable, Sendable {
    /// Offset of the 32-bit field in the code.
    public var fieldOffset: UInt32
    /// Offset of the end of the instruction (RIP at execution).
    public var instructionEnd: UInt32
    /// Table entry (8 bytes each) the displacement must reach.
    public var tableEntry: UInt32
}

/// A chainable exit: its link slot initially points at the stub (unlinked), and block
/// chaining stores the target's host code address into it.
public struct X64LinkSlot: Hashable, Sendable {
    /// Table entry of the slot.
    public var tableEntry: UInt32
    /// Offset of the stub in the code that returns to the dispatcher.
    public var stubOffset: UInt32
    /// The guest target as a region offset (absolute address for absolute blocks).
    public var targetOffset: UInt64
}

/// Where the code of a guest instruction starts, so that a host fault or sample inside the
/// block can be attributed to the guest instruction. Guest register writes are deferred to the
/// exit: at a fault, guest general registers, SP, NZCV and TPIDR_EL0 hold their values from
/// block entry, while memory and vector/FPCR/FPSR writes of earlier instructions are done.
public struct X64PCMapEntry: Hashable, Sendable {
    public var hostOffset: UInt32
    /// Region offset of the guest instruction.
    public var guestOffset: UInt64
}

/// The output of lowering one IR block: position-independent code with its relocations.
public struct X64Translation: Hashable, Sendable {
    public var code: [UInt8]
    public var relocations: [X64Relocation]
    public var linkSlots: [X64LinkSlot]
    /// Guest instruction starts, in code order.
    public var pcMap: [X64PCMapEntry]
    /// Number of 8-byte entries the unit table needs.
    public var tableEntries: Int
    /// CPU features the code uses (they enter the cache key).
    public var features: X64Features
    /// Number of x86 instructions emitted.
    public var instructionCount: Int
    /// Whether the code may be cached: false for absolute (anonymous-memory) blocks.
    public var cacheable: Bool
    /// IR operations this block lowered through the interpreter helper.
    public var helperOps: Set<IROp>
}

/// Why a block could not be lowered (the caller then runs it in the interpreter).
public enum X64LoweringError: Error, Equatable, Sendable {
    case tooManySpills
    case malformedIR(index: Int)
}
