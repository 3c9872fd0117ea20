import KilnIR

// Side exits (`exitIf`): a conditional branch in the middle of a translation unit. The unit runs
// on at the fall-through, so the common not-taken case stays in straight-line code with the
// guest registers in host registers; the taken case jumps (Jcc) to an out-of-line path that
// stores the guest state as it stands at the branch and leaves through a link slot like any
// direct exit. What that path stores is decided at the branch, from where each value is then
// (a register, a spill slot, its home, a constant, EFLAGS), since the registers are reused
// afterwards; the path itself is emitted after the unit's exit and uses only the scratch
// registers. NZCV that EFLAGS no longer hold there is computed again from its producer's
// operands, so the main path parks flags only for its own readers. A register's final value may be stored early (a pinned register's in its host
// register, NZCV's at its home) only when no side exit lies between that store and the
// register's last write (`noSideExitBefore`): a side path stores the values current at its
// branch and must find the others untouched.
extension X64Lowerer {
    /// Where a guest register's value at a side exit is found when the branch is taken.
    indirect enum SideExitSource {
        case register(UInt8)
        case memory(X64RM)
        case constant(UInt64)
        /// NZCV still in EFLAGS only (never parked); `inverted`: CF holds the inverse of C.
        case eflags(inverted: Bool)
        /// NZCV computed again on the path from its producer's operands (`op` of 32 or 64
        /// bits: CMP, ADD, or TEST of `a` with `b`, or with itself), so that flags needed only
        /// by side exits are never parked on the main path.
        case recompute(op: IROp, wide: Bool, a: SideExitSource, b: SideExitSource?)
    }

    /// A store (or move, for a pinned register) the side path makes.
    struct SideExitMove {
        var register: IRGuestRegister
        var source: SideExitSource
        /// The value is NZCV parked raw rather than in A64 layout.
        var rawFlags: Bool
    }

    /// A side exit's out-of-line path: its label, the guest offset it leaves to, its moves
    /// (`sideExitMoves[firstMove ..< firstMove + moveCount]`) and whether MXCSR holds float
    /// exceptions not yet folded into FPSR there.
    struct SideExitPath {
        var label: X64Label
        var target: UInt64
        var firstMove: Int
        var moveCount: Int
        var mxcsrDirty: Bool
    }

    /// Forward analysis at side exit `i`: the guest registers with a deferred write before it
    /// and their values there.
    mutating func noteSideExit(_ i: Int) {
        sideExitWriteStart[i] = Int32(sideExitWrites.count)
        for r in 0..<IRGuestRegister.count where lastWrite[r] >= 0 && (options.deferRegisterWrites || X64ABI.pinnedHost[r] >= 0) {
            sideExitWrites.append((IRGuestRegister(rawValue: UInt16(r)), cache[r]))
        }
        sideExitWriteEnd[i] = Int32(sideExitWrites.count)
        sideExitIndices.append(i)
        lastSideExit = i
    }

    /// Whether no side exit follows instruction `i` before guest register `register`'s last
    /// write, so that the register's final value, defined at `i`, may be stored at once.
    func noSideExitBefore(lastWriteOf register: Int, after i: Int) -> Bool {
        guard lastSideExit > i else { return true }
        let write = Int(lastWrite[register])
        for s in sideExitIndices where s > i { return s > write }
        return true
    }

    /// Backward use pass at side exit `i`: every value its path stores is live up to it (for
    /// NZCV from a CMP, ADDS or TST, the producer's operands instead: the path computes the
    /// flags again if they are gone by then), and its condition (if only it reads that) may
    /// be fused into its Jcc.
    mutating func markSideExitUses(_ i: Int) {
        for k in Int(sideExitWriteStart[i])..<Int(sideExitWriteEnd[i]) {
            let w = sideExitWrites[k]
            if w.register == .nzcv, let (a, b) = flagsOperands(Int(w.value)) {
                markUse(a, at: i)
                if let b { markUse(b, at: i) }
                continue
            }
            markUse(IRValue(Int(w.value)), at: i)
            if w.register != .nzcv { otherUse[Int(w.value)] = true }
        }
        let inst = insts[i]
        guard !inst.a.isNone, Int(inst.a.index) < i else { return }
        let c = Int(alias[Int(inst.a.index)])
        if sideExitOfCondition[c] < 0 { sideExitOfCondition[c] = Int32(i) }
    }

    /// The operands a side path computes NZCV value `v` again from (`SideExitSource.recompute`):
    /// those of a CMP, CMN/ADDS, or TST/ANDS (the AND's two operands when `a` is an AND) of 32
    /// or 64 bits; nil for other flags.
    func flagsOperands(_ v: Int) -> (IRValue, IRValue?)? {
        let inst = insts[v]
        guard options.features.contains(.lahfsahf), !inst.a.isNone, Int(inst.a.index) < v else { return nil }
        let t = type(inst.a)
        guard t == .i32 || t == .i64 else { return nil }
        switch inst.op {
        case .nzcvSub, .nzcvAdd:
            guard !inst.b.isNone, Int(inst.b.index) < v else { return nil }
            return (inst.a, inst.b)
        case .nzcvLogic:
            let k = Int(alias[Int(inst.a.index)])
            let and = insts[k]
            if and.op == .and, and.type == t, !and.a.isNone, !and.b.isNone, Int(and.a.index) < k, Int(and.b.index) < k {
                return (and.a, and.b)
            }
            return (inst.a, nil)
        default:
            return nil
        }
    }

    /// Where value `v` is now, for a side path (nil if nowhere: not live).
    func sideExitLocation(_ v: Int) -> SideExitSource? {
        if regOf[v] >= 0 { return .register(UInt8(regOf[v])) }
        if insts[v].op == .const { return .constant(insts[v].imm & insts[v].type.mask) }
        if atHome[v] {
            return .memory(state(GuestCPUState.offset(of: IRGuestRegister(rawValue: UInt16(homeRegister[v])))))
        }
        if slotOf[v] >= 0 { return .memory(.mem(spillSlot(slotOf[v]))) }
        return nil
    }

    /// Backward use pass at `c`: a condition on flags or an integer comparison that only a
    /// side exit reads is evaluated by that exit's Jcc. Returns true when fused.
    mutating func fuseIntoSideExit(_ c: Int) -> Bool {
        let s = Int(sideExitOfCondition[c])
        guard s >= 0, useCount[c] == 1 else { return false }
        let inst = insts[c]
        switch inst.op {
        case .condition:
            let cond = IRCondition(rawValue: inst.aux) ?? .al
            guard cond != .al, cond != .nv, !inst.a.isNone, Int(inst.a.index) < c else { return false }
            sideExitFused[s] = Int32(c)
            markUse(inst.a, at: s)
            return true
        case .icmp:
            guard !inst.a.isNone, !inst.b.isNone, Int(inst.a.index) < c, Int(inst.b.index) < c, compareCondition(inst) != nil else { return false }
            sideExitFused[s] = Int32(c)
            if !fuseAndIntoCompare(c, at: s) { markUse(inst.a, at: s) }
            markUse(inst.b, at: s)
            return true
        default:
            return false
        }
    }

    /// After `rawFlags` is known: a fused condition on flags converted to A64 layout is
    /// computed where it stands after all.
    mutating func unfuseSideExitConditionsOnConvertedFlags() {
        for s in sideExitIndices {
            let c = Int(sideExitFused[s])
            guard c >= 0, insts[c].op == .condition, !rawFlags[Int(alias[Int(insts[c].a.index)])] else { continue }
            sideExitFused[s] = -1
            needsCode[c] = true
        }
    }

    /// Whether side exit `s` tests raw flags `p` with its own Jcc, leaving EFLAGS as they are
    /// (for `flagsStayInEFLAGS`).
    func sideExitTestsFlags(_ s: Int, _ p: Int) -> Bool {
        let c = Int(sideExitFused[s])
        return c >= 0 && insts[c].op == .condition && resolved(insts[c].a) == Int32(p)
    }

    /// Lowers side exit `i`: the Jcc to its path, and what the path will store.
    mutating func lowerSideExit(_ i: Int, _ inst: IRInst) {
        let label = asm.newLabel()
        let c = Int(sideExitFused[i])
        if c >= 0 && insts[c].op == .condition {
            let condition = insts[c]
            let source = resolved(condition.a)
            let s = parkedFlags(condition.a)
            restoreFlags(source, from: s)
            asm.jump(hostCondition(IRCondition(rawValue: condition.aux) ?? .al), to: label)
        } else if c >= 0 {
            asm.jump(emitExitCompare(c), to: label)
        } else {
            let r = use(inst.a)
            asm.emit(.test32mr, reg: r, rm: .reg(r))
            flagsValue = -1
            asm.jump(.ne, to: label)
        }
        let first = sideExitMoves.count
        for k in Int(sideExitWriteStart[i])..<Int(sideExitWriteEnd[i]) {
            let (register, value) = sideExitWrites[k]
            let v = Int(value)
            var source: SideExitSource
            var raw = rawFlags[v]
            if register == .nzcv && unparkedFlags[v] && flagsValue == value {
                source = .eflags(inverted: flagsInverted)
            } else if register == .nzcv && value == flagsAtHome {
                continue
            } else if register == .nzcv && regOf[v] < 0, let (a, b) = flagsOperands(v) {
                // Its operands are live here (`markSideExitUses`): computed again, raw.
                guard let sa = sideExitLocation(Int(resolved(a))) else { failure = .malformedIR(index: i); return }
                var sb: SideExitSource? = nil
                if let b {
                    guard let location = sideExitLocation(Int(resolved(b))) else { failure = .malformedIR(index: i); return }
                    sb = location
                }
                source = .recompute(op: insts[v].op, wide: type(insts[v].a) == .i64, a: sa, b: sb)
                raw = true
            } else if let location = sideExitLocation(v) {
                if atHome[v] && homeRegister[v] == Int8(register.rawValue) { continue }
                source = location
            } else {
                failure = .malformedIR(index: i)
                return
            }
            sideExitMoves.append(SideExitMove(register: register, source: source, rawFlags: raw))
        }
        sideExitPaths.append(SideExitPath(label: label, target: inst.imm, firstMove: first,
                                          moveCount: sideExitMoves.count - first, mxcsrDirty: mxcsrState == .dirty))
    }

    /// The side exits' paths, each followed by the stub of its link slot.
    mutating func emitSideExitPaths() {
        let rax = GPR.rax.number, rdx = GPR.rdx.number
        for path in sideExitPaths {
            asm.bind(path.label)
            let moves = sideExitMoves[path.firstMove..<(path.firstMove + path.moveCount)]
            // NZCV from EFLAGS, or computed again, first: storing NZCV in A64 layout may
            // clobber EFLAGS.
            for m in moves {
                switch m.source {
                case .eflags(let inverted):
                    if inverted { asm.emit(.cmc) }
                case .recompute(let op, let wide, let a, let b):
                    emitFlagsAgain(op, wide: wide, a, b)
                default:
                    continue
                }
                asm.emit(.lahf)
                asm.emit(.setcc, rm: .reg(rax), cc: .o)
                asm.emit(.movzx32rm16, reg: rax, rm: .reg(rax))
                asm.emit(.mov32mr, reg: rax, rm: state(GuestCPUState.offset(of: .nzcv)))
            }
            // Registers kept in the guest state.
            for m in moves where X64ABI.pinnedHost[Int(m.register.rawValue)] < 0 {
                let off = GuestCPUState.offset(of: m.register)
                let r: UInt8
                switch m.source {
                case .eflags, .recompute: continue
                case .register(let reg): r = reg
                case .memory(let mem):
                    asm.emit(.mov64rm, reg: rdx, rm: mem)
                    r = rdx
                case .constant(let k):
                    if m.register != .nzcv, Int64(bitPattern: k) >= Int64(Int32.min), Int64(bitPattern: k) <= Int64(Int32.max) {
                        asm.emit(.mov64mi, rm: state(off), imm: Int64(bitPattern: k))
                        continue
                    }
                    movImmediate(rdx, k)
                    r = rdx
                }
                if m.register == .nzcv {
                    storeFlags(r, raw: m.rawFlags, at: off)
                } else {
                    asm.emit(.mov64mr, reg: r, rm: state(off))
                }
            }
            emitPinnedMoves(moves)
            if path.mxcsrDirty {
                mxcsrState = .dirty
                foldMXCSR()
            }
            let slot = linkSlots.count
            emitLinkedJump(to: path.target, kind: .branch)
            emitStubs(from: slot)
        }
    }

    /// Sets EFLAGS as flags producer `op` did (A64 C in CF): CMP + CMC, ADD, TEST. Operands
    /// not in a register are loaded into rdx (`a`) and rcx (`b`); rax is the ADD's scratch.
    mutating func emitFlagsAgain(_ op: IROp, wide w: Bool, _ a: SideExitSource, _ b: SideExitSource?) {
        let rax = GPR.rax.number, rcx = GPR.rcx.number, rdx = GPR.rdx.number
        func load(_ source: SideExitSource, into scratch: UInt8) -> UInt8 {
            switch source {
            case .register(let r): return r
            case .memory(let mem): asm.emit(.mov64rm, reg: scratch, rm: mem)
            case .constant(let k): movImmediate(scratch, k)
            case .eflags, .recompute: break
            }
            return scratch
        }
        let ra = load(a, into: rdx)
        var immediate: Int64? = nil
        if case .constant(let k)? = b { immediate = immediate32(k, wide: w) }
        let rb: UInt8? = immediate == nil ? b.map { load($0, into: rcx) } : nil
        switch op {
        case .nzcvSub:
            if let immediate {
                asm.emit(w ? .cmp64mi : .cmp32mi, rm: .reg(ra), imm: immediate)
            } else if let rb {
                asm.emit(w ? .cmp64rm : .cmp32rm, reg: ra, rm: .reg(rb))
            }
            asm.emit(.cmc)
        case .nzcvAdd:
            asm.emit(w ? .mov64rm : .mov32rm, reg: rax, rm: .reg(ra))
            if let immediate {
                asm.emit(w ? .add64mi : .add32mi, rm: .reg(rax), imm: immediate)
            } else if let rb {
                asm.emit(w ? .add64rm : .add32rm, reg: rax, rm: .reg(rb))
            }
        default:
            if let immediate {
                asm.emit(w ? .test64mi : .test32mi, rm: .reg(ra), imm: immediate)
            } else {
                asm.emit(w ? .test64mr : .test32mr, reg: rb ?? ra, rm: .reg(ra))
            }
        }
    }

    /// Pinned registers get their values at a side exit: register-to-register moves as a
    /// parallel move (a register may be read by one move and written by another; a cycle goes
    /// through rax), then loads from memory and constants, which read no register.
    mutating func emitPinnedMoves(_ moves: ArraySlice<SideExitMove>) {
        var pending: [(dst: UInt8, src: UInt8)] = []
        for m in moves {
            let host = X64ABI.pinnedHost[Int(m.register.rawValue)]
            guard host >= 0, case .register(let r) = m.source, r != UInt8(host) else { continue }
            pending.append((UInt8(host), r))
        }
        while !pending.isEmpty {
            if let k = pending.firstIndex(where: { move in !pending.contains { $0.src == move.dst } }) {
                copy(pending[k].dst, pending[k].src, wide: true)
                pending.remove(at: k)
                continue
            }
            // Every destination is still to be read: park one source in rax.
            let rax = GPR.rax.number
            let parked = pending[0].src
            copy(rax, parked, wide: true)
            for k in pending.indices where pending[k].src == parked { pending[k].src = rax }
        }
        for m in moves {
            let host = X64ABI.pinnedHost[Int(m.register.rawValue)]
            guard host >= 0 else { continue }
            switch m.source {
            case .memory(let mem): asm.emit(.mov64rm, reg: UInt8(host), rm: mem)
            case .constant(let k): movImmediate(UInt8(host), k)
            case .register, .eflags, .recompute: break
            }
        }
    }
}
