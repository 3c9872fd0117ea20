import KilnIR

// Guest NZCV in host EFLAGS. An NZCV producer runs the x86 instruction that sets the same
// flags; A64 C after a subtraction is x86 CF inverted, so CMC follows a CMP and EFLAGS then
// hold A64 C in CF. When every consumer is a condition or the guest NZCV register, the value
// stays "raw": parked with LAHF + SETO in the low 16 bits of a register (AH = SF ZF - AF - PF
// - CF, AL = OF), and a condition that directly follows reads EFLAGS itself. A later condition
// restores EFLAGS from the parked copy (ADD AL, 0x7F recreates OF, SAHF the rest). Values with
// other consumers are converted to A64 layout. With BMI2 the conversion (PEXT, SHLX) leaves
// EFLAGS alone, so a conditional branch at the exit still uses them after the write-back.
extension X64Lowerer {
    mutating func lowerFlags(_ i: Int, _ inst: IRInst) {
        let t = type(inst.a)
        guard t == .i32 || t == .i64, options.features.contains(.lahfsahf) else { return lowerViaHelper(i) }
        let w = t == .i64
        let rax = GPR.rax.number, rcx = GPR.rcx.number
        let tested = Int(fusedTestOperand[i])
        let a = tested >= 0 ? use(insts[tested].a) : use(inst.a)
        switch inst.op {
        case .nzcvLogic where tested >= 0:
            let mask = insts[tested].b
            if let k = constant(mask), let imm = immediate32(k, wide: w) {
                asm.emit(w ? .test64mi : .test32mi, rm: .reg(a), imm: imm)
            } else {
                asm.emit(w ? .test64mr : .test32mr, reg: use(mask), rm: .reg(a))
            }
        case .nzcvLogic:
            asm.emit(w ? .test64mr : .test32mr, reg: a, rm: .reg(a))
        case .nzcvSub:
            if let k = constant(inst.b), let imm = immediate32(k, wide: w) {
                asm.emit(w ? (imm >= -128 && imm <= 127 ? .cmp64mi8 : .cmp64mi) : (imm >= -128 && imm <= 127 ? .cmp32mi8 : .cmp32mi),
                         rm: .reg(a), imm: imm)
            } else {
                let b = use(inst.b)
                asm.emit(w ? .cmp64rm : .cmp32rm, reg: a, rm: .reg(b))
            }
        case .nzcvAdd:
            let b = use(inst.b)
            asm.emit(w ? .mov64rm : .mov32rm, reg: rcx, rm: .reg(a))
            asm.emit(w ? .add64rm : .add32rm, reg: rcx, rm: .reg(b))
        default:
            let b = use(inst.b), c = use(inst.c)
            asm.emit(w ? .mov64rm : .mov32rm, reg: rcx, rm: .reg(a))
            asm.emit(.bt32mi, rm: .reg(c), imm: 0)
            asm.emit(w ? .adc64rm : .adc32rm, reg: rcx, rm: .reg(b))
        }
        let nzcv = Int(IRGuestRegister.nzcv.rawValue)
        // The block's final NZCV, parked raw, goes straight to its home (no register, no
        // store at the exit) when a fault from here on, which replays the block from the guest
        // state, cannot happen or does not read NZCV's entry value. 16 bits: AH and AL are
        // all a parked word's readers look at.
        let home = rawFlags[i] && Int32(i) == finalFlags && (i > lastFaultPoint || !entryValueRead[nzcv])
            && noSideExitBefore(lastWriteOf: nzcv, after: i)
        if !home && rawFlags[i] && flagsStayInEFLAGS(i) {
            // Nothing parks them: after a CMP, CF stays the inverse of A64 C for the readers.
            unparkedFlags[i] = true
            flagsValue = Int32(i)
            flagsInverted = inst.op == .nzcvSub
            return
        }
        let d = home ? 0 : define(i)
        if inst.op == .nzcvSub { asm.emit(.cmc) }
        asm.emit(.lahf)
        asm.emit(.setcc, rm: .reg(rax), cc: .o)
        if home {
            asm.emit(.mov16mr, reg: rax, rm: state(GuestCPUState.offset(of: .nzcv)))
            storedHome[nzcv] = true
            flagsAtHome = Int32(i)
            flagsValue = Int32(i)
            flagsInverted = false
        } else if rawFlags[i] {
            asm.emit(.movzx32rm16, reg: d, rm: .reg(rax))
            flagsValue = Int32(i)
            flagsInverted = false
        } else {
            asm.emit(.movzx32rm16, reg: rax, rm: .reg(rax))
            convertRawFlags(rax, into: d)
        }
    }

    /// Where the parked flags value `v` can be read to restore EFLAGS: its register, or
    /// NZCV's guest-state home when it went straight there (`lowerFlags`). Flags never
    /// parked are in EFLAGS (the returned operand is then never read: `restoreFlags` finds
    /// them there); were they not, the translation fails rather than read stale flags.
    mutating func parkedFlags(_ v: IRValue) -> X64RM {
        let r = resolved(v)
        if unparkedFlags[Int(r)] {
            if flagsValue != r { failure = .malformedIR(index: current) }
            return .reg(GPR.rax.number)
        }
        return r == flagsAtHome ? state(GuestCPUState.offset(of: .nzcv)) : .reg(use(v))
    }

    /// Whether raw flags produced by `p` can live in EFLAGS alone, never parked with LAHF +
    /// SETO: they are not the block's final NZCV, the exit does not read them, and from `p`
    /// to their last reader every instruction is one whose code leaves EFLAGS alone and
    /// every reader is a condition on them (SETcc) or a select fused with one (CMOVcc). A
    /// `cmp w0, w1; cset w2, cs` in the middle of a block then costs a CMP and a SETcc.
    func flagsStayInEFLAGS(_ p: Int) -> Bool {
        guard Int32(p) != finalFlags, lastUse[p] >= 0, lastUse[p] < Int32(insts.count) else { return false }
        for j in (p + 1)...Int(lastUse[p]) where needsCode[j] || fusedSelectCondition[j] {
            let inst = insts[j]
            switch inst.op {
            case .condition:
                guard resolved(inst.a) == Int32(p) else { return false }
                continue
            case .select:
                let k = Int(resolved(inst.a))
                guard fusedSelectCondition[k], resolved(insts[k].a) == Int32(p), !rawFlags[j] else { return false }
            case .readReg, .writeReg:
                let r = IRGuestRegister(rawValue: inst.aux)
                guard r != .nzcv, r != .fpsr, r != .fpcr else { return false }
            case .trunc, .sext:
                guard keepsFlags(inst) else { return false }
            case .exitIf:
                guard sideExitTestsFlags(j, p) else { return false }
                continue
            case .zext:
                guard inst.type.isInteger && type(inst.a).isInteger else { return false }
            case .const, .guestInstruction, .regionAddress, .bitcast:
                break
            default:
                return false
            }
            if Self.hasValueOperands(inst.op) {
                for k in 0..<3 {
                    let v = pick(k, inst.a, inst.b, inst.c, .none)
                    if !v.isNone && Int(v.index) < j && resolved(v) == Int32(p) { return false }
                }
            }
        }
        return true
    }

    /// Sign-extended 32-bit immediate form of `k` for a 64-bit (or any 32-bit) operation.
    func immediate32(_ k: UInt64, wide: Bool) -> Int64? {
        let s = wide ? Int64(bitPattern: k) : Int64(Int32(truncatingIfNeeded: k))
        return s >= Int64(Int32.min) && s <= Int64(Int32.max) ? s : nil
    }

    /// A64 NZCV (bits 31...28) from parked flags in `source` (not rcx or rdx) into `d`.
    mutating func convertRawFlags(_ source: UInt8, into d: UInt8) {
        let rcx = GPR.rcx.number, rdx = GPR.rdx.number
        if options.features.contains(.bmi2) {
            // PEXT of bits 15 (SF), 14 (ZF), 8 (CF), 0 (OF) gives N Z C V in bits 3...0; PEXT,
            // SHLX and MOV leave EFLAGS alone.
            asm.emit(.mov32oi, reg: rcx, imm: 0xC101)
            asm.emit(.pext64, reg: rdx, rm: .reg(rcx), vvvv: source)
            asm.emit(.mov32oi, reg: rcx, imm: 28)
            asm.emit(.shlx32, reg: d, rm: .reg(rdx), vvvv: rcx)
            return
        }
        // N, Z from bits 15, 14; C from bit 8; V from bit 0.
        moveFlagBits(source, into: rdx, left: true, (16, 0xC000_0000), (21, 0x2000_0000), (28, 0x1000_0000))
        asm.emit(.mov32rm, reg: d, rm: .reg(rdx))
    }

    /// Without BMI2: `d` (rax or rdx) = the OR over three moves of (`source` shifted by the
    /// move's count, masked); rcx is scratch. The shifts clobber EFLAGS.
    mutating func moveFlagBits(_ source: UInt8, into d: UInt8, left: Bool,
                               _ a: (shift: Int64, mask: UInt32), _ b: (shift: Int64, mask: UInt32), _ c: (shift: Int64, mask: UInt32)) {
        flagsValue = -1
        let rcx = GPR.rcx.number
        for k in 0..<3 {
            let move = pick(k, a, b, c, c), r = k == 0 ? d : rcx
            asm.emit(.mov32rm, reg: r, rm: .reg(source))
            asm.emit(left ? .shl32mi : .shr32mi, rm: .reg(r), imm: move.shift)
            asm.emit(.and32mi, rm: .reg(r), imm: Int64(Int32(bitPattern: move.mask)))
            if k > 0 { asm.emit(.or32rm, reg: d, rm: .reg(r)) }
        }
    }

    /// Stores NZCV held in `source` to guest state at `offset`, where it is kept parked
    /// (`GuestCPUState.parkedNZCV`): raw flags as they are, A64 layout converted. With BMI2 the
    /// conversion (SHRX, PDEP) leaves EFLAGS alone, as the exit's branch may still read them.
    mutating func storeFlags(_ source: UInt8, raw: Bool, at offset: Int) {
        guard !raw else { return asm.emit(.mov32mr, reg: source, rm: state(offset)) }
        let rax = GPR.rax.number, rcx = GPR.rcx.number
        if options.features.contains(.bmi2) {
            // N Z C V from bits 31...28 to bits 3...0, then deposited at bits 15, 14, 8, 0.
            asm.emit(.mov32oi, reg: rcx, imm: 28)
            asm.emit(.shrx32, reg: rax, rm: .reg(source), vvvv: rcx)
            asm.emit(.mov32oi, reg: rcx, imm: 0xC101)
            asm.emit(.pdep64, reg: rax, rm: .reg(rcx), vvvv: rax)
        } else {
            // N, Z to bits 15, 14; C to bit 8; V to bit 0.
            moveFlagBits(source, into: rax, left: false, (16, 0xC000), (21, 0x100), (28, 1))
        }
        asm.emit(.mov32mr, reg: rax, rm: state(offset))
    }

    /// Backward use pass at an NZCV logic producer `i` (TST, ANDS): when its operand is an
    /// AND that nothing else reads (TST, or ANDS to XZR), the producer tests the AND's operands
    /// itself and the AND is never emitted. Returns true when fused (operands marked).
    mutating func fuseAndIntoTest(_ i: Int) -> Bool {
        let inst = insts[i]
        guard inst.op == .nzcvLogic, !inst.a.isNone, Int(inst.a.index) < i, options.features.contains(.lahfsahf) else { return false }
        let k = Int(alias[Int(inst.a.index)])
        let and = insts[k]
        guard and.op == .and, and.type == .i32 || and.type == .i64, !and.a.isNone, !and.b.isNone,
              Int(and.a.index) < k, Int(and.b.index) < k, useCount[k] == 0, i - k <= 8 else { return false }
        // Readers after `i` are counted already; look for one between the AND and `i`.
        for j in (k + 1)..<i {
            let other = insts[j]
            guard Self.hasValueOperands(other.op) else { continue }
            for m in 0..<3 {
                let v = pick(m, other.a, other.b, other.c, .none)
                if !v.isNone && Int(v.index) < j && Int(alias[Int(v.index)]) == k { return false }
            }
        }
        fusedTestOperand[i] = Int32(k)
        needsCode[i] = true
        markUse(and.a, at: i)
        markUse(and.b, at: i)
        otherUse[Int(alias[Int(and.a.index)])] = true
        otherUse[Int(alias[Int(and.b.index)])] = true
        return true
    }

    /// Backward use pass: whether the select at `i` is CCMP/CCMN's choice between a flag-setting
    /// compare and a constant NZCV that only conditions and the NZCV register read. Such a
    /// select can choose between parked forms (the constant converted at translation time), so
    /// neither the compare nor the result is converted to A64 layout.
    func isParkableFlagsSelect(_ i: Int) -> Bool {
        let inst = insts[i]
        guard inst.op == .select, inst.type == .i32, !otherUse[i], options.features.contains(.lahfsahf),
              !inst.b.isNone, Int(inst.b.index) < i, !inst.c.isNone, Int(inst.c.index) < i else { return false }
        let flags = insts[Int(alias[Int(inst.b.index)])].op
        guard flags == .nzcvAdd || flags == .nzcvSub || flags == .nzcvAdc || flags == .nzcvLogic else { return false }
        return insts[Int(alias[Int(inst.c.index)])].op == .const
    }

    /// Makes EFLAGS hold the parked flags `source`, read from `s` (their register, or NZCV's
    /// home: `parkedFlags`).
    mutating func restoreFlags(_ source: Int32, from s: X64RM) {
        guard flagsValue != source else { return }
        asm.emit(.mov32rm, reg: GPR.rax.number, rm: s)
        asm.emit(.add8mi, rm: .reg(GPR.rax.number), imm: 0x7f)
        asm.emit(.sahf)
        flagsValue = source
        flagsInverted = false
    }

    /// The x86 condition for A64 `cond` on the flags in EFLAGS (CMC first when needed).
    mutating func hostCondition(_ cond: IRCondition) -> X64Condition {
        switch cond {
        case .eq: return .e
        case .ne: return .ne
        case .cs: return flagsInverted ? .ae : .b
        case .cc: return flagsInverted ? .b : .ae
        case .mi: return .s
        case .pl: return .ns
        case .vs: return .o
        case .vc: return .no
        case .hi, .ls:
            // C && !Z is x86 "above" only when CF holds the inverse of C.
            if !flagsInverted { asm.emit(.cmc); flagsInverted = true }
            return cond == .hi ? .a : .be
        case .ge: return .ge
        case .lt: return .l
        case .gt: return .g
        default: return .le
        }
    }

    mutating func lowerCondition(_ i: Int, _ inst: IRInst) {
        let cond = IRCondition(rawValue: inst.aux) ?? .al
        let source = Int(resolved(inst.a))
        let parked: X64RM? = rawFlags[source] ? parkedFlags(inst.a) : nil
        let s: UInt8 = parked == nil ? use(inst.a) : 0
        let d = define(i)
        if cond == .al || cond == .nv {
            asm.emit(.mov32oi, reg: d, imm: 1)
            return
        }
        if let parked {
            restoreFlags(Int32(source), from: parked)
            asm.emit(.setcc, rm: .reg(d), cc: hostCondition(cond))
            asm.emit(.movzx32rm8, reg: d, rm: .reg(d))
            return
        }
        // A64 layout: test the bits.
        flagsValue = -1
        let rax = GPR.rax.number, rcx = GPR.rcx.number
        let cc: X64Condition
        switch cond {
        case .eq, .ne, .cs, .cc, .mi, .pl, .vs, .vc:
            let bit: Int64 = pick(Int(cond.rawValue >> 1), 30, 29, 31, 28)
            asm.emit(.bt32mi, rm: .reg(s), imm: bit)
            cc = cond.rawValue & 1 == 0 ? .b : .ae
        case .hi, .ls:
            asm.emit(.mov32rm, reg: rax, rm: .reg(s))
            asm.emit(.and32mi, rm: .reg(rax), imm: 0x6000_0000)
            asm.emit(.cmp32mi, rm: .reg(rax), imm: 0x2000_0000)
            cc = cond == .hi ? .e : .ne
        case .ge, .lt:
            asm.emit(.mov32rm, reg: rax, rm: .reg(s))
            asm.emit(.shl32mi, rm: .reg(rax), imm: 3)
            asm.emit(.xor32rm, reg: rax, rm: .reg(s))
            asm.emit(.bt32mi, rm: .reg(rax), imm: 31)
            cc = cond == .ge ? .ae : .b
        default:
            // le = Z || N != V
            asm.emit(.mov32rm, reg: rax, rm: .reg(s))
            asm.emit(.shl32mi, rm: .reg(rax), imm: 3)
            asm.emit(.xor32rm, reg: rax, rm: .reg(s))
            asm.emit(.mov32rm, reg: rcx, rm: .reg(s))
            asm.emit(.shl32mi, rm: .reg(rcx), imm: 1)
            asm.emit(.or32rm, reg: rax, rm: .reg(rcx))
            asm.emit(.bt32mi, rm: .reg(rax), imm: 31)
            cc = cond == .le ? .b : .ae
        }
        asm.emit(.setcc, rm: .reg(d), cc: cc)
        asm.emit(.movzx32rm8, reg: d, rm: .reg(d))
    }
}
