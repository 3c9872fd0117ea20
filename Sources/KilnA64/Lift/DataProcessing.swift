import KilnIR

/// Integer data processing: immediate and register forms.
enum DataProcessing {
    static func adr(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let imm = signed(bits(w, 23, 5) << 2 | bits(w, 30, 29), 21)
        if bit(w, 31) {
            // ADRP: the 4 KiB page of (pc + imm << 12). With a page-aligned region base the page
            // of base + offset is base + page of offset, so this stays region-relative.
            let page = (l.offset & ~0xfff) &+ UInt64(bitPattern: imm << 12)
            l.setReg(rd(w), l.builder.regionAddress(page))
        } else {
            l.setReg(rd(w), l.pcRelative(imm))
        }
    }

    static func addSubImmediate(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), isSub = bit(w, 30), setFlags = bit(w, 29)
        let imm = UInt64(bits(w, 21, 10)) << (bit(w, 22) ? 12 : 0)
        let a = l.regOrSP(rn(w), t), b = l.const(t, imm)
        addSubWritingSP(&l, w, a, b, isSub: isSub, setFlags: setFlags)
    }

    /// The immediate and extended forms: Rd is SP unless the flags are set (then XZR).
    private static func addSubWritingSP(_ l: inout A64Lifter, _ w: UInt32, _ a: IRValue, _ b: IRValue, isSub: Bool, setFlags: Bool) {
        let r = l.builder.binary(isSub ? .sub : .add, a, b)
        if setFlags {
            l.setNZCV(l.builder.emit(isSub ? .nzcvSub : .nzcvAdd, .i32, a, b))
            l.setReg(rd(w), r)
        } else {
            l.setRegOrSP(rd(w), r)
        }
    }

    static func addSubShifted(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), isSub = bit(w, 30), setFlags = bit(w, 29)
        let shiftType = bits(w, 23, 22), amount = bits(w, 15, 10)
        guard shiftType != 3, t == .i64 || amount < 32 else { throw l.unallocated(w) }
        let a = l.reg(rn(w), t)
        let b = l.shift(l.reg(rm(w), t), type: shiftType, amount: amount)
        let r = l.builder.binary(isSub ? .sub : .add, a, b)
        if setFlags { l.setNZCV(l.builder.emit(isSub ? .nzcvSub : .nzcvAdd, .i32, a, b)) }
        l.setReg(rd(w), r)
    }

    static func addSubExtended(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), isSub = bit(w, 30), setFlags = bit(w, 29)
        let amount = bits(w, 12, 10)
        guard amount <= 4 else { throw l.unallocated(w) }
        let a = l.regOrSP(rn(w), t)
        let b = l.extendedReg(rm(w), option: bits(w, 15, 13), amount: amount, t)
        addSubWritingSP(&l, w, a, b, isSub: isSub, setFlags: setFlags)
    }

    static func addSubCarry(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), isSub = bit(w, 30), setFlags = bit(w, 29)
        let a = l.reg(rn(w), t)
        var b = l.reg(rm(w), t)
        if isSub { b = l.builder.not(b) }
        let carry = l.builder.condition(.cs, l.nzcv())
        let r = l.builder.emit(.adc, t, a, b, carry)
        if setFlags { l.setNZCV(l.builder.emit(.nzcvAdc, .i32, a, b, carry)) }
        l.setReg(rd(w), r)
    }

    static func logicalImmediate(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), opc = bits(w, 30, 29)
        guard t == .i64 || !bit(w, 22),
              let (imm, _) = decodeBitMasks(n: bits(w, 22, 22), imms: bits(w, 15, 10), immr: bits(w, 21, 16), immediate: true, width: t.bits)
        else { throw l.unallocated(w) }
        let a = l.reg(rn(w), t), b = l.const(t, imm)
        let r: IRValue
        switch opc {
        case 0, 3: r = l.builder.and(a, b)
        case 1: r = l.builder.or(a, b)
        default: r = l.builder.xor(a, b)
        }
        if opc == 3 {
            l.setNZCV(l.builder.emit(.nzcvLogic, .i32, r))
            l.setReg(rd(w), r)
        } else {
            l.setRegOrSP(rd(w), r)
        }
    }

    static func logicalShifted(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), opc = bits(w, 30, 29), amount = bits(w, 15, 10)
        guard t == .i64 || amount < 32 else { throw l.unallocated(w) }
        var b = l.shift(l.reg(rm(w), t), type: bits(w, 23, 22), amount: amount)
        if bit(w, 21) { b = l.builder.not(b) }
        // MOV (ORR with the zero register) is the common case: skip the or.
        if opc == 1 && rn(w) == 31 {
            l.setReg(rd(w), b)
            return
        }
        let a = l.reg(rn(w), t)
        let r: IRValue
        switch opc {
        case 0, 3: r = l.builder.and(a, b)
        case 1: r = l.builder.or(a, b)
        default: r = l.builder.xor(a, b)
        }
        if opc == 3 { l.setNZCV(l.builder.emit(.nzcvLogic, .i32, r)) }
        l.setReg(rd(w), r)
    }

    static func moveWide(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), opc = bits(w, 30, 29), hw = bits(w, 22, 21)
        guard opc != 1, t == .i64 || hw < 2 else { throw l.unallocated(w) }
        let pos = UInt64(hw * 16), imm = UInt64(bits(w, 20, 5)) << pos
        switch opc {
        case 0: l.setReg(rd(w), l.const(t, ~imm & t.mask))
        case 2: l.setReg(rd(w), l.const(t, imm))
        default:
            let old = l.reg(rd(w), t)
            let kept = l.builder.and(old, l.const(t, ~(UInt64(0xffff) << pos) & t.mask))
            l.setReg(rd(w), l.builder.or(kept, l.const(t, imm)))
        }
    }

    static func bitfield(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), opc = bits(w, 30, 29), width = t.bits
        let n = bits(w, 22, 22), immr = bits(w, 21, 16), imms = bits(w, 15, 10)
        guard opc != 3, (t == .i64) == (n == 1), t == .i64 || (immr < 32 && imms < 32),
              let (wmask, tmask) = decodeBitMasks(n: n, imms: imms, immr: immr, immediate: false, width: width)
        else { throw l.unallocated(w) }
        // Common aliases first: they give the backend simpler IR.
        if opc != 1 && immr == 0 && (imms == 7 || imms == 15 || imms == 31) && Int(imms) < width - 1 {
            // SXTB / SXTH / SXTW, UXTB / UXTH: one extension of the low bits (movsx, movzx)
            // instead of two shifts.
            let narrow = l.builder.trunc(l.reg(rn(w), .i64), to: IRType.integer(bits: Int(imms) + 1))
            l.setReg(rd(w), opc == 0 ? l.builder.sext(narrow, to: t) : l.builder.zext(narrow, to: t))
            return
        }
        let src = l.reg(rn(w), t)
        if opc != 1 && imms >= immr {
            // UBFX / SBFX (and LSR / ASR): move bits imms...immr to the top, then down to 0.
            var v = src
            let left = width - 1 - Int(imms), right = width - (Int(imms - immr) + 1)
            if left != 0 { v = l.builder.shl(v, l.const(t, UInt64(left))) }
            if right != 0 { v = l.builder.binary(opc == 0 ? .ashr : .lshr, v, l.const(t, UInt64(right))) }
            l.setReg(rd(w), v)
            return
        }
        if opc == 2 && imms + 1 == immr {
            // LSL #(width - immr).
            l.setReg(rd(w), l.builder.shl(src, l.const(t, UInt64(width - Int(immr)))))
            return
        }
        if opc != 1 {
            // UBFIZ / SBFIZ (imms < immr): bits imms...0 to the top, then down to
            // width - immr, zero- or sign-filling (the general form took ten x86 instructions).
            var v = l.builder.shl(src, l.const(t, UInt64(width - 1 - Int(imms))))
            let right = Int(immr) - 1 - Int(imms)
            if right != 0 { v = l.builder.binary(opc == 0 ? .ashr : .lshr, v, l.const(t, UInt64(right))) }
            l.setReg(rd(w), v)
            return
        }
        // General form from the pseudocode.
        let dst = opc == 1 ? l.reg(rd(w), t) : l.const(t, 0)
        let rotated = immr == 0 ? src : l.builder.ror(src, l.const(t, UInt64(immr)))
        var bot = l.builder.and(rotated, l.const(t, wmask))
        if opc == 1 { bot = l.builder.or(l.builder.and(dst, l.const(t, ~wmask & t.mask)), bot) }
        let top: IRValue
        if opc == 0 {
            let s = l.builder.shl(src, l.const(t, UInt64(width - 1 - Int(imms))))
            top = l.builder.ashr(s, l.const(t, UInt64(width - 1)))
        } else {
            top = dst
        }
        let r = l.builder.or(l.builder.and(top, l.const(t, ~tmask & t.mask)), l.builder.and(bot, l.const(t, tmask)))
        l.setReg(rd(w), r)
    }

    static func extract(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), lsb = bits(w, 15, 10)
        guard (t == .i64) == bit(w, 22), t == .i64 || lsb < 32 else { throw l.unallocated(w) }
        let low = l.reg(rm(w), t)
        if lsb == 0 {
            l.setReg(rd(w), low)
            return
        }
        if rn(w) == rm(w) {
            l.setReg(rd(w), l.builder.ror(low, l.const(t, UInt64(lsb))))
            return
        }
        let high = l.reg(rn(w), t)
        let r = l.builder.or(l.builder.shl(high, l.const(t, UInt64(t.bits - Int(lsb)))), l.builder.lshr(low, l.const(t, UInt64(lsb))))
        l.setReg(rd(w), r)
    }

    static func conditionalCompare(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), isSub = bit(w, 30)
        let a = l.reg(rn(w), t)
        let b = bit(w, 11) ? l.const(t, UInt64(bits(w, 20, 16))) : l.reg(rm(w), t)
        let holds = l.condition(bits(w, 15, 12))
        let flags = l.builder.emit(isSub ? .nzcvSub : .nzcvAdd, .i32, a, b)
        let fallback = l.const(.i32, UInt64(bits(w, 3, 0)) << 28)
        l.setNZCV(l.builder.select(holds, flags, fallback))
    }

    static func conditionalSelect(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), op = bit(w, 30), o2 = bit(w, 10)
        let holds = l.condition(bits(w, 15, 12))
        let a = l.reg(rn(w), t)
        var b = l.reg(rm(w), t)
        if rm(w) == 31 {
            // CSET, CSETM, CINC of zero: the second value is a constant. (An ADD of two
            // constants would also clobber the host flags the select reads.)
            switch (op, o2) {
            case (false, true): b = l.const(t, 1)
            case (true, false): b = l.const(t, t.mask)
            default: break
            }
        } else {
            switch (op, o2) {
            case (false, true): b = l.builder.add(b, l.const(t, 1))
            case (true, false): b = l.builder.not(b)
            case (true, true): b = l.builder.sub(l.const(t, 0), b)
            default: break
            }
        }
        l.setReg(rd(w), l.builder.select(holds, a, b))
    }

    static func multiplyAdd(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w)
        let p = l.builder.binary(.mul, l.reg(rn(w), t), l.reg(rm(w), t))
        if ra(w) == 31 && !bit(w, 15) {
            l.setReg(rd(w), p)
            return
        }
        let acc = l.reg(ra(w), t)
        l.setReg(rd(w), bit(w, 15) ? l.builder.sub(acc, p) : l.builder.add(acc, p))
    }

    /// SMADDL, SMSUBL, UMADDL, UMSUBL: 32 x 32 -> 64 multiply-accumulate.
    static func multiplyAddLong(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let unsigned = bit(w, 23)
        let a = l.reg(rn(w), .i32), b = l.reg(rm(w), .i32)
        let wa = unsigned ? l.builder.zext(a, to: .i64) : l.builder.sext(a, to: .i64)
        let wb = unsigned ? l.builder.zext(b, to: .i64) : l.builder.sext(b, to: .i64)
        let p = l.builder.binary(.mul, wa, wb)
        if ra(w) == 31 && !bit(w, 15) {
            l.setReg(rd(w), p)
            return
        }
        let acc = l.reg(ra(w), .i64)
        l.setReg(rd(w), bit(w, 15) ? l.builder.sub(acc, p) : l.builder.add(acc, p))
    }

    static func multiplyHigh(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        l.setReg(rd(w), l.builder.binary(bit(w, 23) ? .umulh : .smulh, l.reg(rn(w), .i64), l.reg(rm(w), .i64)))
    }

    static func divide(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w)
        l.setReg(rd(w), l.builder.binary(bit(w, 10) ? .sdiv : .udiv, l.reg(rn(w), t), l.reg(rm(w), t)))
    }

    /// LSLV, LSRV, ASRV, RORV: the IR shifts already take the amount modulo the width.
    static func shiftVariable(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w)
        let op: IROp
        switch bits(w, 11, 10) {
        case 0: op = .shl
        case 1: op = .lshr
        case 2: op = .ashr
        default: op = .ror
        }
        l.setReg(rd(w), l.builder.binary(op, l.reg(rn(w), t), l.reg(rm(w), t)))
    }

    static func crc32(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = bits(w, 11, 10)
        guard bit(w, 31) == (size == 3) else { throw l.unallocated(w) }
        let acc = l.reg(rn(w), .i32)
        let data = l.reg(rm(w), IRType.integer(bits: 8 << Int(size)))
        let aux = UInt16(size) | (bit(w, 12) ? 16 : 0)
        l.setReg(rd(w), l.builder.emit(.crc32, .i32, acc, data, aux: aux))
    }

    static func bitReverse(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w)
        l.setReg(rd(w), l.builder.unary(.rbit, l.reg(rn(w), t)))
    }

    /// REV16, REV32, REV: byte reversal within 2-, 4- or 8-byte containers.
    static func byteReverse(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w), opc = Int(bits(w, 11, 10))
        guard opc != 0, (1 << opc) * 8 <= t.bits else { throw l.unallocated(w) }
        let container = UInt64(1 << opc)
        l.setReg(rd(w), l.builder.emit(.byteSwap, t, l.reg(rn(w), t), imm: container))
    }

    static func countLeading(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w)
        l.setReg(rd(w), l.builder.unary(bit(w, 10) ? .cls : .clz, l.reg(rn(w), t)))
    }
}
