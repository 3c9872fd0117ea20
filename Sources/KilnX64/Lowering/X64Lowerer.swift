import KilnIR

/// What the lowering may assume about the host. Part of the translation configuration: the
/// same IR and options always give the same bytes (DESIGN.md invariant 2).
public struct X64LoweringOptions: Hashable, Sendable {
    /// Extensions the lowering may use; it reports the subset it actually used.
    public var features: X64Features
    /// Store guest general registers, SP, NZCV and TPIDR_EL0 once at the exit (fast) rather
    /// than at each write (guest state exact at every instruction, for precise faults).
    public var deferRegisterWrites: Bool
    /// Compare every guest access with the guest's address limit (context block) so that an
    /// address beyond it faults instead of reaching the host's memory.
    public var checkGuestBounds: Bool
    /// Run `IRVerifier` on each block first, so that malformed IR fails as `.malformedIR`
    /// instead of trapping. Blocks from Kiln's own A64 frontend are well formed by
    /// construction; a release-build pipeline lowering only those may skip the check (a few
    /// percent of translation time). It does not change the code produced.
    public var verifiesIR: Bool

    public init(features: X64Features, deferRegisterWrites: Bool = true, checkGuestBounds: Bool = true, verifiesIR: Bool = true) {
        self.features = features
        self.deferRegisterWrites = deferRegisterWrites
        self.checkGuestBounds = checkGuestBounds
        self.verifiesIR = verifiesIR
    }

    /// The features this backend knows how to use, restricted to `host`.
    public static func forHost(_ host: X64Features) -> X64LoweringOptions {
        X64LoweringOptions(features: host.intersection([.ssse3, .sse41, .sse42, .popcnt, .lzcnt, .bmi1, .bmi2, .lahfsahf, .cmpxchg16b]))
    }
}

/// Lowers IR blocks to x86-64. One lowerer per thread; it keeps its storage between blocks.
///
/// Register allocation is a single forward pass over the block's SSA values (blocks are
/// straight-line; side exits only leave): operands are brought into registers at their use,
/// results get a free register, and when none is free the value whose last use is furthest
/// away is spilled to its frame slot (constants are re-materialized instead). Guest general
/// registers, SP, NZCV and TPIDR_EL0 are cached: reads after the first reuse the SSA value,
/// writes are deferred and stored once at the exit (and on a taken side exit's path).
public struct X64Lowerer {
    public var options: X64LoweringOptions
    var asm = X64Assembler()
    var insts: [IRInst] = []
    var block = IRBlock()

    // Per IR value.
    var alias: [Int32] = []
    var lastUse: [Int32] = []
    var regOf: [Int8] = []
    var slotOf: [Int32] = []
    /// The non-pinned guest register (x0-x30, TPIDR_EL0) whose final value this is, or -1:
    /// evicted late enough, the value goes to that register's place in the guest state
    /// instead of a spill slot (`evictsHome`), and the exit stores nothing for it.
    var homeRegister: [Int8] = []
    /// Values whose register was evicted to their home register's place in the guest state.
    var atHome: [Bool] = []
    /// NZCV values kept as x86 flags parked by LAHF (AH) and SETO (AL) instead of A64 layout.
    var rawFlags: [Bool] = []
    var needsCode: [Bool] = []
    /// Loads and stores: the address as base value + displacement, folding constant adds.
    var addressBase: [Int32] = []
    var addressDisp: [Int32] = []
    /// `vpack(bitcast(float), 0)`: the float operand (before aliasing) whose low bits form the
    /// vector (-1 if not).
    var packedFloat: [Int32] = []
    var useCount: [Int32] = []
    /// `trunc` of a guest register read used nowhere else: a narrow load from guest state.
    /// Also set on a `sext` whose folded `trunc` (`extendSource`) reads such a register.
    var truncatedLoad: [Bool] = []
    /// `sext` of a `trunc` to 8, 16 or 32 bits that only it reads: the trunc's source, whose
    /// low bits the extension reads itself (movsxd rsi, ebp), or -1.
    var extendSource: [Int32] = []
    /// A `trunc`'s `sext` reader (the candidate for `extendSource`), or -1.
    var truncExtension: [Int32] = []
    /// The host register of the pinned guest register whose final value this is, when the
    /// final write is its only use (-1 if not): defined late enough, it goes straight there.
    var pinnedDestination: [Int8] = []
    /// `add` of a value and a `shl` by 1...3 that only it reads: the shifted value, added
    /// with a scaled index (lea rdi, [rbp + rsi * 8]), or -1; the scale's log2 and which
    /// operand (0: a, 1: b) the shift was.
    var scaledIndex: [Int32] = []
    var scaleShift: [UInt8] = []
    var scaledOperand: [UInt8] = []
    /// A `shl`'s `add` reader (the candidate for `scaledIndex`), or -1.
    var shiftAddition: [Int32] = []
    /// `add(regionAddress, constant)` whose region address only it reads (ADRP + ADD): that
    /// region address, emitted here with the sum as its offset (-1 if not).
    var foldedRegionAddress: [Int32] = []
    /// A `regionAddress`'s `add`-of-a-constant reader (the candidate), or -1.
    var regionAddressAddition: [Int32] = []
    // Analysis scratch, kept between blocks.
    var used: [Bool] = []
    var otherUse: [Bool] = []
    var cache: [Int32] = []
    var written: [Bool] = []
    /// A condition used only by the branch exit on raw flags: evaluated by the exit's Jcc.
    var fusedExitCondition: Int32 = -1
    /// An integer comparison used only by the branch exit: compared by the exit itself.
    var fusedExitCompare: Int32 = -1
    /// For a comparison an exit makes itself: the AND (of TBZ, TBNZ) whose operands it tests
    /// instead (`fuseAndIntoCompare`), or -1.
    var comparedAnd: [Int32] = []
    /// Conditions on raw flags read only by one integer `select`: its CMOVcc tests the flags
    /// (`selectOfCondition`: that select, found by the backward use pass).
    var fusedSelectCondition: [Bool] = []
    /// For an NZCV logic producer: the AND it tests itself (TEST instead of AND + TEST, when
    /// nothing else reads the AND), or -1.
    var fusedTestOperand: [Int32] = []
    var selectOfCondition: [Int32] = []

    // Host registers: the value each holds (-1 free); pinned registers belong to the current
    // instruction's operands and result.
    var gprHolder = [Int32](repeating: -1, count: 16)
    var xmmHolder = [Int32](repeating: -1, count: 16)
    /// Registers whose holder is a value (bit n: register n), so that releasing dead values
    /// after each instruction visits only those.
    var heldGPR: UInt16 = 0
    var heldXMM: UInt16 = 0
    var pinnedGPR: UInt16 = 0
    var pinnedXMM: UInt16 = 0
    var nextSlot: Int32 = 0
    var current = 0

    /// Which value EFLAGS hold (-1 none) and whether host CF is inverted relative to A64 C.
    var flagsValue: Int32 = -1
    var flagsInverted = false
    /// The value of the block's final NZCV write (-1 none), and the raw flags value parked
    /// straight into NZCV's guest-state home (-1 none; it then has no register).
    var finalFlags: Int32 = -1
    var flagsAtHome: Int32 = -1
    /// Raw flags values that were never parked: every reader runs while EFLAGS still hold
    /// them (`flagsStayInEFLAGS`).
    var unparkedFlags: [Bool] = []

    /// Guest registers with a deferred write at the exit: register -> value.
    var finalWrites: [(register: IRGuestRegister, value: Int32)] = []
    /// Per guest register: whether the block reads its entry value, the index of its last
    /// write, and whether that write was already stored by an eviction to its home.
    var entryValueRead: [Bool] = []
    var lastWrite: [Int32] = []
    var storedHome: [Bool] = []
    /// The last instruction that can fault (-1 if none). A fault replays the block from its
    /// start on the interpreter, from the guest state: before it, only registers whose entry
    /// value the block never reads may already hold new values there.
    var lastFaultPoint = -1
    /// Per host register: the last instruction that reads the entry value of the guest
    /// register pinned there (-1 none). A final value may take the host register only after
    /// it (`availablePinnedDestination`).
    var lastPinnedEntryRead = [Int32](repeating: -1, count: 16)
    /// The last side exit (`exitIf`; -1 if none) and all of them in order: a final value
    /// defined before one is stored early only as `noSideExitBefore` allows.
    var lastSideExit = -1
    var sideExitIndices: [Int] = []
    /// Guest registers with a deferred write before each side exit and their values there:
    /// `sideExitWrites[sideExitWriteStart[i] ..< sideExitWriteEnd[i]]` for side exit `i`.
    var sideExitWrites: [(register: IRGuestRegister, value: Int32)] = []
    var sideExitWriteStart: [Int32] = []
    var sideExitWriteEnd: [Int32] = []
    /// Per value: the side exit reading it as its condition (the candidate for fusion), or -1.
    var sideExitOfCondition: [Int32] = []
    /// Per side exit: the condition or comparison its Jcc evaluates itself, or -1.
    var sideExitFused: [Int32] = []
    var sideExitMoves: [SideExitMove] = []
    var sideExitPaths: [SideExitPath] = []

    var relocations: [X64Relocation] = []
    var pcMap: [X64PCMapEntry] = []
    var linkSlots: [X64LinkSlot] = []
    var helperOps: Set<IROp> = []
    var failure: X64LoweringError?
    var pendingStubKinds: [IRExitKind] = []
    /// Per link slot: the label its stub binds (the interrupt check at chained exits jumps there).
    var pendingStubLabels: [X64Label] = []
    var floatSlowPaths: [FloatSlowPath] = []
    var boundsFaults: [BoundsFault] = []
    /// Base values whose bounds this block has checked.
    var boundsChecked: [Bool] = []
    var mxcsrState = MXCSRState.unknown

    public init(options: X64LoweringOptions) {
        self.options = options
    }

    /// Whether guest register `r` is cached in host registers across the block.
    @inline(__always) static func isCached(_ r: IRGuestRegister) -> Bool {
        r.rawValue <= 32 || r.rawValue == IRGuestRegister.tpidr.rawValue
    }

    /// Lowers `block`. The code is position independent: region addresses come from the unit
    /// table's base entry, exits go through link slots in that table, helpers through the
    /// context block.
    public mutating func lower(_ block: IRBlock) throws(X64LoweringError) -> X64Translation {
        // Malformed IR must fail cleanly, never index out of range below.
        if options.verifiesIR {
            do { try IRVerifier.verify(block) } catch { throw .malformedIR(index: error.instruction ?? block.instructions.count) }
        }
        // The instructions are shared with the caller's builder only while lowering: held
        // afterwards, the builder's next reset would have to allocate new storage.
        self.block = block
        self.block.instructions = []
        insts = block.instructions
        defer { insts = [] }
        asm.reset()
        relocations.removeAll(keepingCapacity: true)
        linkSlots.removeAll(keepingCapacity: true)
        pendingStubKinds.removeAll(keepingCapacity: true)
        pendingStubLabels.removeAll(keepingCapacity: true)
        sideExitMoves.removeAll(keepingCapacity: true)
        sideExitPaths.removeAll(keepingCapacity: true)
        helperOps.removeAll(keepingCapacity: true)
        finalWrites.removeAll(keepingCapacity: true)
        pcMap.removeAll(keepingCapacity: true)
        failure = nil
        analyze()
        for i in 0..<16 { gprHolder[i] = -1; xmmHolder[i] = -1 }
        heldGPR = 0; heldXMM = 0
        pinnedGPR = 0; pinnedXMM = 0
        nextSlot = 0
        flagsValue = -1
        flagsAtHome = -1
        mxcsrState = .unknown
        floatSlowPaths.removeAll(keepingCapacity: true)
        boundsFaults.removeAll(keepingCapacity: true)
        for i in insts.indices {
            if insts[i].op == .guestInstruction {
                pcMap.append(X64PCMapEntry(hostOffset: UInt32(asm.offset), guestOffset: insts[i].imm))
            }
            guard needsCode[i] else { continue }
            current = i
            lowerInstruction(i)
            releaseDeadOperands(i)
            pinnedGPR = 0; pinnedXMM = 0
            if let failure { throw failure }
        }
        current = insts.count
        lowerExit()
        if let failure { throw failure }
        guard asm.resolveLabels() else { throw .malformedIR(index: insts.count) }
        // Copies sized to their contents: the lowerer's buffers are reused for the next block,
        // and a caller that keeps a translation (the JIT keeps the pc map) must not share them.
        return X64Translation(code: asm.bytes, relocations: Self.exactCopy(relocations),
                              linkSlots: Self.exactCopy(linkSlots), pcMap: Self.exactCopy(pcMap),
                              tableEntries: X64ABI.UnitTable.firstLinkSlot + linkSlots.count,
                              features: asm.features, instructionCount: asm.instructionCount,
                              cacheable: block.addressing == .region, helperOps: helperOps)
    }

    /// A copy of `array` in storage of its own, no larger than its contents.
    static func exactCopy<T>(_ array: [T]) -> [T] {
        array.isEmpty ? [] : array.withUnsafeBufferPointer { Array($0) }
    }

    // MARK: Analysis

    @inline(__always) func resolved(_ v: IRValue) -> Int32 { alias[Int(v.index)] }

    /// Whether operand `a` of `op` is an IR value (not the encoding of `guestInstruction`).
    @inline(__always) static func hasValueOperands(_ op: IROp) -> Bool {
        switch op {
        case .guestInstruction, .const, .regionAddress, .readReg, .readSystem, .clearExclusive, .fence: return false
        default: return true
        }
    }

    mutating func analyze() {
        let n = insts.count
        alias.removeAll(keepingCapacity: true)
        alias.append(contentsOf: 0..<Int32(n))
        Self.fill(&lastUse, n, -1)
        Self.fill(&regOf, n, -1)
        Self.fill(&slotOf, n, -1)
        Self.fill(&homeRegister, n, -1)
        Self.fill(&atHome, n, false)
        Self.fill(&entryValueRead, IRGuestRegister.count, false)
        Self.fill(&lastWrite, IRGuestRegister.count, -1)
        Self.fill(&storedHome, IRGuestRegister.count, false)
        lastFaultPoint = -1
        lastSideExit = -1
        sideExitIndices.removeAll(keepingCapacity: true)
        sideExitWrites.removeAll(keepingCapacity: true)
        Self.fill(&sideExitWriteStart, n, 0)
        Self.fill(&sideExitWriteEnd, n, 0)
        Self.fill(&sideExitOfCondition, n, -1)
        Self.fill(&sideExitFused, n, -1)
        for h in lastPinnedEntryRead.indices { lastPinnedEntryRead[h] = -1 }
        Self.fill(&rawFlags, n, false)
        Self.fill(&needsCode, n, false)
        Self.fill(&addressBase, n, -1)
        Self.fill(&addressDisp, n, 0)
        Self.fill(&packedFloat, n, -1)
        Self.fill(&useCount, n, 0)
        Self.fill(&truncatedLoad, n, false)
        Self.fill(&extendSource, n, -1)
        Self.fill(&truncExtension, n, -1)
        Self.fill(&pinnedDestination, n, -1)
        Self.fill(&scaledIndex, n, -1)
        Self.fill(&scaleShift, n, 0)
        Self.fill(&scaledOperand, n, 0)
        Self.fill(&shiftAddition, n, -1)
        Self.fill(&foldedRegionAddress, n, -1)
        Self.fill(&regionAddressAddition, n, -1)
        Self.fill(&boundsChecked, n, false)
        Self.fill(&fusedSelectCondition, n, false)
        Self.fill(&unparkedFlags, n, false)
        Self.fill(&fusedTestOperand, n, -1)
        Self.fill(&comparedAnd, n, -1)
        Self.fill(&selectOfCondition, n, -1)
        Self.fill(&used, n, false)
        Self.fill(&otherUse, n, false)
        Self.fill(&cache, IRGuestRegister.count, -1)
        Self.fill(&written, IRGuestRegister.count, false)
        fusedExitCondition = -1
        fusedExitCompare = -1

        for i in 0..<n {
            let inst = insts[i]
            switch inst.op {
            case .readReg:
                let r = IRGuestRegister(rawValue: inst.aux)
                if r.isValid && Self.isCached(r) {
                    if cache[Int(r.rawValue)] >= 0 {
                        alias[i] = cache[Int(r.rawValue)]
                    } else {
                        // No write before it (a write sets `cache`): the entry value.
                        cache[Int(r.rawValue)] = Int32(i)
                        entryValueRead[Int(r.rawValue)] = true
                    }
                }
            case .writeReg:
                let r = IRGuestRegister(rawValue: inst.aux)
                if r.isValid && Self.isCached(r) && !inst.a.isNone && Int(inst.a.index) < i {
                    cache[Int(r.rawValue)] = alias[Int(inst.a.index)]
                    lastWrite[Int(r.rawValue)] = Int32(i)
                    // Pinned registers change only at exits, even with precise writes.
                    written[Int(r.rawValue)] = options.deferRegisterWrites || X64ABI.pinnedHost[Int(r.rawValue)] >= 0
                }
            case .vextract:
                // Lane 0 of a vector as a float is the low bits of the same register.
                let e = IRElement(rawValue: inst.aux)
                if inst.imm == 0 && !inst.a.isNone && Int(inst.a.index) < i && insts[Int(inst.a.index)].type == .v128
                    && ((inst.type == .f64 && e.sizeLog2 == 3) || (inst.type == .f32 && e.sizeLog2 == 2)) {
                    alias[i] = alias[Int(inst.a.index)]
                }
            case .exitIf:
                noteSideExit(i)
            case .zext:
                // Integers are held zero-extended, so an integer zext is the same register.
                if !inst.a.isNone && Int(inst.a.index) < i && inst.type.isInteger && insts[Int(inst.a.index)].type.isInteger {
                    alias[i] = alias[Int(inst.a.index)]
                }
            default: break
            }
        }
        for r in 0..<IRGuestRegister.count where written[r] {
            finalWrites.append((IRGuestRegister(rawValue: UInt16(r)), cache[r]))
            let register = IRGuestRegister(rawValue: UInt16(r))
            if (r <= 30 || register == .tpidr) && X64ABI.pinnedHost[r] < 0 && homeRegister[Int(cache[r])] < 0
                && insts[Int(cache[r])].type.isInteger {
                homeRegister[Int(cache[r])] = Int8(r)
            }
        }

        // Uses, backwards so that dead pure values are dropped with everything only they use.
        let exit = block.exit
        if exit.kind == .branch || exit.kind == .indirectJump || exit.kind == .indirectCall || exit.kind == .ret {
            markUse(exit.value, at: n)
        }
        var exitCondition = -1
        if exit.kind == .branch && !exit.value.isNone && Int(exit.value.index) < n {
            let c = Int(alias[Int(exit.value.index)])
            let cond = IRCondition(rawValue: insts[c].aux) ?? .al
            if insts[c].op == .condition && cond != .al && cond != .nv { exitCondition = c }
        }
        for w in finalWrites {
            used[Int(w.value)] = true
            useCount[Int(w.value)] += 1
            lastUse[Int(w.value)] = Int32(n)
            if w.register != .nzcv { otherUse[Int(w.value)] = true }
        }
        finalFlags = finalWrites.first { $0.register == .nzcv }?.value ?? -1
        for w in finalWrites where X64ABI.pinnedHost[Int(w.register.rawValue)] >= 0 && useCount[Int(w.value)] == 1 {
            pinnedDestination[Int(w.value)] = X64ABI.pinnedHost[Int(w.register.rawValue)]
        }
        let exitCompare = fusableExitCompare()
        for i in stride(from: n - 1, through: 0, by: -1) {
            let inst = insts[i]
            if alias[i] != Int32(i) { continue }
            let cachedWrite = inst.op == .writeReg && Self.isCached(IRGuestRegister(rawValue: inst.aux))
                && (options.deferRegisterWrites || (IRGuestRegister(rawValue: inst.aux).isValid && X64ABI.pinnedHost[Int(inst.aux)] >= 0))
            guard used[i] || (inst.op.hasSideEffects && !cachedWrite && inst.op != .guestInstruction) else { continue }
            if inst.op == .exitIf { markSideExitUses(i) }
            if fuseIntoSideExit(i) { continue }
            if i == exitCondition && useCount[i] == 1 {
                // Only the branch reads it: the exit tests the flags instead (if they stay raw).
                fusedExitCondition = Int32(i)
                markUse(inst.a, at: n)
                continue
            }
            if i == exitCompare && useCount[i] == 1 {
                fusedExitCompare = Int32(i)
                if !fuseAndIntoCompare(i, at: n) { markUse(inst.a, at: n) }
                markUse(inst.b, at: n)
                continue
            }
            if fuseConditionIntoSelect(i) { continue }
            if fuseAndIntoTest(i) { continue }
            if inst.op == .trunc, useCount[i] == 1, truncExtension[i] >= 0, inst.type == .i8 || inst.type == .i16 || inst.type == .i32,
               !inst.a.isNone, Int(inst.a.index) < i, insts[Int(alias[Int(inst.a.index)])].type.isInteger {
                // Its one reader, a sign extension, reads the source's low bits itself.
                let reader = Int(truncExtension[i])
                extendSource[reader] = alias[Int(inst.a.index)]
                markUse(inst.a, at: reader)
                otherUse[Int(alias[Int(inst.a.index)])] = true
                continue
            }
            if inst.op == .regionAddress, useCount[i] == 1, regionAddressAddition[i] >= 0 {
                // Its one reader adds a constant: that add is this address, offset by both.
                foldedRegionAddress[Int(regionAddressAddition[i])] = Int32(i)
                continue
            }
            if inst.op == .shl, useCount[i] == 1, shiftAddition[i] >= 0, let k = constant(inst.b), (1...3).contains(k),
               !inst.a.isNone, Int(inst.a.index) < i {
                // Its one reader, an add, scales the index itself.
                let reader = Int(shiftAddition[i])
                scaledIndex[reader] = alias[Int(inst.a.index)]
                scaleShift[reader] = UInt8(k)
                markUse(inst.a, at: reader)
                otherUse[Int(alias[Int(inst.a.index)])] = true
                continue
            }
            needsCode[i] = inst.op != .const
            guard Self.hasValueOperands(inst.op) && !cachedWrite else { continue }
            var operands = (inst.a, inst.b, inst.c)
            if (inst.op == .load || inst.op == .store) && !inst.a.isNone && Int(inst.a.index) < i {
                // Fold `add base, constant` chains into the access's displacement.
                var base = Int(alias[Int(inst.a.index)]), disp: Int64 = 0
                // (Instructions read into locals: calling `constant` here made the compiler copy
                // the whole lowerer per step.)
                while true {
                    let add = insts[base]
                    guard add.op == .add && add.type == .i64, !add.b.isNone, Int(add.b.index) < base else { break }
                    let k = insts[Int(alias[Int(add.b.index)])]
                    guard k.op == .const else { break }
                    let next = disp &+ Int64(bitPattern: k.imm & k.type.mask)
                    guard next >= Int64(Int32.min) && next <= Int64(Int32.max) else { break }
                    disp = next
                    base = Int(alias[Int(add.a.index)])
                }
                addressBase[i] = Int32(base)
                addressDisp[i] = Int32(disp)
                operands.0 = IRValue(base)
            }
            if inst.op == .vpack && !inst.a.isNone && Int(inst.a.index) < i && !inst.b.isNone && Int(inst.b.index) < i
                && constant(inst.b) == 0 {
                // A scalar FP result written to a vector register: the float itself, upper bits cleared.
                let source = insts[Int(alias[Int(inst.a.index)])]
                if source.op == .bitcast && !source.a.isNone && (source.type == .i64 || source.type == .i32)
                    && (insts[Int(source.a.index)].type == .f64 || insts[Int(source.a.index)].type == .f32) {
                    packedFloat[i] = Int32(source.a.index)
                    operands = (IRValue(Int(packedFloat[i])), .none, .none)
                }
            }
            if inst.op == .sext, !inst.a.isNone, Int(inst.a.index) < i, insts[Int(alias[Int(inst.a.index)])].op == .trunc {
                truncExtension[Int(alias[Int(inst.a.index)])] = Int32(i)
            }
            if inst.op == .add, inst.type == .i64 || inst.type == .i32, !inst.a.isNone, !inst.b.isNone,
               Int(inst.a.index) < i, Int(inst.b.index) < i {
                // Candidates for folding into this add: a region address plus a constant
                // (ADRP + ADD), or a shift by 1-3 beside a non-constant (an add-immediate is
                // already one LEA or ADD).
                let ra = Int(alias[Int(inst.a.index)]), rb = Int(alias[Int(inst.b.index)])
                if inst.type == .i64 && insts[ra].op == .regionAddress && insts[rb].op == .const {
                    regionAddressAddition[ra] = Int32(i)
                } else if insts[rb].op == .shl && insts[rb].type == inst.type && insts[ra].op != .const {
                    shiftAddition[rb] = Int32(i); scaledOperand[i] = 1
                } else if insts[ra].op == .shl && insts[ra].type == inst.type && insts[rb].op != .const {
                    shiftAddition[ra] = Int32(i); scaledOperand[i] = 0
                }
            }
            let flagsSelect = isParkableFlagsSelect(i)
            if flagsSelect { rawFlags[i] = true }
            for k in 0..<3 {
                let v = pick(k, operands.0, operands.1, operands.2, .none)
                guard !v.isNone && Int(v.index) < i else { continue }
                markUse(v, at: i)
                let flagsStore = inst.op == .writeReg && inst.aux == IRGuestRegister.nzcv.rawValue
                if inst.op != .condition && !flagsStore && !(flagsSelect && k == 1) { otherUse[Int(alias[Int(v.index)])] = true }
            }
        }
        // One pass, each instruction read into a local.
        let lahf = options.features.contains(.lahfsahf)
        for i in 0..<n {
            guard needsCode[i] else { continue }
            let inst = insts[i]
            switch inst.op {
            case .load, .store, .loadExclusive, .storeExclusive, .atomicRMW, .compareAndSwap, .zeroBlock:
                lastFaultPoint = i
            case .readReg where IRGuestRegister(rawValue: inst.aux).isValid && X64ABI.pinnedHost[Int(inst.aux)] >= 0:
                lastPinnedEntryRead[Int(X64ABI.pinnedHost[Int(inst.aux)])] = Int32(i)
            case .nzcvAdd, .nzcvSub, .nzcvAdc, .nzcvLogic:
                let t = insts[Int(inst.a.index)].type
                rawFlags[i] = !otherUse[i] && (t == .i32 || t == .i64) && lahf
            case .readReg where inst.aux == IRGuestRegister.nzcv.rawValue:
                // Guest state holds NZCV parked: read by conditions only, it stays so.
                rawFlags[i] = !otherUse[i] && lahf
            case .select where rawFlags[i]:
                // CCMP's select stays parked when its compare did (it has no other reader).
                rawFlags[i] = rawFlags[Int(alias[Int(inst.b.index)])]
            case .sext where extendSource[i] >= 0:
                // As for `trunc` below: a sign-extending load from guest state.
                let r = Int(extendSource[i])
                if insts[r].op == .readReg && insts[r].type == .i64 && useCount[r] == 1
                    && IRGuestRegister(rawValue: insts[r].aux).isValid && X64ABI.pinnedHost[Int(insts[r].aux)] < 0 {
                    truncatedLoad[i] = true
                    needsCode[r] = false
                }
            case .trunc where inst.type.isInteger:
                // The register read is earlier than `i`, so no later iteration looks at it.
                let r = Int(alias[Int(inst.a.index)])
                // (Not of a pinned register: that is a move from its host register.)
                if insts[r].op == .readReg && insts[r].type == .i64 && useCount[r] == 1
                    && IRGuestRegister(rawValue: insts[r].aux).isValid && X64ABI.pinnedHost[Int(insts[r].aux)] < 0 {
                    truncatedLoad[i] = true
                    needsCode[r] = false
                }
            default: break
            }
        }
        unfuseSelectConditionsOnConvertedFlags()
        unfuseSideExitConditionsOnConvertedFlags()
        if fusedExitCondition >= 0 && !rawFlags[Int(alias[Int(insts[Int(fusedExitCondition)].a.index)])] {
            needsCode[Int(fusedExitCondition)] = true
            fusedExitCondition = -1
        }
    }

    /// Records a use of `v` by instruction `i` (the exit counts as `insts.count`).
    @inline(__always) mutating func markUse(_ v: IRValue, at i: Int) {
        guard !v.isNone, Int(v.index) < insts.count else { return }
        let r = Int(alias[Int(v.index)])
        used[r] = true
        useCount[r] += 1
        if lastUse[r] < Int32(i) { lastUse[r] = Int32(i) }
    }

    /// Sets the first `count` elements of `array` to `value`, growing it if needed. It is
    /// never shrunk: elements past `count` are stale, and only indices below the block's
    /// instruction count are read.
    static func fill<T: BitwiseCopyable>(_ array: inout [T], _ count: Int, _ value: T) {
        if array.count < count { array.append(contentsOf: repeatElement(value, count: count - array.count)) }
        array.withUnsafeMutableBufferPointer { $0.baseAddress?.update(repeating: value, count: count) }
    }

    // MARK: Register allocation

    @inline(__always) static func isVectorClass(_ t: IRType) -> Bool { t == .f32 || t == .f64 || t == .v128 }

    /// The host register holding operand `v`, loading or materializing it if needed. The
    /// register stays reserved until the current instruction is done.
    mutating func use(_ v: IRValue) -> UInt8 {
        let r = Int(resolved(v))
        let vector = Self.isVectorClass(insts[r].type)
        if regOf[r] >= 0 {
            pin(UInt8(regOf[r]), vector: vector)
            return UInt8(regOf[r])
        }
        let reg = allocate(vector: vector, for: Int32(r))
        if insts[r].op == .const {
            materializeConstant(insts[r], into: reg, vector: vector)
        } else if atHome[r] {
            asm.emit(.mov64rm, reg: reg, rm: state(GuestCPUState.offset(of: IRGuestRegister(rawValue: UInt16(homeRegister[r])))))
        } else if Int32(r) == flagsAtHome {
            asm.emit(.movzx32rm16, reg: reg, rm: state(GuestCPUState.offset(of: .nzcv)))
        } else if slotOf[r] >= 0 {
            let mem = X64RM.mem(spillSlot(slotOf[r]))
            if vector { asm.emit(.movdqu_x_xm, reg: reg, rm: mem) } else { asm.emit(.mov64rm, reg: reg, rm: mem) }
        } else {
            failure = .malformedIR(index: current)
        }
        return reg
    }

    /// The result register of instruction `i`, taking over operand `v`'s register when this
    /// is `v`'s last use (two-address x86 forms then need no copy).
    mutating func define(_ i: Int, reusing v: IRValue) -> UInt8 {
        let r = Int(resolved(v))
        let vector = Self.isVectorClass(insts[i].type)
        // A pinned register's final value rather goes to its host register.
        guard availablePinnedDestination(i) == nil else { return define(i) }
        guard lastUse[r] == Int32(current), regOf[r] >= 0, Self.isVectorClass(insts[r].type) == vector,
              vector || X64ABI.pinnedHostMask & (1 << UInt16(regOf[r])) == 0 else { return define(i) }
        let reg = UInt8(regOf[r])
        regOf[r] = -1
        if vector { xmmHolder[Int(reg)] = Int32(i) } else { gprHolder[Int(reg)] = Int32(i) }
        regOf[i] = Int8(reg)
        return reg
    }

    /// Gives value `i` (a read of a pinned guest register) that register's host register:
    /// no code, the register holds the block-entry value until the exit.
    mutating func definePinned(_ i: Int, host: UInt8) {
        gprHolder[Int(host)] = Int32(i)
        heldGPR |= 1 << host
        regOf[i] = Int8(host)
    }

    /// `mov d, s` at 64 or 32 bits, omitted when they are the same register (values are held
    /// zero-extended, so a 32-bit self-move would change nothing).
    mutating func copy(_ d: UInt8, _ s: UInt8, wide: Bool) {
        if d != s { asm.emit(wide ? .mov64rm : .mov32rm, reg: d, rm: .reg(s)) }
    }

    /// A fresh register for the result of the current instruction: the host register of the
    /// pinned guest register it is the final value of when that is available
    /// (`availablePinnedDestination`; saves the move at the exit), else an allocatable one.
    mutating func define(_ i: Int) -> UInt8 {
        if let host = availablePinnedDestination(i) {
            definePinned(i, host: host)
            return host
        }
        return allocate(vector: Self.isVectorClass(insts[i].type), for: Int32(i))
    }

    /// The host register value `i` may be defined in directly as the final value of a pinned
    /// guest register: when nothing can fault from here on (a fault replays the block from its
    /// entry values) and the entry value held there is dead: no value holds the register and
    /// no later instruction reads the entry value (a pinned register's read is lowered where
    /// it stands, as the host register itself: `sub w1, w3, w0; mov x0, x3` must not put x3
    /// in x0's register before the SUB reads x0).
    func availablePinnedDestination(_ i: Int) -> UInt8? {
        let host = pinnedDestination[i]
        guard host >= 0, !Self.isVectorClass(insts[i].type), i > lastFaultPoint, gprHolder[Int(host)] < 0,
              lastPinnedEntryRead[Int(host)] < Int32(i),
              noSideExitBefore(lastWriteOf: Int(X64ABI.pinnedGuest[Int(host)]), after: i) else { return nil }
        return UInt8(host)
    }

    @inline(__always) mutating func pin(_ reg: UInt8, vector: Bool) {
        if vector { pinnedXMM |= 1 << reg } else { pinnedGPR |= 1 << reg }
    }

    mutating func allocate(vector: Bool, for value: Int32) -> UInt8 {
        let candidates = vector ? X64ABI.allocatableXMMs : X64ABI.allocatableGPRNumbers
        var chosen: UInt8? = nil
        for c in candidates where (vector ? xmmHolder[Int(c)] : gprHolder[Int(c)]) < 0 {
            if (vector ? pinnedXMM : pinnedGPR) & (1 << c) == 0 { chosen = c; break }
        }
        if chosen == nil {
            // Evict the unpinned value used furthest in the future; of those, preferably one
            // that can go to its guest register's home (a store, and no reload at the exit).
            var best: Int64 = -4
            for c in candidates where (vector ? pinnedXMM : pinnedGPR) & (1 << c) == 0 {
                let holder = Int(vector ? xmmHolder[Int(c)] : gprHolder[Int(c)])
                let next = Int64(lastUse[holder]) * 2 + (!vector && evictsHome(holder) ? 1 : 0)
                if next > best { best = next; chosen = c }
            }
            if let c = chosen { evict(c, vector: vector) }
        }
        guard let reg = chosen else {
            failure = .malformedIR(index: current)
            return vector ? 0 : 0
        }
        if vector { xmmHolder[Int(reg)] = value; heldXMM |= 1 << reg } else { gprHolder[Int(reg)] = value; heldGPR |= 1 << reg }
        regOf[Int(value)] = Int8(reg)
        pin(reg, vector: vector)
        return reg
    }

    /// Frees `reg`, storing its value to the value's spill slot first unless it is a constant
    /// or already there.
    mutating func evict(_ reg: UInt8, vector: Bool) {
        let holder = vector ? xmmHolder[Int(reg)] : gprHolder[Int(reg)]
        guard holder >= 0 else { return }
        let h = Int(holder)
        if insts[h].op != .const && slotOf[h] < 0 && !atHome[h] && lastUse[h] >= Int32(current) {
            if evictsHome(h) {
                let register = Int(homeRegister[h])
                asm.emit(.mov64mr, reg: reg, rm: state(GuestCPUState.offset(of: IRGuestRegister(rawValue: UInt16(register)))))
                atHome[h] = true
                storedHome[register] = true
            } else {
                guard nextSlot < Int32(X64ABI.spillSlots) else { failure = .tooManySpills; return }
                slotOf[h] = nextSlot
                nextSlot += 1
                let mem = X64RM.mem(spillSlot(slotOf[h]))
                if vector { asm.emit(.movdqu_xm_x, reg: reg, rm: mem) } else { asm.emit(.mov64mr, reg: reg, rm: mem) }
            }
        }
        regOf[h] = -1
        if vector { xmmHolder[Int(reg)] = -1; heldXMM &= ~(1 << reg) } else { gprHolder[Int(reg)] = -1; heldGPR &= ~(1 << reg) }
    }

    /// Whether value `h`, evicted now, may go to its home register's place in the guest state:
    /// its register's last write is behind us, and a fault from here on (which replays the
    /// block from the guest state) either cannot happen or does not read that register's
    /// entry value. The exit then has nothing to store for it.
    @inline(__always) func evictsHome(_ h: Int) -> Bool {
        let register = Int(homeRegister[h])
        guard register >= 0, Int32(current) > lastWrite[register] else { return false }
        return current > lastFaultPoint || !entryValueRead[register]
    }

    @inline(__always) func spillSlot(_ n: Int32) -> X64Memory {
        X64Memory(base: .rsp, disp: n * 16)
    }

    /// Frees the registers of values whose last use was instruction `i`.
    mutating func releaseDeadOperands(_ i: Int) {
        var gprs = heldGPR
        while gprs != 0 {
            let r = gprs.trailingZeroBitCount
            gprs &= gprs - 1
            let g = gprHolder[r]
            if g >= 0 && lastUse[Int(g)] <= Int32(i) { regOf[Int(g)] = -1; gprHolder[r] = -1; heldGPR &= ~(1 << r) }
        }
        var xmms = heldXMM
        while xmms != 0 {
            let r = xmms.trailingZeroBitCount
            xmms &= xmms - 1
            let x = xmmHolder[r]
            if x >= 0 && lastUse[Int(x)] <= Int32(i) { regOf[Int(x)] = -1; xmmHolder[r] = -1; heldXMM &= ~(1 << r) }
        }
    }

    /// Before a call: values in registers the callee may clobber and still needed afterwards
    /// go to their slots.
    mutating func spillCallerSaved() {
        for r in X64ABI.allocatableGPRs where !X64ABI.calleeSavedGPRs.contains(r.number) {
            if gprHolder[Int(r.number)] >= 0 { evict(r.number, vector: false) }
        }
        for r in X64ABI.allocatableXMMs where xmmHolder[Int(r)] >= 0 { evict(r, vector: true) }
    }

    mutating func materializeConstant(_ inst: IRInst, into reg: UInt8, vector: Bool) {
        let bits = inst.imm & inst.type.mask
        if vector {
            movImmediate(GPR.rax.number, bits)
            asm.emit(.movq_x_r64, reg: reg, rm: .reg(GPR.rax.number))
        } else {
            movImmediate(reg, bits)
        }
    }

    /// `mov reg, imm` without touching flags.
    mutating func movImmediate(_ reg: UInt8, _ bits: UInt64) {
        if bits <= UInt64(UInt32.max) {
            asm.emit(.mov32oi, reg: reg, imm: Int64(bits))
        } else if Int64(bitPattern: bits) >= Int64(Int32.min) && Int64(bitPattern: bits) < 0 {
            asm.emit(.mov64mi, rm: .reg(reg), imm: Int64(bitPattern: bits))
        } else {
            asm.emit(.mov64oi, reg: reg, imm: Int64(bitPattern: bits))
        }
    }

    // MARK: Operand queries

    /// The IR type of operand `v` as the instruction sees it (before aliasing).
    @inline(__always) func type(_ v: IRValue) -> IRType { insts[Int(v.index)].type }

    /// The constant value of operand `v`, if it is a constant.
    @inline(__always) func constant(_ v: IRValue) -> UInt64? {
        let r = Int(resolved(v))
        return insts[r].op == .const ? insts[r].imm & insts[r].type.mask : nil
    }

    /// A RIP-relative operand for entry `entry` of the unit table; call `noteTableReference`
    /// right after emitting the instruction.
    func tableOperand() -> X64RM { .mem(X64Memory(ripDisp: 0)) }

    mutating func noteTableReference(_ entry: Int) {
        relocations.append(X64Relocation(fieldOffset: UInt32(asm.lastDisplacementOffset), instructionEnd: UInt32(asm.offset),
                                         tableEntry: UInt32(entry)))
    }

    @inline(__always) func state(_ offset: Int) -> X64RM {
        .mem(X64Memory(base: X64ABI.stateRegister, disp: Int32(offset - X64ABI.stateBias)))
    }
    @inline(__always) func context(_ offset: Int) -> X64RM { .mem(X64Memory(base: X64ABI.contextRegister, disp: Int32(offset))) }
}
