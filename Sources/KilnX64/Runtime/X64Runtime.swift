#if canImport(Glibc)
import Glibc
#endif
import KilnIR

/// How translated code left: the guest pc is in the state already.
public struct X64Exit: Equatable {
    public var kind: IRExitKind
    public var trap: IRTrapKind
    public var info: UInt32
    /// Writable address of the link slot a direct exit went through (nil for other exits).
    public var slot: UInt?
    /// For a trap exit from a failed bounds check: the guest address and whether it was a
    /// write (the guest pc is in the state).
    public var fault: (address: UInt64, isWrite: Bool)?

    public static func == (l: X64Exit, r: X64Exit) -> Bool {
        l.kind == r.kind && l.trap == r.trap && l.info == r.info && l.slot == r.slot
            && l.fault?.address == r.fault?.address && l.fault?.isWrite == r.fault?.isWrite
    }
}

/// Guest memory seen by helpers: host memory at the guest address. Compare-and-swap is
/// locked (helpers run 16-byte exclusives while other guest threads run).
struct HostMemory: GuestMemory {
    mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        guard let p = UnsafeRawPointer(bitPattern: UInt(address)) else { throw GuestMemoryFault(address: address, size: size, isWrite: false) }
        switch size {
        case 1: return UInt64(p.load(as: UInt8.self))
        case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
        case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
        default: return p.loadUnaligned(as: UInt64.self)
        }
    }

    mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        guard let p = UnsafeMutableRawPointer(bitPattern: UInt(address)) else { throw GuestMemoryFault(address: address, size: size, isWrite: true) }
        switch size {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
        default: p.storeBytes(of: value, as: UInt64.self)
        }
    }

    mutating func compareAndSwap(_ address: UInt64, size: Int, expected: UInt64, new: UInt64) throws(GuestMemoryFault) -> UInt64 {
        guard let p = UnsafeMutableRawPointer(bitPattern: UInt(address)) else { throw GuestMemoryFault(address: address, size: size, isWrite: true) }
        return HostAtomics.compareAndSwap(p, size: size, expected: expected, new: new)
    }

    mutating func compareAndSwapPair(_ address: UInt64, expected: V128, new: V128) throws(GuestMemoryFault) -> V128 {
        guard let p = UnsafeMutableRawPointer(bitPattern: UInt(address)) else { throw GuestMemoryFault(address: address, size: 16, isWrite: true) }
        return HostAtomics.compareAndSwapPair(p, expected: expected, new: new)
    }
}

/// The per-thread execution environment of translated code: the context block (r14), the
/// entry trampoline, the helper table and the indirect-branch lookup table.
public final class X64Runtime {
    public let context: UnsafeMutableRawPointer
    public let codeBuffer: CodeBuffer
    /// Indirect-branch lookup: `lookupEntries` pairs of (guest pc, host code), ~0 for none.
    /// It starts at 4096 entries and doubles, up to 65536, each time the registrations since
    /// it last grew reach half its size: filling 1 MiB up front was 256 page faults on every
    /// start, for runs that register a few hundred blocks.
    ///
    /// Two-way: a pc lives in its home entry `lookupIndex(pc)` or in that entry's buddy (index
    /// xor 1, the other half of the same 32 bytes). Translated code probes the home entry
    /// inline and the buddy in the shared miss tails, so two hot targets whose pcs are a
    /// multiple of the table span apart no longer evict each other on every branch (in a
    /// baked python3.11 start-up, 670 of 895 indirect branches that left for the dispatcher
    /// were such repeats, ~1.5 us each).
    public private(set) var lookupTable: UnsafeMutablePointer<UInt64>
    public private(set) var lookupEntries = X64Runtime.initialLookupEntries
    static let initialLookupEntries = 1 << 12
    static let maximumLookupEntries = 1 << 16
    private var registrationsSinceGrowth = 0
    private let enter: @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeRawPointer) -> Void
    /// Mark in the code buffer after the trampoline: `flush` returns there.
    private let firstUnit: CodeBuffer.Mark
    /// Where translated code jumps to return to the host (a fault handler may resume there).
    public var exitToHost: UInt { context.load(fromByteOffset: X64ABI.Context.exitToHost, as: UInt.self) }

    // Helper state: the guest state of the running block and a reusable interpreter.
    var state: GuestCPUState?
    var interpreter = IRInterpreter()
    var builder = IRBuilder()

    /// `guestLimit`: translated code faults on guest accesses whose base is at or above it
    /// (the default checks nothing); see `reserveGuard(above:)` for the displacement.
    public init(codeCapacity: Int = 64 << 20, environment: IRSystemEnvironment = IRSystemEnvironment(),
                guestLimit: UInt64 = .max) throws(CodeBufferError) {
        codeBuffer = try CodeBuffer(capacity: codeCapacity)
        context = UnsafeMutableRawPointer.allocate(byteCount: X64ABI.Context.size, alignment: 64)
        context.initializeMemory(as: UInt8.self, repeating: 0, count: X64ABI.Context.size)
        lookupTable = Self.emptyLookupTable(entries: Self.initialLookupEntries)
        interpreter.environment = environment

        let (code, exitOffset, tails) = Self.trampoline()
        let entry = try codeBuffer.install(code: code)
        enter = unsafeBitCast(entry, to: (@convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeRawPointer) -> Void).self)
        firstUnit = codeBuffer.mark
        context.storeBytes(of: UInt(bitPattern: entry + exitOffset), toByteOffset: X64ABI.Context.exitToHost, as: UInt.self)
        for tail in tails {
            context.storeBytes(of: UInt(bitPattern: entry + tail.code), toByteOffset: tail.contextOffset, as: UInt.self)
        }
        publishLookupTable()
        context.storeBytes(of: guestLimit, toByteOffset: X64ABI.Context.guestLimit, as: UInt64.self)
        clearReturnPredictions()
        context.storeBytes(of: UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()), toByteOffset: X64ABI.Context.runtime, as: UInt.self)
        let helper: @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Void = { context, _ in
            let raw = context.load(fromByteOffset: X64ABI.Context.runtime, as: UnsafeRawPointer.self)
            Unmanaged<X64Runtime>.fromOpaque(raw).takeUnretainedValue().interpretInstruction()
        }
        context.storeBytes(of: unsafeBitCast(helper, to: UInt.self),
                           toByteOffset: X64ABI.Context.helpers + 8 * X64Helper.interpretInstruction.rawValue, as: UInt.self)
    }

    /// Bytes above the guest limit kept inaccessible: a checked base plus any 32-bit
    /// displacement and a 16-byte access stays inside.
    public static let guardSize = (1 << 31) + 2 * CodeBuffer.pageSize

    /// Maps `guardSize` bytes from the page at or above `limit` PROT_NONE, so that an access
    /// through a checked base with a displacement faults in hardware rather than reaching
    /// whatever the host maps there. Once per process, before running code whose runtime
    /// has that `guestLimit` (a second call finds the range taken and changes nothing).
    public static func reserveGuard(above limit: UInt64) {
        let start = (limit + UInt64(CodeBuffer.pageSize) - 1) & ~UInt64(CodeBuffer.pageSize - 1)
        guard let hint = UnsafeMutableRawPointer(bitPattern: UInt(start)) else { return }
        let fixedNoReplace: Int32 = 0x10_0000 // MAP_FIXED_NOREPLACE (Linux 4.17)
        _ = mmap(hint, guardSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | fixedNoReplace, -1, 0)
    }

    deinit {
        context.deallocate()
        UnsafeMutableRawPointer(lookupTable).deallocate()
    }

    /// `enter(state, context, code)`: saves the callee-saved registers, sets r15/r14, loads the
    /// pinned guest registers from the state, reserves the spill frame and jumps to the code;
    /// exits jump to the returned offset, which stores the pinned registers back (every way
    /// out of translated code to the host goes through it, faults included: the handler moves
    /// the host pc there). After it, the shared exit tails that stubs jump to (`tails`: the
    /// context field that holds each one's address, and its offset in `code`).
    static func trampoline() -> (code: [UInt8], exitOffset: Int, tails: [(contextOffset: Int, code: Int)]) {
        var asm = X64Assembler()
        let saved: [GPR] = [.rbx, .rbp, .r12, .r13, .r14, .r15]
        for r in saved { asm.emit(.push64o, reg: r.number) }
        asm.emit(.lea64rm, reg: X64ABI.stateRegister.number, rm: .mem(X64Memory(base: .rdi, disp: Int32(X64ABI.stateBias))))
        asm.emit(.mov64rm, reg: X64ABI.contextRegister.number, rm: .gpr(.rsi))
        for p in X64ABI.pinnedRegisters { asm.emit(.mov64rm, reg: p.host.number, rm: pinnedHome(p.guest)) }
        asm.emit(.sub64mi, rm: .gpr(.rsp), imm: Int64(X64ABI.frameSize))
        asm.emit(.jmpm, rm: .gpr(.rdx))
        let exitOffset = asm.offset
        let epilogue = asm.newLabel()
        asm.bind(epilogue)
        for p in X64ABI.pinnedRegisters { asm.emit(.mov64mr, reg: p.host.number, rm: pinnedHome(p.guest)) }
        asm.emit(.add64mi, rm: .gpr(.rsp), imm: Int64(X64ABI.frameSize))
        for r in saved.reversed() { asm.emit(.pop64o, reg: r.number) }
        asm.emit(.ret)
        var tails: [(contextOffset: Int, code: Int)] = []
        let context = { (offset: Int) in X64RM.mem(X64Memory(base: X64ABI.contextRegister, disp: Int32(offset))) }
        let pc = X64RM.mem(X64Memory(base: X64ABI.stateRegister, disp: Int32(GuestCPUState.pcOffset - X64ABI.stateBias)))
        // Link stubs: rax = the slot's address, rcx = the target's region offset; the region
        // base is the unit table's entry 0, `slot` entries below the slot.
        for (kind, slot, field) in X64ABI.Context.linkTails {
            tails.append((field, asm.offset))
            asm.emit(.add64rm, reg: GPR.rcx.number, rm: .mem(X64Memory(base: .rax, disp: Int32(-8 * slot))))
            asm.emit(.mov64mr, reg: GPR.rax.number, rm: context(X64ABI.Context.exitSlot))
            asm.emit(.mov64mr, reg: GPR.rcx.number, rm: pc)
            asm.emit(.mov64mi, rm: context(X64ABI.Context.exitKind), imm: Int64(X64ABI.exitWord(kind: kind)))
            asm.jump(nil, to: epilogue)
        }
        // Failed bounds checks (rax = the address, rcx = the block's pc) and indirect-lookup
        // misses (rcx = the target): no slot to chain. An indirect miss first probes the buddy
        // of the home entry (see `lookupTable`) with rdx, which translated code does not
        // keep anything in at an exit, and jumps there when it holds the target (and nothing
        // was posted to the thread, as the inline probe requires).
        // An empty prediction entry's slot is the context field of the last tail: a return that
        // matched the entry goes to guest pc UInt64.max (the entry's address) and leaves as a
        // miss to there.
        let unchained: [(field: Int, word: UInt64, fault: Bool, emptyPrediction: Bool)] = [
            (X64ABI.Context.readFaultTail, X64ABI.exitWord(kind: .trap, trap: X64ABI.readFaultTrap), true, false),
            (X64ABI.Context.writeFaultTail, X64ABI.exitWord(kind: .trap, trap: X64ABI.writeFaultTrap), true, false),
            (X64ABI.Context.indirectJumpTail, X64ABI.exitWord(kind: .indirectJump), false, false),
            (X64ABI.Context.indirectCallTail, X64ABI.exitWord(kind: .indirectCall), false, false),
            (X64ABI.Context.returnMissTail, X64ABI.exitWord(kind: .ret), false, false),
            (X64ABI.Context.emptyPredictionTail, X64ABI.exitWord(kind: .ret), false, true),
        ]
        for tail in unchained {
            tails.append((tail.field, asm.offset))
            if !tail.fault && !tail.emptyPrediction { asm.emitLookupProbe(pc: GPR.rcx.number, entry: GPR.rdx.number, buddy: true) }
            if tail.fault { asm.emit(.mov64mr, reg: GPR.rax.number, rm: context(X64ABI.Context.faultAddress)) }
            if tail.emptyPrediction { asm.emit(.mov64mi, rm: .gpr(.rcx), imm: -1) }
            asm.emit(.mov64mr, reg: GPR.rcx.number, rm: pc)
            asm.emit(.mov64mi, rm: context(X64ABI.Context.exitKind), imm: Int64(tail.word))
            asm.emit(.mov64mi, rm: context(X64ABI.Context.exitSlot), imm: 0)
            asm.jump(nil, to: epilogue)
        }
        let resolved = asm.resolveLabels()
        precondition(resolved, "trampoline labels")
        return (asm.bytes, exitOffset, tails)
    }

    /// Where guest register `r` lives in the state (r15 is biased).
    private static func pinnedHome(_ r: IRGuestRegister) -> X64RM {
        .mem(X64Memory(base: X64ABI.stateRegister, disp: Int32(GuestCPUState.offset(of: r) - X64ABI.stateBias)))
    }

    /// Installs a translation whose region is loaded at `regionBase`.
    public func install(_ translation: X64Translation, regionBase: UInt64) throws(CodeBufferError) -> X64InstalledUnit {
        try codeBuffer.install(translation, regionBase: regionBase)
    }

    /// Drops every installed unit and clears the lookup table and return predictions (their
    /// slots belong to dropped units).
    public func flush() {
        codeBuffer.reset(to: firstUnit)
        for n in 0..<lookupEntries { lookupTable[2 * n] = ~0; lookupTable[2 * n + 1] = 0 }
        clearReturnPredictions()
    }

    /// A table of `entries` empty pairs, 64-byte aligned so that each entry and its buddy share
    /// a cache line.
    private static func emptyLookupTable(entries: Int) -> UnsafeMutablePointer<UInt64> {
        let table = UnsafeMutableRawPointer.allocate(byteCount: 16 * entries, alignment: 64).bindMemory(to: UInt64.self, capacity: 2 * entries)
        for n in 0..<entries { table[2 * n] = ~0; table[2 * n + 1] = 0 }
        return table
    }

    /// Where translated code finds the lookup table: its address and index mask.
    private func publishLookupTable() {
        context.storeBytes(of: UInt(bitPattern: lookupTable), toByteOffset: X64ABI.Context.lookupTable, as: UInt.self)
        context.storeBytes(of: UInt64(lookupEntries - 1) << 4, toByteOffset: X64ABI.Context.lookupMask, as: UInt64.self)
    }

    /// Doubles the lookup table, keeping its entries. Only the owning thread's dispatcher
    /// calls it, never while translated code runs.
    private func growLookupTable() {
        let old = lookupTable, oldEntries = lookupEntries
        lookupEntries *= 2
        lookupTable = Self.emptyLookupTable(entries: lookupEntries)
        for n in 0..<oldEntries where old[2 * n] != ~0 {
            store(pc: old[2 * n], code: old[2 * n + 1])
        }
        UnsafeMutableRawPointer(old).deallocate()
        publishLookupTable()
        registrationsSinceGrowth = 0
    }

    /// The lookup table entry `pc` maps to.
    @inline(__always) public func lookupIndex(_ pc: UInt64) -> Int { Int((pc >> 2) & UInt64(lookupEntries - 1)) }

    /// In a forked child: a code buffer of its own holding only the trampoline, and every
    /// unit dropped as by `flush`.
    public func separateAfterFork() throws(CodeBufferError) {
        try codeBuffer.separate(keeping: firstUnit)
        flush()
    }

    /// Forgets every predicted return (needed whenever a unit whose link slots they name goes
    /// away, e.g. on invalidation). An empty entry predicts guest address UInt64.max, which a
    /// guest can return to: its slot leads to a miss to there (`emptyPredictionTail`).
    public func clearReturnPredictions() {
        let slot = UInt64(UInt(bitPattern: context + X64ABI.Context.emptyPredictionTail))
        for n in 0..<X64ABI.Context.returnStackEntries {
            context.storeBytes(of: UInt64.max, toByteOffset: X64ABI.Context.returnStack + 16 * n, as: UInt64.self)
            context.storeBytes(of: slot, toByteOffset: X64ABI.Context.returnStack + 16 * n + 8, as: UInt64.self)
        }
    }

    /// Makes `code` the target of indirect branches to guest `pc`.
    public func register(pc: UInt64, code: UnsafeRawPointer) {
        registrationsSinceGrowth += 1
        if registrationsSinceGrowth * 2 >= lookupEntries, lookupEntries < Self.maximumLookupEntries { growLookupTable() }
        store(pc: pc, code: UInt64(UInt(bitPattern: code)))
    }

    /// Puts (pc, code) where pc already is (home or buddy), else at home, moving a different
    /// occupant of home to the buddy (dropping the buddy's): the newest target is found inline
    /// and the one it displaced by the miss tail.
    private func store(pc: UInt64, code: UInt64) {
        let n = lookupIndex(pc), b = n ^ 1
        if lookupTable[2 * b] == pc {
            lookupTable[2 * b + 1] = code
            return
        }
        if lookupTable[2 * n] != ~0, lookupTable[2 * n] != pc {
            lookupTable[2 * b] = lookupTable[2 * n]
            lookupTable[2 * b + 1] = lookupTable[2 * n + 1]
        }
        lookupTable[2 * n] = pc
        lookupTable[2 * n + 1] = code
    }

    /// Clears the indirect-branch table's entry for `pc` (home or buddy) if it still names
    /// `code`.
    public func unregister(pc: UInt64, code: UnsafeRawPointer) {
        let home = lookupIndex(pc), value = UInt64(UInt(bitPattern: code))
        for n in (0...1).lazy.map({ home ^ $0 }) where lookupTable[2 * n] == pc && lookupTable[2 * n + 1] == value {
            lookupTable[2 * n] = ~0
            lookupTable[2 * n + 1] = 0
        }
    }

    /// The host code registered for guest `pc` in the indirect-branch table, if its home
    /// entry or that entry's buddy still holds `pc`.
    @inline(__always) public func registeredCode(pc: UInt64) -> UnsafeRawPointer? {
        let n = lookupIndex(pc)
        if lookupTable[2 * n] == pc { return UnsafeRawPointer(bitPattern: UInt(lookupTable[2 * n + 1])) }
        guard lookupTable[2 * (n ^ 1)] == pc else { return nil }
        return UnsafeRawPointer(bitPattern: UInt(lookupTable[2 * (n ^ 1) + 1]))
    }

    /// Runs translated code from `code` on `state` until it returns to the host.
    public func run(_ code: UnsafeRawPointer, state: GuestCPUState) -> X64Exit {
        self.state = state
        defer { self.state = nil }
        enter(state.base, context, code)
        let kind = IRExitKind(rawValue: context.load(fromByteOffset: X64ABI.Context.exitKind, as: UInt8.self)) ?? .trap
        let rawTrap = context.load(fromByteOffset: X64ABI.Context.exitTrap, as: UInt8.self)
        let trap = IRTrapKind(rawValue: rawTrap) ?? .undefined
        let fault: (UInt64, Bool)? = kind == .trap && (rawTrap == X64ABI.readFaultTrap || rawTrap == X64ABI.writeFaultTrap)
            ? (context.load(fromByteOffset: X64ABI.Context.faultAddress, as: UInt64.self), rawTrap == X64ABI.writeFaultTrap) : nil
        let info = context.load(fromByteOffset: X64ABI.Context.exitInfo, as: UInt32.self)
        let rawSlot = context.load(fromByteOffset: X64ABI.Context.exitSlot, as: UInt.self)
        // The stub names the slot in the executable mapping; callers write through the alias.
        let slot: UInt? = rawSlot == 0 ? nil : codeBuffer.writableAddress(of: rawSlot)
        return X64Exit(kind: kind, trap: trap, info: info, slot: slot, fault: fault)
    }

    /// The interpreter helper: rebuilds the instruction described in the argument block with
    /// constant operands, runs it on the guest state and stores the result back.
    func interpretInstruction() {
        guard let state else { return }
        let args = context + X64ABI.Context.helperArguments
        let descriptor = args.load(as: UInt64.self)
        let imm = args.load(fromByteOffset: 8, as: UInt64.self)
        guard let op = IROp(rawValue: UInt8(truncatingIfNeeded: descriptor)),
              let type = IRType(rawValue: UInt8(truncatingIfNeeded: descriptor >> 8)) else { return }
        let aux = UInt16(truncatingIfNeeded: descriptor >> 16)
        builder.reset(addressing: .absolute, startOffset: 0)
        var operands: [IRValue] = [.none, .none, .none]
        for k in 0..<3 {
            guard let t = IRType(rawValue: UInt8(truncatingIfNeeded: descriptor >> (32 + 8 * UInt64(k)))), t != .void else { continue }
            let lo = args.load(fromByteOffset: 16 + 16 * k, as: UInt64.self)
            if t == .v128 {
                let hi = args.load(fromByteOffset: 24 + 16 * k, as: UInt64.self)
                operands[k] = builder.emit(.vpack, .v128, builder.const(.i64, lo), builder.const(.i64, hi))
            } else {
                operands[k] = builder.const(t, lo)
            }
        }
        let r = builder.emit(op, type, operands[0], operands[1], operands[2], imm: imm, aux: aux)
        switch type {
        case .void: break
        case .v128: builder.writeReg(.v(0), r)
        case .f32: builder.writeReg(.x(0), builder.zext(builder.emit(.bitcast, .i32, r), to: .i64))
        case .f64: builder.writeReg(.x(0), builder.emit(.bitcast, .i64, r))
        case .i64: builder.writeReg(.x(0), r)
        default: builder.writeReg(.x(0), builder.zext(r, to: .i64))
        }
        builder.finish(.jump(0), guestLength: 0)
        let savedX0 = state.x(0), savedV0 = state.v(0), savedPC = state.pc
        var memory = HostMemory()
        _ = try? interpreter.run(builder.block, state: state, memory: &memory, regionBase: 0)
        args.storeBytes(of: state.x(0), toByteOffset: 64, as: UInt64.self)
        if type == .v128 {
            let v = state.v(0)
            args.storeBytes(of: v.lo, toByteOffset: 64, as: UInt64.self)
            args.storeBytes(of: v.hi, toByteOffset: 72, as: UInt64.self)
        } else {
            args.storeBytes(of: UInt64(0), toByteOffset: 72, as: UInt64.self)
        }
        state.setX(0, savedX0)
        state.setV(0, savedV0)
        state.pc = savedPC
    }
}
