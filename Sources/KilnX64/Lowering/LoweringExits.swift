import KilnIR

// Block exits. Deferred guest-register writes are stored first. Direct exits jump through a
// link slot in the unit's writable table: unlinked, the slot holds the address of the exit's
// stub, which records the target pc and returns to the dispatcher; chaining stores the target
// block's host address there instead (cached code itself is never patched, invariant 7).
// Indirect exits look the target up inline in the context's table of guest pc -> host code.
// Returns are predicted: calls push (return address, link slot of the return point) on a
// small stack in the context, and a return whose target matches the top jumps through that
// slot, which chaining fills like any other; a mismatch falls back to the lookup.
// Every direct exit first tests the thread's interrupt word and, when something was posted
// (a signal, an invalidation), leaves through its stub; indirect exits and predicted returns
// test it before jumping on and leave through the lookup's miss path. So a loop of translated
// code returns to its dispatcher within one block.
extension X64Lowerer {
    mutating func lowerExit() {
        let exit = block.exit
        vacatePinnedDestinations()
        // The branch condition and indirect target are fetched before the write-backs, which
        // use only scratch registers.
        var valueReg: UInt8 = 0
        if fusedExitCondition >= 0 {
            let condition = insts[Int(fusedExitCondition)]
            let source = resolved(condition.a)
            let s = parkedFlags(condition.a)
            writeBack()
            if mxcsrState == .dirty { foldMXCSR() }
            restoreFlags(source, from: s)
            emitTwoWayExit(taken: hostCondition(IRCondition(rawValue: condition.aux) ?? .al), exit)
            return
        }
        if fusedExitCompare >= 0 {
            // cbz/cbnz/tbz-style exits: the comparison itself, after the write-backs and the
            // MXCSR fold (which may change EFLAGS), then Jcc.
            // Its operands are held in registers through the write-backs; the comparison
            // finds them there.
            let c = Int(fusedExitCompare)
            if comparedAnd[c] < 0 {
                _ = compareOperands(insts[c])
            } else {
                let and = insts[Int(comparedAnd[c])]
                _ = use(and.a)
                if constant(and.b) == nil { _ = use(and.b) }
            }
            writeBack()
            if mxcsrState == .dirty { foldMXCSR() }
            emitTwoWayExit(taken: emitExitCompare(c), exit)
            return
        }
        if exit.kind == .branch || exit.kind == .indirectJump || exit.kind == .indirectCall || exit.kind == .ret {
            guard !exit.value.isNone, Int(exit.value.index) < insts.count else { failure = .malformedIR(index: insts.count); return }
            valueReg = use(exit.value)
        }
        writeBack()
        if mxcsrState == .dirty { foldMXCSR() }
        switch exit.kind {
        case .jump:
            emitLinkedJump(to: exit.target, kind: exit.kind)
        case .call:
            // The call target keeps slot 0, as the first slot of every direct exit.
            let targetSlot = addLinkSlot(to: exit.target, kind: .call)
            pushReturn(exit.next, address: returnAddressRegister(exit.next))
            emitInterruptCheck(slotIndex: targetSlot - X64ABI.UnitTable.firstLinkSlot, target: exit.target)
            asm.emit(.jmpm, rm: tableOperand())
            noteTableReference(targetSlot)
        case .branch:
            let notTaken = asm.newLabel()
            asm.emit(.test32mr, reg: valueReg, rm: .reg(valueReg))
            asm.jump(.e, to: notTaken)
            emitLinkedJump(to: exit.target, kind: .branch)
            asm.bind(notTaken)
            emitLinkedJump(to: exit.next, kind: .branch)
        case .indirectJump:
            emitIndirect(valueReg, kind: exit.kind)
        case .indirectCall:
            pushReturn(exit.next, address: returnAddressRegister(exit.next))
            emitIndirect(valueReg, kind: exit.kind)
        case .ret:
            emitPredictedReturn(valueReg)
            emitIndirect(valueReg, kind: exit.kind)
        case .syscall:
            emitStatePC(offset: exit.next)
            emitReturnToHost(kind: .syscall, trap: 0, info: exit.info)
        case .trap:
            emitStatePC(offset: exit.target)
            emitReturnToHost(kind: .trap, trap: exit.trap.rawValue, info: exit.info)
        }
        emitColdCode()
    }

    /// What follows the exit: link stubs, float slow paths, bounds-fault paths, side exits.
    mutating func emitColdCode() {
        // Side paths come last and emit their own stubs.
        emitStubs(from: 0)
        emitFloatSlowPaths()
        emitBoundsFaults()
        emitSideExitPaths()
    }

    /// Backward use pass at `icmp eq/ne (and x, k), 0` (TBZ, TBNZ) that an exit at `exit`
    /// evaluates: when nothing else reads the AND, the exit tests x and k itself
    /// (`emitExitCompare`) and the AND is never emitted. Returns true when fused (x and k marked).
    mutating func fuseAndIntoCompare(_ c: Int, at exit: Int) -> Bool {
        let inst = insts[c]
        guard let comparison = IRComparison(rawValue: inst.aux), comparison == .eq || comparison == .ne,
              !inst.a.isNone, Int(inst.a.index) < c, !inst.b.isNone, Int(inst.b.index) < c,
              insts[Int(alias[Int(inst.b.index)])].op == .const, insts[Int(alias[Int(inst.b.index)])].imm == 0 else { return false }
        let k = Int(alias[Int(inst.a.index)])
        let and = insts[k]
        guard and.op == .and, and.type == .i32 || and.type == .i64, !and.a.isNone, !and.b.isNone,
              Int(and.a.index) < k, Int(and.b.index) < k, useCount[k] == 0 else { return false }
        // Readers after `c` are counted already; look for one between the AND and `c`.
        for j in (k + 1)..<c where Self.hasValueOperands(insts[j].op) {
            let other = insts[j]
            for m in 0..<3 {
                let v = pick(m, other.a, other.b, other.c, .none)
                if !v.isNone && Int(v.index) < j && Int(alias[Int(v.index)]) == k { return false }
            }
        }
        comparedAnd[c] = Int32(k)
        markUse(and.a, at: exit)
        markUse(and.b, at: exit)
        otherUse[Int(alias[Int(and.a.index)])] = true
        otherUse[Int(alias[Int(and.b.index)])] = true
        return true
    }

    /// Sets EFLAGS for the comparison `c` that an exit evaluates itself and returns the
    /// condition on which it holds: CMP/TEST of its operands, or for an AND it tests
    /// (`comparedAnd`) TEST with an immediate, BT for a single bit beyond one, else TEST.
    mutating func emitExitCompare(_ c: Int) -> X64Condition {
        let compare = insts[c]
        guard comparedAnd[c] >= 0 else {
            let cc = compareCondition(compare) ?? .ne
            emitCompare(compare, compareOperands(compare))
            return cc
        }
        let and = insts[Int(comparedAnd[c])]
        let w = and.type == .i64
        let x = use(and.a)
        let set = IRComparison(rawValue: compare.aux) == .ne
        flagsValue = -1
        if let k = constant(and.b) {
            if k <= 0x7fff_ffff || (!w && k <= 0xffff_ffff) {
                asm.emit(w ? .test64mi : .test32mi, rm: .reg(x), imm: Int64(Int32(truncatingIfNeeded: k)))
                return set ? .ne : .e
            }
            if k.nonzeroBitCount == 1 {
                asm.emit(w ? .bt64mi : .bt32mi, rm: .reg(x), imm: Int64(k.trailingZeroBitCount))
                return set ? .b : .ae
            }
        }
        asm.emit(w ? .test64mr : .test32mr, reg: use(and.b), rm: .reg(x))
        return set ? .ne : .e
    }

    /// The `icmp` that only the branch exit reads and that lowers natively (-1 if none): the
    /// exit compares and jumps instead of materializing it.
    func fusableExitCompare() -> Int {
        let exit = block.exit
        guard exit.kind == .branch, !exit.value.isNone, Int(exit.value.index) < insts.count else { return -1 }
        let c = Int(alias[Int(exit.value.index)])
        let inst = insts[c]
        guard inst.op == .icmp, !inst.a.isNone, !inst.b.isNone, Int(inst.a.index) < c, Int(inst.b.index) < c,
              compareCondition(inst) != nil else { return -1 }
        return c
    }

    /// Values still needed at the exit that sit in the host register of a pinned guest register
    /// the exit writes (its entry value, read by a later write or by the exit itself) move to
    /// an allocatable register first, so the write-backs into pinned registers need no order
    /// (an exit may swap two of them).
    mutating func vacatePinnedDestinations() {
        for w in finalWrites {
            let host = X64ABI.pinnedHost[Int(w.register.rawValue)]
            guard host >= 0 else { continue }
            let holder = gprHolder[Int(host)]
            guard holder >= 0, holder != w.value else { continue }
            gprHolder[Int(host)] = -1
            heldGPR &= ~(1 << UInt16(host))
            regOf[Int(holder)] = -1
            let moved = allocate(vector: false, for: holder)
            asm.emit(.mov64rm, reg: moved, rm: .reg(UInt8(host)))
        }
        pinnedGPR = 0
    }

    /// Stores every deferred guest register write; pinned registers get theirs in their host
    /// registers.
    mutating func writeBack() {
        // Only the exit's own operand stays reserved; each written value only for its store.
        let keepGPR = pinnedGPR, keepXMM = pinnedXMM
        for w in finalWrites where !storedHome[Int(w.register.rawValue)] {
            pinnedGPR = keepGPR; pinnedXMM = keepXMM
            let off = GuestCPUState.offset(of: w.register)
            let host = X64ABI.pinnedHost[Int(w.register.rawValue)]
            if w.register != .nzcv && regOf[Int(w.value)] < 0, let k = constant(IRValue(Int(w.value))) {
                // A constant not in a register: straight into the pinned host register (every
                // value still needed was moved out of the pinned ones first), or stored as an
                // immediate when it fits one.
                if host >= 0 {
                    movImmediate(UInt8(host), k)
                    continue
                }
                if Int64(bitPattern: k) >= Int64(Int32.min) && Int64(bitPattern: k) <= Int64(Int32.max) {
                    asm.emit(.mov64mi, rm: state(off), imm: Int64(bitPattern: k))
                    continue
                }
            }
            let r = use(IRValue(Int(w.value)))
            if host >= 0 {
                copy(UInt8(host), r, wide: true)
            } else if w.register == .nzcv {
                storeFlags(r, raw: rawFlags[Int(w.value)], at: off)
            } else {
                asm.emit(.mov64mr, reg: r, rm: state(off))
            }
        }
    }

    /// `jmp [rip + slot]` with a new link slot whose stub is emitted after the exit code.
    mutating func emitLinkedJump(to target: UInt64, kind: IRExitKind) {
        let entry = X64ABI.UnitTable.firstLinkSlot + linkSlots.count
        emitInterruptCheck(slotIndex: linkSlots.count, target: target)
        asm.emit(.jmpm, rm: tableOperand())
        noteTableReference(entry)
        _ = addLinkSlot(to: target, kind: kind)
    }

    /// A link slot that no code in this block jumps through (a predicted return's target).
    mutating func addLinkSlot(to target: UInt64, kind: IRExitKind) -> Int {
        let entry = X64ABI.UnitTable.firstLinkSlot + linkSlots.count
        linkSlots.append(X64LinkSlot(tableEntry: UInt32(entry), stubOffset: 0, targetOffset: target))
        pendingStubKinds.append(kind)
        if pendingStubLabels.count < linkSlots.count { pendingStubLabels.append(asm.newLabel()) }
        return entry
    }

    /// `cmp dword [r14 + interrupt], 0; jne <stub of link slot n>` (the slot exists already,
    /// or is the next one added). The jump is short: stubs follow the exit code directly (a
    /// side exit's, its own path), and an exit has at most three slots.
    /// Leaves through stub `n` when something was posted to the thread — only on an exit to
    /// `target` at or before this block's start: every cycle of direct exits has one such
    /// exit (the one leaving the cycle's highest block), so a loop of chained blocks still
    /// sees a posted signal within one iteration, and forward exits skip the test.
    mutating func emitInterruptCheck(slotIndex n: Int, target: UInt64) {
        while pendingStubLabels.count <= n { pendingStubLabels.append(asm.newLabel()) }
        guard target <= block.startOffset else { return }
        asm.emit(.cmp32mi8, rm: context(X64ABI.Context.interrupt), imm: 0)
        asm.shortJump(.ne, to: pendingStubLabels[n])
    }

    /// Pushes (region base + `next`, address of a new link slot for `next`). The top is kept
    /// as a byte offset into the ring, so entries are addressed directly off r14.
    mutating func pushReturn(_ next: UInt64, address known: UInt8?) {
        let rax = GPR.rax.number, rdx = GPR.rdx.number
        let slot = addLinkSlot(to: next, kind: .ret)
        let ringMask = Int64(16 * X64ABI.Context.returnStackEntries - 16)
        // The return address first (unless x30's write-back left it in a register): a large
        // offset goes through rax.
        let address = known ?? rdx
        if known == nil {
            asm.emit(.mov64rm, reg: rdx, rm: tableOperand())
            noteTableReference(X64ABI.UnitTable.regionBase)
            addOffset(rdx, next)
        }
        asm.emit(.mov64rm, reg: rax, rm: context(X64ABI.Context.returnStackTop))
        asm.emit(.add32mi8, rm: .reg(rax), imm: 16)
        asm.emit(.and32mi, rm: .reg(rax), imm: ringMask)
        asm.emit(.mov64mr, reg: rax, rm: context(X64ABI.Context.returnStackTop))
        asm.emit(.mov64mr, reg: address, rm: .mem(X64Memory(base: X64ABI.contextRegister, index: .rax, disp: Int32(X64ABI.Context.returnStack))))
        asm.emit(.lea64rm, reg: rdx, rm: tableOperand())
        noteTableReference(slot)
        asm.emit(.mov64mr, reg: rdx, rm: .mem(X64Memory(base: X64ABI.contextRegister, index: .rax, disp: Int32(X64ABI.Context.returnStack + 8))))
    }

    /// The register that still holds return address `next` after the write-backs, as x30's
    /// final value (BL, BLR), if one does.
    func returnAddressRegister(_ next: UInt64) -> UInt8? {
        guard let w = finalWrites.first(where: { $0.register == .x(30) }) else { return nil }
        let v = Int(w.value)
        guard insts[v].op == .regionAddress, insts[v].imm == next, regOf[v] >= 0 else { return nil }
        return UInt8(regOf[v])
    }

    /// If `target` is the predicted return address and nothing was posted to the thread, pops
    /// it and jumps through its slot; otherwise falls through with the stack unchanged.
    mutating func emitPredictedReturn(_ target: UInt8) {
        let rax = GPR.rax.number, rcx = GPR.rcx.number
        let miss = asm.newLabel()
        let ringMask = Int64(16 * X64ABI.Context.returnStackEntries - 16)
        asm.emit(.mov64rm, reg: rax, rm: context(X64ABI.Context.returnStackTop))
        asm.emit(.cmp64rm, reg: target, rm: .mem(X64Memory(base: X64ABI.contextRegister, index: .rax, disp: Int32(X64ABI.Context.returnStack))))
        asm.shortJump(.ne, to: miss)
        asm.emit(.cmp32mi8, rm: context(X64ABI.Context.interrupt), imm: 0)
        asm.shortJump(.ne, to: miss)
        asm.emit(.mov64rm, reg: rcx, rm: .mem(X64Memory(base: X64ABI.contextRegister, index: .rax, disp: Int32(X64ABI.Context.returnStack + 8))))
        asm.emit(.sub32mi8, rm: .reg(rax), imm: 16)
        asm.emit(.and32mi, rm: .reg(rax), imm: ringMask)
        asm.emit(.mov64mr, reg: rax, rm: context(X64ABI.Context.returnStackTop))
        asm.emit(.jmpm, rm: .mem(X64Memory(base: .rcx)))
        asm.bind(miss)
    }

    /// A conditional exit on EFLAGS already set: Jcc past the taken target's linked jump to the
    /// fall-through's, then the block's cold code.
    mutating func emitTwoWayExit(taken cc: X64Condition, _ exit: IRExit) {
        let notTaken = asm.newLabel()
        asm.jump(cc.inverted, to: notTaken)
        emitLinkedJump(to: exit.target, kind: .branch)
        asm.bind(notTaken)
        emitLinkedJump(to: exit.next, kind: .branch)
        emitColdCode()
    }

    /// One stub per link slot from `first` on: the target's region offset (rcx) and the slot's
    /// address (rax), then the shared tail of its exit kind and slot, which adds the region
    /// base, records them and returns to the host.
    mutating func emitStubs(from first: Int) {
        let rax = GPR.rax.number, rcx = GPR.rcx.number
        for n in first..<linkSlots.count {
            asm.bind(pendingStubLabels[n])
            linkSlots[n].stubOffset = UInt32(asm.offset)
            guard let tail = X64ABI.Context.linkTail(for: pendingStubKinds[n], slot: Int(linkSlots[n].tableEntry)) else {
                failure = .malformedIR(index: insts.count)
                return
            }
            movImmediate(rcx, linkSlots[n].targetOffset)
            asm.emit(.lea64rm, reg: rax, rm: tableOperand())
            noteTableReference(Int(linkSlots[n].tableEntry))
            asm.emit(.jmpm, rm: context(tail))
        }
    }

    /// state.pc = region base + offset.
    mutating func emitStatePC(offset: UInt64) {
        let rax = GPR.rax.number
        emitPC(into: rax, offset: offset)
        asm.emit(.mov64mr, reg: rax, rm: state(GuestCPUState.pcOffset))
    }

    /// `reg` = region base + offset (rax or rcx; a large offset goes through the other).
    mutating func emitPC(into reg: UInt8, offset: UInt64) {
        asm.emit(.mov64rm, reg: reg, rm: tableOperand())
        noteTableReference(X64ABI.UnitTable.regionBase)
        addOffset(reg, offset)
    }

    mutating func emitReturnToHost(kind: IRExitKind, trap: UInt8, info: UInt32) {
        movImmediate(GPR.rax.number, X64ABI.exitWord(kind: kind, trap: trap, info: info))
        asm.emit(.mov64mr, reg: GPR.rax.number, rm: context(X64ABI.Context.exitKind))
        asm.emit(.mov64mi, rm: context(X64ABI.Context.exitSlot), imm: 0)
        asm.emit(.jmpm, rm: context(X64ABI.Context.exitToHost))
    }

    /// Inline lookup: entry = table[(pc >> 2) & (entries - 1)], at byte offset
    /// (pc << 2) & lookupMask; jump to its code if its pc matches and nothing was posted to
    /// the thread (else a thread looping through indirect branches would never see a signal).
    /// The guest pc is stored only when leaving for the dispatcher (translated code never
    /// reads it).
    mutating func emitIndirect(_ target: UInt8, kind: IRExitKind) {
        let rcx = GPR.rcx.number
        asm.emitLookupProbe(pc: target, entry: rcx, buddy: false)
        // The target's register is never rax, rcx or rdx (scratch, not allocated).
        asm.emit(.mov64rm, reg: rcx, rm: .reg(target))
        let tail = kind == .indirectCall ? X64ABI.Context.indirectCallTail
            : kind == .ret ? X64ABI.Context.returnMissTail : X64ABI.Context.indirectJumpTail
        asm.emit(.jmpm, rm: context(tail))
    }
}

extension X64Assembler {
    /// One probe of the indirect-branch lookup table (`X64Runtime.lookupTable`) for the guest
    /// pc in register `pc`, with `entry` (clobbered) for the entry's address: the pc's home
    /// entry, or with `buddy` the home entry's buddy. Jumps to the entry's code when it holds
    /// the pc and nothing was posted to the thread; falls through otherwise. Translated code
    /// probes the home entry inline, the shared miss tails the buddy.
    mutating func emitLookupProbe(pc: UInt8, entry: UInt8, buddy: Bool) {
        let context = { (offset: Int) in X64RM.mem(X64Memory(base: X64ABI.contextRegister, disp: Int32(offset))) }
        emit(.mov32rm, reg: entry, rm: .reg(pc))
        emit(.shl32mi, rm: .reg(entry), imm: 2)
        emit(.and64rm, reg: entry, rm: context(X64ABI.Context.lookupMask))
        if buddy { emit(.xor64mi8, rm: .reg(entry), imm: 16) }
        emit(.add64rm, reg: entry, rm: context(X64ABI.Context.lookupTable))
        let miss = newLabel()
        emit(.cmp64rm, reg: pc, rm: .mem(X64Memory(base: GPR(entry))))
        shortJump(.ne, to: miss)
        emit(.cmp32mi8, rm: context(X64ABI.Context.interrupt), imm: 0)
        shortJump(.ne, to: miss)
        emit(.jmpm, rm: .mem(X64Memory(base: GPR(entry), disp: 8)))
        bind(miss)
    }
}
