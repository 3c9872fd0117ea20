import KilnIR

/// Kiln's x86-64 translation ABI: fixed host registers, the per-thread context block, the
/// writable per-unit table beside the code, and the host stack frame. Everything here is part
/// of the translation ABI version (a change invalidates cached code).
///
/// - r15: `GuestCPUState.base` + `stateBias`. r14: the `X64Context` block of the running thread.
/// - rax, rcx, rdx, xmm0, xmm1: scratch inside one IR instruction's code, never allocated.
/// - rbx, rbp, r12, r13 (kept across helper calls): guest SP, x0, x1, x19 in all translated
///   code (`pinnedRegisters`). rsi, rdi, r8...r11: allocatable GPRs; xmm2...xmm15: allocatable
///   vector registers.
/// - rsp: 16-byte aligned inside translated code; spill slots at [rsp + 16 * n].
public enum X64ABI {
    public static let stateRegister = GPR.r15
    /// r15 points this far into the guest state, so that x0...x30 and SP (bytes 0...255) are
    /// reached with 8-bit displacements (3 bytes shorter than 32-bit ones: the code of a block
    /// is mostly guest-register loads and stores, and its size is what misses the i-cache).
    public static let stateBias = 128
    public static let contextRegister = GPR.r14
    /// Guest registers held in host registers across blocks: loaded by the entry trampoline,
    /// stored by its exit path, changed by translated code only after the block's last
    /// instruction that can fault (so they hold block-entry values at every such instruction:
    /// a fault replays the block). The guest state in memory is
    /// stale for them while translated code runs. Chosen by measurement: the registers blocks
    /// loaded and stored most, weighted by samples, in python3.11's json loop (x0, x1, x19,
    /// SP, then x2, x20). Callee-saved host registers, so helper calls keep them.
    public static let pinnedRegisters: [(guest: IRGuestRegister, host: GPR)] = [(.x(0), .rbx), (.x(1), .rbp), (.x(19), .r12), (.sp, .r13)]
    /// Host register number of each pinned guest register (-1 if not pinned), by raw value.
    static let pinnedHost: [Int8] = {
        var table = [Int8](repeating: -1, count: IRGuestRegister.count)
        for p in pinnedRegisters { table[Int(p.guest.rawValue)] = Int8(p.host.number) }
        return table
    }()
    /// The guest register pinned in each host register (-1 if none), by host register number.
    static let pinnedGuest: [Int16] = {
        var table = [Int16](repeating: -1, count: 16)
        for p in pinnedRegisters { table[Int(p.host.number)] = Int16(p.guest.rawValue) }
        return table
    }()
    /// Bit n set: host register n holds a pinned guest register.
    static let pinnedHostMask: UInt16 = pinnedRegisters.reduce(0) { $0 | 1 << UInt16($1.host.number) }
    static let allocatableGPRs: [GPR] = [.rsi, .rdi, .r8, .r9, .r10, .r11]
    static let allocatableGPRNumbers: [UInt8] = allocatableGPRs.map(\.number)
    static let calleeSavedGPRs: Set<UInt8> = [GPR.rbx.number, GPR.rbp.number, GPR.r12.number, GPR.r13.number]
    static let allocatableXMMs: [UInt8] = Array(2...15)

    /// Spill slots in the host frame that the entry trampoline reserves.
    public static let spillSlots = 1024
    /// Frame size below the six saved registers: keeps rsp 16-byte aligned in translated code.
    public static let frameSize = spillSlots * 16 + 8

    /// Byte offsets in the per-thread context block (r14).
    public enum Context {
        /// Host address the translated code jumps to in order to return to the dispatcher.
        public static let exitToHost = 0
        /// Why the last block left: `IRExitKind` raw value (u8), trap kind (u8).
        public static let exitKind = 8
        public static let exitTrap = 9
        /// SVC/BRK/UDF immediate or the trapping encoding (u32).
        public static let exitInfo = 12
        /// Address of the link slot the exit went through (0 for exits that cannot chain).
        public static let exitSlot = 16
        /// Indirect-branch lookup table: base address and byte-offset mask, (entries - 1) << 4
        /// (entries of 16 bytes: guest pc, host code; the entry of pc is at (pc << 2) & mask).
        public static let lookupTable = 24
        public static let lookupMask = 32
        /// Shared exit tails of link stubs: the context field of each (exit kind, slot index)
        /// pair that has one (jump: target; branch: taken, not taken; call: target, return
        /// point; BLR: return point). Those and the fields above are below 128, reached with
        /// 8-bit displacements.
        public static let linkTails: [(kind: IRExitKind, slot: Int, field: Int)] = [
            (.jump, 1, 40), (.branch, 1, 64), (.branch, 2, 96), (.call, 1, 104), (.ret, 1, 112), (.ret, 2, 120),
        ] + (3...sideExitTailSlots).map { (.branch, $0, sideExitTails + 8 * ($0 - 3)) }
        /// Scratch word for LDMXCSR/STMXCSR.
        public static let mxcsr = 48
        /// Top of the return-prediction stack: the byte offset of its entry in `returnStack` (u64,
        /// a multiple of 16 below 16 × `returnStackEntries`).
        public static let returnStackTop = 56
        /// Guest accesses must be below this address (u64, set by the runtime). Tested by every
        /// bounds check: kept below 128 for 8-bit displacements, like `interrupt`.
        public static let guestLimit = 72
        /// The address of the access that failed its bounds check (u64).
        public static let faultAddress = 80
        /// Nonzero when something was posted to the thread (a signal, an invalidation):
        /// chained exits, indirect exits and predicted returns leave to the dispatcher instead
        /// of jumping on (u32). Written by other threads only when they post.
        public static let interrupt = 88
        /// The context field of the shared tail for a link stub of exit `kind` whose slot is
        /// entry `slot` of its unit table (nil for any other pair). A stub sets rcx to its target's
        /// region offset and rax to its slot's address and jumps there; the tail adds the region
        /// base (table entry 0, `slot` entries below), records slot, pc and kind and returns to
        /// the host. 16 bytes per stub instead of 44: stubs were over half of all code bytes,
        /// and every one sits between hot blocks.
        public static func linkTail(for kind: IRExitKind, slot: Int) -> Int? {
            linkTails.first { $0.kind == kind && $0.slot == slot }?.field
        }
        /// Helper argument block: descriptor (8), imm (8), operands a, b, c (16 each), result (16).
        public static let helperArguments = 128
        /// Where out-of-line slow paths park rsi, rdi, r8-r11 (8 bytes each) and xmm2-xmm15
        /// (16 bytes each) around a helper call.
        public static let gprSaveArea = 256
        public static let xmmSaveArea = 320
        /// Opaque pointer to the runtime object that helpers use.
        public static let runtime = 544
        /// Helper entry points, 8 bytes each (`X64Helper`).
        public static let helpers = 552
        /// Return prediction: entries of (guest return address, address of the link slot
        /// that continues there), pushed by calls and checked by returns.
        public static let returnStack = 576
        public static let returnStackEntries = 64
        /// Shared exit tails of failed bounds checks (read, write: rax = the address, rcx = the
        /// guest pc) and of indirect-lookup misses (BR, BLR, RET: rcx = the guest pc).
        public static let readFaultTail = returnStack + 16 * returnStackEntries
        public static let writeFaultTail = readFaultTail + 8
        public static let indirectJumpTail = readFaultTail + 16
        public static let indirectCallTail = readFaultTail + 24
        public static let returnMissTail = readFaultTail + 32
        /// Link tails of side exits (branch kind), whose slots follow the unit's final exit's:
        /// slots 3 ... `sideExitTailSlots` (a unit needing more is not lowered with its side exits).
        public static let sideExitTails = readFaultTail + 40
        public static let sideExitTailSlots = 10
        /// Where a return matching an empty prediction entry goes (guest pc UInt64.max).
        public static let emptyPredictionTail = sideExitTails + 8 * (sideExitTailSlots - 2)
        public static let size = emptyPredictionTail + 8
    }

    /// Trap kinds (beyond `IRTrapKind`) of an exit through a failed bounds check; the address
    /// is at `Context.faultAddress`; the state holds the block's entry values and its start pc.
    public static let readFaultTrap: UInt8 = 0xF0
    public static let writeFaultTrap: UInt8 = 0xF1

    /// The 64-bit word an exit stores at `Context.exitKind`: exit kind, trap kind and info
    /// (offsets 8, 9 and 12).
    public static func exitWord(kind: IRExitKind, trap: UInt8 = 0, info: UInt32 = 0) -> UInt64 {
        UInt64(kind.rawValue) | UInt64(trap) << 8 | UInt64(info) << 32
    }

    /// Entries of the writable table that sits beside a translation unit's code.
    public enum UnitTable {
        /// The guest load address of the unit's region (0 for absolute addressing).
        public static let regionBase = 0
        /// Link slots follow, one per chainable exit.
        public static let firstLinkSlot = 1
    }
}

/// Helper routines reached through the context's helper table (no host address in code).
public enum X64Helper: Int, CaseIterable, Sendable {
    /// Executes one IR instruction with the reference interpreter's semantics: the slow path
    /// for every operation the backend does not lower natively.
    case interpretInstruction = 0
}
