import KilnIR

extension A64Lifter {
    @inlinable public mutating func vreg(_ n: Int) -> IRValue { builder.readReg(.v(n & 31)) }

    /// Writes vector `v` to V register `n`; a 64-bit (Q = 0) result clears the upper half.
    @inlinable public mutating func setVector(_ n: Int, _ v: IRValue, q: Bool) {
        builder.writeReg(.v(n & 31), q ? v : builder.emit(.vclearHigh, .v128, v))
    }

    @inlinable public mutating func vop(_ op: IROp, _ e: IRElement, _ a: IRValue, _ b: IRValue = .none, _ c: IRValue = .none, imm: UInt64 = 0, aux extra: UInt16 = 0) -> IRValue {
        builder.emit(op, .v128, a, b, c, imm: imm, aux: e.rawValue | extra)
    }

    @inlinable public mutating func vzero() -> IRValue {
        let z = const64(0)
        return builder.emit(.vpack, .v128, z, z)
    }

    /// The low 64 bits of `a` and of `b` side by side (for pairwise and unzip of 64-bit vectors).
    @inlinable public mutating func lowHalves(_ a: IRValue, _ b: IRValue) -> IRValue {
        let lo = builder.emit(.vextract, .i64, a, aux: IRElement.i64.rawValue)
        let hi = builder.emit(.vextract, .i64, b, aux: IRElement.i64.rawValue)
        return builder.emit(.vpack, .v128, lo, hi)
    }

    /// Writes a narrowed result (in the low 64 bits of `v`) to `d`: the low half for Q = 0,
    /// the high half keeping the low half for Q = 1 (the "2" forms).
    @inlinable public mutating func setNarrow(_ d: Int, _ v: IRValue, q: Bool) {
        if q {
            let lo = builder.emit(.vextract, .i64, v, aux: IRElement.i64.rawValue)
            builder.writeReg(.v(d), builder.emit(.vinsert, .v128, vreg(d), lo, imm: 1, aux: IRElement.i64.rawValue))
        } else {
            setVector(d, v, q: false)
        }
    }
}

/// Advanced SIMD. Fields: Q bit 30, U bit 29, size bits 23...22, Rm, Rn, Rd.
enum SIMD {
    /// FCVTNS/NU, FCVTPS/PU, FCVTMS/MU, FCVTZS/ZU, FCVTAS/AU (two-register forms): the opcode and
    /// bit 23 select the rounding.
    static func conversionRounding(opcode: UInt32, high: Bool) -> IRRounding {
        switch (opcode, high) {
        case (26, false): return .tiesToEven
        case (26, true): return .towardPlus
        case (27, false): return .towardMinus
        case (27, true): return .towardZero
        default: return .tiesAway
        }
    }

    static func floatElement(_ l: A64Lifter, _ w: UInt32, q: Bool) throws(A64LiftError) -> IRElement {
        let double = bit(w, 22)
        guard !(double && !q) else { throw l.unallocated(w) }
        return double ? .f64 : .f32
    }

    static func threeSame(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 11)
        let n = l.vreg(rn(w)), m = l.vreg(rm(w))
        let e = IRElement.integer(sizeLog2: size).vector(q: q)
        if opcode == 3 {
            let r: IRValue
            switch (u, size) {
            case (false, 0): r = l.vop(.vand, .i8, n, m)
            case (false, 1): r = l.vop(.vbic, .i8, n, m)
            case (false, 2): r = l.vop(.vor, .i8, n, m)
            case (false, _): r = l.vop(.vorn, .i8, n, m)
            case (true, 0): r = l.vop(.vxor, .i8, n, m)
            case (true, 1): r = l.vop(.vbsl, .i8, l.vreg(rd(w)), n, m)
            case (true, 2): r = l.vop(.vbsl, .i8, m, n, l.vreg(rd(w)))
            default: r = l.vop(.vbsl, .i8, m, l.vreg(rd(w)), n)
            }
            l.setVector(rd(w), r, q: q)
            return
        }
        if opcode >= 24 {
            try threeSameFloat(&l, w, n, m)
            return
        }
        guard size != 3 || q else { throw l.unallocated(w) }
        let r: IRValue
        switch (u, opcode) {
        case (_, 0), (_, 2), (_, 4):
            guard size != 3 else { throw l.unallocated(w) }
            let op: IROp
            switch opcode {
            case 0: op = u ? .vuhadd : .vshadd
            case 2: op = u ? .vurhadd : .vsrhadd
            default: op = u ? .vuhsub : .vshsub
            }
            r = l.vop(op, e, n, m)
        case (_, 9), (_, 10), (_, 11):
            let op: IROp
            switch opcode {
            case 9: op = u ? .vuqshl : .vsqshl
            case 10: op = u ? .vurshl : .vsrshl
            default: op = u ? .vuqrshl : .vsqrshl
            }
            r = l.vop(op, e, n, m)
        case (true, 19):
            guard size == 0 else { throw l.unallocated(w) }
            r = l.vop(.vpmul, e, n, m)
        case (_, 22):
            guard size == 1 || size == 2 else { throw l.unallocated(w) }
            r = l.vop(u ? .vsqrdmulh : .vsqdmulh, e, n, m)
        case (false, 1): r = l.vop(.vsqadd, e, n, m)
        case (true, 1): r = l.vop(.vuqadd, e, n, m)
        case (false, 5): r = l.vop(.vsqsub, e, n, m)
        case (true, 5): r = l.vop(.vuqsub, e, n, m)
        case (false, 6): r = l.vop(.vcmgt, e, n, m)
        case (true, 6): r = l.vop(.vcmhi, e, n, m)
        case (false, 7): r = l.vop(.vcmge, e, n, m)
        case (true, 7): r = l.vop(.vcmhs, e, n, m)
        case (false, 8): r = l.vop(.vsshl, e, n, m)
        case (true, 8): r = l.vop(.vushl, e, n, m)
        case (false, 12): r = l.vop(.vsmax, e, n, m)
        case (true, 12): r = l.vop(.vumax, e, n, m)
        case (false, 13): r = l.vop(.vsmin, e, n, m)
        case (true, 13): r = l.vop(.vumin, e, n, m)
        case (false, 14): r = l.vop(.vsabd, e, n, m)
        case (true, 14): r = l.vop(.vuabd, e, n, m)
        case (false, 15): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vsabd, e, n, m))
        case (true, 15): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vuabd, e, n, m))
        case (false, 16): r = l.vop(.vadd, e, n, m)
        case (true, 16): r = l.vop(.vsub, e, n, m)
        case (false, 17): r = l.vop(.vcmtst, e, n, m)
        case (true, 17): r = l.vop(.vcmeq, e, n, m)
        case (_, 18), (false, 19):
            guard size != 3 else { throw l.unallocated(w) }
            let p = l.vop(.vmul, e, n, m)
            r = opcode == 19 ? p : l.vop(u ? .vsub : .vadd, e, l.vreg(rd(w)), p)
        case (_, 20), (_, 21), (false, 23):
            guard size != 3 || opcode == 23 else { throw l.unallocated(w) }
            let op: IROp
            switch opcode {
            case 20: op = u ? .vumaxp : .vsmaxp
            case 21: op = u ? .vuminp : .vsminp
            default: op = .vaddp
            }
            let full = IRElement.integer(sizeLog2: size)
            r = q ? l.vop(op, full, n, m) : l.vop(op, full, l.lowHalves(n, m), l.vzero())
        default:
            throw l.unimplemented(w)
        }
        l.setVector(rd(w), r, q: q)
    }

    static func threeSameFloat(_ l: inout A64Lifter, _ w: UInt32, _ n: IRValue, _ m: IRValue) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), high = bit(w, 23), opcode = bits(w, 15, 11)
        let full = try floatElement(l, w, q: q)
        let e = full.vector(q: q)
        let r: IRValue
        switch (u, opcode, high) {
        case (false, 24, false): r = l.vop(.vfmaxnm, e, n, m)
        case (false, 24, true): r = l.vop(.vfminnm, e, n, m)
        case (false, 25, false): r = l.vop(.vfmadd, e, n, m, l.vreg(rd(w)))
        case (false, 25, true): r = l.vop(.vfmadd, e, l.vop(.vfneg, e, n), m, l.vreg(rd(w)))
        case (false, 26, false): r = l.vop(.vfadd, e, n, m)
        case (false, 26, true): r = l.vop(.vfsub, e, n, m)
        case (false, 30, false): r = l.vop(.vfmax, e, n, m)
        case (false, 30, true): r = l.vop(.vfmin, e, n, m)
        case (false, 28, false): r = l.vop(.vfcmeq, e, n, m)
        case (true, 28, false): r = l.vop(.vfcmge, e, n, m)
        case (true, 28, true): r = l.vop(.vfcmgt, e, n, m)
        case (true, 26, true): r = l.vop(.vfabs, e, l.vop(.vfsub, e, n, m))
        case (true, 27, false): r = l.vop(.vfmul, e, n, m)
        case (true, 31, false): r = l.vop(.vfdiv, e, n, m)
        case (true, 26, false), (true, 24, _), (true, 30, _):
            // FADDP, FMAXNMP, FMINNMP, FMAXP, FMINP: pairwise over the concatenation.
            let op: IROp = opcode == 26 ? .fadd : (opcode == 24 ? (high ? .fminnm : .fmaxnm) : (high ? .fmin : .fmax))
            r = floatPairwise(&l, full, q ? n : l.lowHalves(n, m), q ? m : l.vzero(), q: q, op: op)
        case (true, 29, _):
            r = l.vop(high ? .vfcmgt : .vfcmge, e, l.vop(.vfabs, e, n), l.vop(.vfabs, e, m))
        case (false, 27, false), (false, 31, _):
            r = try laneByLane(&l, w, full, q: q) { l, a, b in
                let op: IROp = opcode == 27 ? .fmulx : (high ? .frsqrts : .frecps)
                return l.builder.binary(op, a, b)
            }
        default: throw l.unimplemented(w)
        }
        l.setVector(rd(w), r, q: q)
    }

    /// Applies a scalar float operation to each lane of Vn and Vm.
    static func laneByLane(_ l: inout A64Lifter, _ w: UInt32, _ e: IRElement, q: Bool, _ body: (inout A64Lifter, IRValue, IRValue) -> IRValue) throws(A64LiftError) -> IRValue {
        let t: IRType = e == .f64 ? .f64 : .f32
        let n = l.vreg(rn(w)), m = l.vreg(rm(w))
        var r = l.vzero()
        let lanes = (q ? 16 : 8) >> e.sizeLog2
        for i in 0..<lanes {
            let a = l.builder.emit(.vextract, t, n, imm: UInt64(i), aux: e.rawValue)
            let b = l.builder.emit(.vextract, t, m, imm: UInt64(i), aux: e.rawValue)
            r = l.builder.emit(.vinsert, .v128, r, body(&l, a, b), imm: UInt64(i), aux: e.rawValue)
        }
        return r
    }

    static func floatPairwise(_ l: inout A64Lifter, _ e: IRElement, _ a: IRValue, _ b: IRValue, q: Bool, op: IROp = .fadd) -> IRValue {
        let t: IRType = e == .f64 ? .f64 : .f32
        var r = l.vzero()
        let lanes = 16 >> e.sizeLog2, half = lanes / 2
        for i in 0..<lanes {
            let src = i < half ? a : b, j = UInt64((i % half) * 2)
            let x = l.builder.emit(.vextract, t, src, imm: j, aux: e.rawValue)
            let y = l.builder.emit(.vextract, t, src, imm: j + 1, aux: e.rawValue)
            r = l.builder.emit(.vinsert, .v128, r, l.builder.binary(op, x, y), imm: UInt64(i), aux: e.rawValue)
        }
        return r
    }

    /// The A64 Reduce() tree over `count` float lanes of `v`: halves reduced separately, then
    /// combined, which fixes which NaN wins.
    static func floatReduce(_ l: inout A64Lifter, _ v: IRValue, _ e: IRElement, _ t: IRType, first: Int, count: Int, op: IROp) -> IRValue {
        if count == 1 { return l.builder.emit(.vextract, t, v, imm: UInt64(first), aux: e.rawValue) }
        let lo = floatReduce(&l, v, e, t, first: first, count: count / 2, op: op)
        let hi = floatReduce(&l, v, e, t, first: first + count / 2, count: count / 2, op: op)
        return l.builder.binary(op, lo, hi)
    }

    static func threeDifferent(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 12)
        if opcode == 14 && !u {
            try polynomialMultiplyLong(&l, w)
            return
        }
        guard size != 3 else { throw l.unallocated(w) }
        let e = IRElement.integer(sizeLog2: size), wide = IRElement.integer(sizeLog2: size + 1)
        let half = UInt64(q ? 1 : 0)
        let n = l.vreg(rn(w)), m = l.vreg(rm(w))
        let extend: IROp = u ? .vuxtl : .vsxtl
        func widen(_ l: inout A64Lifter, _ v: IRValue) -> IRValue { l.vop(extend, e, v, imm: half) }
        let r: IRValue
        switch opcode {
        case 0: r = l.vop(.vadd, wide, widen(&l, n), widen(&l, m))
        case 1: r = l.vop(.vadd, wide, n, widen(&l, m))
        case 2: r = l.vop(.vsub, wide, widen(&l, n), widen(&l, m))
        case 3: r = l.vop(.vsub, wide, n, widen(&l, m))
        case 4, 6:
            var sum = l.vop(opcode == 4 ? .vadd : .vsub, wide, n, m)
            if u { sum = l.vop(.vadd, wide, sum, l.vop(.vsplat, wide, l.const64(1 << UInt64(e.bits - 1)))) }
            let top = l.vop(.vxtn, wide, l.vop(.vushrImm, wide, sum, imm: UInt64(e.bits)))
            l.setNarrow(rd(w), top, q: q)
            return
        case 5, 7:
            let diff = l.vop(u ? .vuabd : .vsabd, wide, widen(&l, n), widen(&l, m))
            r = opcode == 5 ? l.vop(.vadd, wide, l.vreg(rd(w)), diff) : diff
        case 8, 10, 12:
            let p = l.vop(u ? .vumull : .vsmull, e, n, m, imm: half)
            r = opcode == 12 ? p : l.vop(opcode == 8 ? .vadd : .vsub, wide, l.vreg(rd(w)), p)
        case 9, 11, 13:
            guard !u, size == 1 || size == 2 else { throw l.unallocated(w) }
            let p = l.vop(.vsqdmull, e, n, m, imm: half)
            r = opcode == 13 ? p : l.vop(opcode == 9 ? .vsqadd : .vsqsub, wide, l.vreg(rd(w)), p)
        default:
            throw l.unimplemented(w)
        }
        l.builder.writeReg(.v(rd(w)), r)
    }

    /// PMULL / PMULL2: 8 x 8 -> 16 bit lanes, or 64 x 64 -> 128.
    static func polynomialMultiplyLong(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), size = Int(bits(w, 23, 22))
        guard size == 0 || size == 3 else { throw l.unallocated(w) }
        let e = IRElement.integer(sizeLog2: size)
        l.builder.writeReg(.v(rd(w)), l.vop(.vpmull, e, l.vreg(rn(w)), l.vreg(rm(w)), imm: q ? 1 : 0))
    }

    static func twoRegisterMisc(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 16, 12)
        let e = IRElement.integer(sizeLog2: size)
        let lanes = e.vector(q: q)
        let n = l.vreg(rn(w))
        let r: IRValue
        switch (u, opcode) {
        case (_, 0), (false, 1):
            // REV64, REV32, REV16: container of 8 >> (u + opcode) bytes.
            let container = 8 >> (Int(opcode) * 2 + (u ? 1 : 0))
            guard size < Int(container).trailingZeroBitCount else { throw l.unallocated(w) }
            r = l.vop(.vrev, e, n, imm: UInt64(container))
        case (_, 2):
            guard size != 3 else { throw l.unallocated(w) }
            let wide = IRElement.integer(sizeLog2: size + 1)
            let even = l.vop(.vuzp1, e, n, n), odd = l.vop(.vuzp2, e, n, n)
            let ext: IROp = u ? .vuxtl : .vsxtl
            r = l.vop(.vadd, wide, l.vop(ext, e, even, imm: 0), l.vop(ext, e, odd, imm: 0))
        case (false, 3): r = l.vop(.vsuqadd, lanes, l.vreg(rd(w)), n)
        case (true, 3): r = l.vop(.vusqadd, lanes, l.vreg(rd(w)), n)
        case (false, 7): r = l.vop(.vsqabs, lanes, n)
        case (true, 7): r = l.vop(.vsqneg, lanes, n)
        case (_, 6):
            guard size != 3 else { throw l.unallocated(w) }
            let wide = IRElement.integer(sizeLog2: size + 1)
            let even = l.vop(.vuzp1, e, n, n), odd = l.vop(.vuzp2, e, n, n)
            let ext: IROp = u ? .vuxtl : .vsxtl
            let sums = l.vop(.vadd, wide, l.vop(ext, e, even, imm: 0), l.vop(ext, e, odd, imm: 0))
            r = l.vop(.vadd, wide.vector(q: q), l.vreg(rd(w)), sums)
        case (false, 4): r = l.vop(.vcls, lanes, n)
        case (true, 4): r = l.vop(.vclz, lanes, n)
        case (false, 5):
            guard size == 0 else { throw l.unallocated(w) }
            r = l.vop(.vcnt, .i8, n)
        case (true, 5):
            guard size < 2 else { throw l.unallocated(w) }
            r = size == 0 ? l.vop(.vnot, .i8, n) : l.vop(.vrbit, .i8, n)
        case (_, 8), (_, 9), (false, 10):
            guard size != 3 || q else { throw l.unallocated(w) }
            let z = l.vzero()
            switch (u, opcode) {
            case (false, 8): r = l.vop(.vcmgt, lanes, n, z)
            case (true, 8): r = l.vop(.vcmge, lanes, n, z)
            case (false, 9): r = l.vop(.vcmeq, lanes, n, z)
            case (true, 9): r = l.vop(.vcmge, lanes, z, n)
            default: r = l.vop(.vcmgt, lanes, z, n)
            }
        case (_, 11):
            guard size != 3 || q else { throw l.unallocated(w) }
            r = l.vop(u ? .vneg : .vabs, lanes, n)
        case (false, 18), (false, 20), (true, 18), (true, 20):
            guard size != 3 else { throw l.unallocated(w) }
            let wide = IRElement.integer(sizeLog2: size + 1)
            let op: IROp = opcode == 18 ? (u ? .vsqxtun : .vxtn) : (u ? .vuqxtn : .vsqxtn)
            l.setNarrow(rd(w), l.vop(op, wide, n), q: q)
            return
        case (true, 19):
            // SHLL: widen then shift left by the source element width.
            guard size != 3 else { throw l.unallocated(w) }
            let wide = IRElement.integer(sizeLog2: size + 1)
            r = l.vop(.vshlImm, wide, l.vop(.vuxtl, e, n, imm: q ? 1 : 0), imm: UInt64(e.bits))
            l.builder.writeReg(.v(rd(w)), r)
            return
        default:
            try twoRegisterMiscFloat(&l, w, n)
            return
        }
        l.setVector(rd(w), r, q: q)
    }

    static func twoRegisterMiscFloat(_ l: inout A64Lifter, _ w: UInt32, _ n: IRValue) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), high = bit(w, 23), opcode = bits(w, 16, 12)
        if opcode == 22 || opcode == 23 {
            // FCVTN / FCVTXN / FCVTL: f64 <-> f32 (size<0> = 1) or f32 <-> f16, lane by lane.
            let double = bit(w, 22)
            if u && (opcode == 23 || !double) { throw l.unallocated(w) }
            let (wideType, wideE): (IRType, IRElement) = double ? (.f64, .f64) : (.f32, .f32)
            let (narrowType, narrowE): (IRType, IRElement) = double ? (.f32, .f32) : (.i16, .i16)
            let count = double ? 2 : 4
            var r = l.vzero()
            if opcode == 23 {
                for i in 0..<count {
                    let x = l.builder.emit(.vextract, narrowType, n, imm: UInt64(i + (q ? count : 0)), aux: narrowE.rawValue)
                    r = l.builder.emit(.vinsert, .v128, r, l.builder.emit(.fconvert, wideType, x), imm: UInt64(i), aux: wideE.rawValue)
                }
                l.builder.writeReg(.v(rd(w)), r)
            } else {
                let rounding: UInt16 = u ? IRRounding.odd.rawValue : 0
                for i in 0..<count {
                    let x = l.builder.emit(.vextract, wideType, n, imm: UInt64(i), aux: wideE.rawValue)
                    r = l.builder.emit(.vinsert, .v128, r, l.builder.emit(.fconvert, narrowType, x, aux: rounding), imm: UInt64(i), aux: narrowE.rawValue)
                }
                l.setNarrow(rd(w), r, q: q)
            }
            return
        }
        let full = try floatElement(l, w, q: q)
        let e = full.vector(q: q)
        let r: IRValue
        switch (u, opcode, high) {
        case (false, 15, true): r = l.vop(.vfabs, e, n)
        case (true, 15, true): r = l.vop(.vfneg, e, n)
        case (true, 31, true): r = l.vop(.vfsqrt, e, n)
        case (_, 12, true), (_, 13, true), (false, 14, true):
            let z = l.vzero()
            switch (u, opcode) {
            case (false, 12): r = l.vop(.vfcmgt, e, n, z)
            case (true, 12): r = l.vop(.vfcmge, e, n, z)
            case (false, 13): r = l.vop(.vfcmeq, e, n, z)
            case (true, 13): r = l.vop(.vfcmge, e, z, n)
            default: r = l.vop(.vfcmgt, e, z, n)
            }
        case (_, 29, false):
            r = l.vop(u ? .vuintToFloat : .vintToFloat, e, n)
        case (_, 24, _), (_, 25, _):
            let mode: IRRounding
            switch (u, opcode, high) {
            case (false, 24, false): mode = .tiesToEven
            case (false, 24, true): mode = .towardPlus
            case (false, 25, false): mode = .towardMinus
            case (false, 25, true): mode = .towardZero
            case (true, 24, false): mode = .tiesAway
            case (true, 25, false), (true, 25, true): mode = .current
            default: throw l.unallocated(w)
            }
            let exact: UInt16 = (u && opcode == 25 && !high) ? 0x1000 : 0
            r = l.vop(.vfround, e, n, aux: mode.rawValue << 8 | exact)
        case (_, 26, _), (_, 27, _), (_, 28, false):
            let mode = conversionRounding(opcode: opcode, high: high)
            r = l.vop(u ? .vfloatToUInt : .vfloatToInt, e, n, aux: mode.rawValue << 8)
        case (_, 28, true):
            guard !bit(w, 22) else { throw l.unallocated(w) }
            r = l.vop(u ? .vursqrte : .vurecpe, IRElement.i32.vector(q: q), n)
        case (false, 29, true), (true, 29, true):
            let op: IROp = u ? .frsqrte : .frecpe
            let t: IRType = full == .f64 ? .f64 : .f32
            var acc = l.vzero()
            for i in 0..<((q ? 16 : 8) >> full.sizeLog2) {
                let x = l.builder.emit(.vextract, t, n, imm: UInt64(i), aux: full.rawValue)
                acc = l.builder.emit(.vinsert, .v128, acc, l.builder.unary(op, x), imm: UInt64(i), aux: full.rawValue)
            }
            r = acc
        default:
            throw l.unimplemented(w)
        }
        l.setVector(rd(w), r, q: q)
    }

    static func acrossLanes(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 16, 12)
        if u && (opcode == 12 || opcode == 15) {
            try acrossLanesFloat(&l, w)
            return
        }
        guard size < 2 || (size == 2 && q) else { throw l.unallocated(w) }
        let e = IRElement.integer(sizeLog2: size)
        let lanes = UInt64((q ? 16 : 8) >> size)
        let n = l.vreg(rn(w))
        let r: IRValue
        switch (u, opcode) {
        case (_, 3):
            let wide = IRElement.integer(sizeLog2: size + 1)
            let ext: IROp = u ? .vuxtl : .vsxtl
            var v = l.vop(ext, e, n, imm: 0)
            if q { v = l.vop(.vadd, wide, v, l.vop(ext, e, n, imm: 1)) }
            r = l.builder.emit(.vaddv, .i64, v, imm: q ? lanes / 2 : lanes, aux: wide.rawValue)
        case (false, 10): r = l.builder.emit(.vsmaxv, .i64, n, imm: lanes, aux: e.rawValue)
        case (true, 10): r = l.builder.emit(.vumaxv, .i64, n, imm: lanes, aux: e.rawValue)
        case (false, 26): r = l.builder.emit(.vsminv, .i64, n, imm: lanes, aux: e.rawValue)
        case (true, 26): r = l.builder.emit(.vuminv, .i64, n, imm: lanes, aux: e.rawValue)
        case (false, 27): r = l.builder.emit(.vaddv, .i64, n, imm: lanes, aux: e.rawValue)
        default: throw l.unimplemented(w)
        }
        l.writeScalar(rd(w), r)
    }

    /// FMAXNMV, FMINNMV, FMAXV, FMINV (single precision, four lanes).
    static func acrossLanesFloat(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        guard bit(w, 30), !bit(w, 22) else { throw l.unallocated(w) }
        let high = bit(w, 23), opcode = bits(w, 16, 12)
        let op: IROp = opcode == 12 ? (high ? .fminnm : .fmaxnm) : (high ? .fmin : .fmax)
        l.writeScalar(rd(w), floatReduce(&l, l.vreg(rn(w)), .f32, .f32, first: 0, count: 4, op: op))
    }

    /// DUP, INS, SMOV, UMOV. imm5's lowest set bit gives the element size, the bits above it
    /// the lane.
    static func copy(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), imm5 = bits(w, 20, 16), imm4 = bits(w, 14, 11)
        let size = imm5.trailingZeroBitCount
        guard size < 4 else { throw l.unallocated(w) }
        let e = IRElement.integer(sizeLog2: size)
        let index = UInt64(imm5 >> UInt32(size + 1))
        if bit(w, 29) {
            // INS (element): imm4 holds the source lane.
            let src = UInt64(imm4 >> UInt32(size))
            let x = l.builder.emit(.vextract, .i64, l.vreg(rn(w)), imm: src, aux: e.rawValue)
            l.builder.writeReg(.v(rd(w)), l.builder.emit(.vinsert, .v128, l.vreg(rd(w)), x, imm: index, aux: e.rawValue))
            return
        }
        switch imm4 {
        case 0:
            guard size < 3 || q else { throw l.unallocated(w) }
            let x = l.builder.emit(.vextract, .i64, l.vreg(rn(w)), imm: index, aux: e.rawValue)
            l.setVector(rd(w), l.vop(.vsplat, e, x), q: q)
        case 1:
            guard size < 3 || q else { throw l.unallocated(w) }
            l.setVector(rd(w), l.vop(.vsplat, e, l.reg(rn(w), .i64)), q: q)
        case 3:
            l.builder.writeReg(.v(rd(w)), l.builder.emit(.vinsert, .v128, l.vreg(rd(w)), l.reg(rn(w), .i64), imm: index, aux: e.rawValue))
        case 5:
            guard size < (q ? 3 : 2) else { throw l.unallocated(w) }
            let x = l.builder.emit(.vextract, .i64, l.vreg(rn(w)), imm: index, aux: e.rawValue)
            let narrow = l.builder.trunc(x, to: IRType.integer(bits: e.bits))
            l.setReg(rd(w), l.builder.sext(narrow, to: q ? .i64 : .i32))
        case 7:
            guard q == (size == 3) else { throw l.unallocated(w) }
            l.setReg(rd(w), l.builder.emit(.vextract, .i64, l.vreg(rn(w)), imm: index, aux: e.rawValue))
        default:
            throw l.unallocated(w)
        }
    }

    /// AdvSIMDExpandImm.
    static func expandImmediate(op: Bool, cmode: UInt32, imm8: UInt32) -> UInt64? {
        let i = UInt64(imm8)
        func rep32(_ x: UInt64) -> UInt64 { x | x << 32 }
        func rep16(_ x: UInt64) -> UInt64 { x | x << 16 | x << 32 | x << 48 }
        switch cmode >> 1 {
        case 0: return rep32(i)
        case 1: return rep32(i << 8)
        case 2: return rep32(i << 16)
        case 3: return rep32(i << 24)
        case 4: return rep16(i)
        case 5: return rep16(i << 8)
        case 6: return cmode & 1 == 0 ? rep32(i << 8 | 0xff) : rep32(i << 16 | 0xffff)
        default:
            if cmode & 1 == 0 {
                if !op { return i * 0x0101_0101_0101_0101 }
                var r: UInt64 = 0
                for b in 0..<8 where (i >> UInt64(b)) & 1 == 1 { r |= 0xff << UInt64(b * 8) }
                return r
            }
            if !op { return rep32(FloatingPoint.expandFloatImmediate(imm8, 32)) }
            return FloatingPoint.expandFloatImmediate(imm8, 64)
        }
    }

    static func modifiedImmediate(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), op = bit(w, 29), cmode = bits(w, 15, 12)
        let imm8 = bits(w, 18, 16) << 5 | bits(w, 9, 5)
        if op && cmode == 15 && !q { throw l.unallocated(w) }
        if bit(w, 11) {
            // FMOV (vector, immediate, half precision).
            guard !op, cmode == 15 else { throw l.unallocated(w) }
            let c = l.const64(FloatingPoint.expandFloatImmediate(imm8, 16) * 0x0001_0001_0001_0001)
            l.builder.writeReg(.v(rd(w)), l.builder.emit(.vpack, .v128, c, q ? c : l.const64(0)))
            return
        }
        guard let imm = expandImmediate(op: op, cmode: cmode, imm8: imm8) else { throw l.unallocated(w) }
        let isLogical = cmode < 12 && cmode & 1 == 1
        let invert = op && cmode < 14
        let value = invert ? ~imm : imm
        let c = l.const64(value)
        let v = l.builder.emit(.vpack, .v128, c, q ? c : l.const64(0))
        if isLogical {
            let r = l.vop(op ? .vbic : .vor, .i8, l.vreg(rd(w)), op ? l.builder.emit(.vpack, .v128, l.const64(imm), l.const64(imm)) : v)
            l.setVector(rd(w), r, q: q)
        } else {
            l.builder.writeReg(.v(rd(w)), v)
        }
    }

    /// Element size and shift from immh:immb; nil when immh is 0 (modified immediate space).
    static func shiftFields(_ w: UInt32) -> (size: Int, immhb: Int)? {
        let immh = bits(w, 22, 19)
        guard immh != 0 else { return nil }
        return (31 - immh.leadingZeroBitCount, Int(bits(w, 22, 16)))
    }

    static func shiftImmediate(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), opcode = bits(w, 15, 11)
        guard let (size, immhb) = shiftFields(w) else { throw l.unallocated(w) }
        let e = IRElement.integer(sizeLog2: size).vector(q: q)
        let esize = e.bits
        let right = UInt64(2 * esize - immhb), left = UInt64(immhb - esize)
        let n = l.vreg(rn(w))
        let narrowing = (16...20).contains(opcode)
        guard narrowing ? size < 3 : (size < 3 || q) else { throw l.unallocated(w) }
        let r: IRValue
        switch (u, opcode) {
        case (false, 0): r = l.vop(.vsshrImm, e, n, imm: right)
        case (true, 0): r = l.vop(.vushrImm, e, n, imm: right)
        case (false, 2): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vsshrImm, e, n, imm: right))
        case (true, 2): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vushrImm, e, n, imm: right))
        case (_, 4): r = l.vop(u ? .vurshrImm : .vsrshrImm, e, n, imm: right)
        case (_, 6): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(u ? .vurshrImm : .vsrshrImm, e, n, imm: right))
        case (true, 12), (_, 14):
            let amounts = l.vop(.vsplat, e, l.const64(left))
            r = l.vop(opcode == 12 ? .vsqshlu : (u ? .vuqshl : .vsqshl), e, n, amounts)
        case (false, 10): r = l.vop(.vshlImm, e, n, imm: left)
        case (_, 17), (_, 18), (_, 19), (true, 16):
            // Narrowing shifts: shift (rounding for odd opcodes) the wide source, then narrow
            // (saturating except RSHRN).
            let wide = IRElement.integer(sizeLog2: size + 1)
            let rounding = opcode & 1 == 1
            let signedShift = !u || opcode <= 17
            let shiftOp: IROp = rounding ? (signedShift ? .vsrshrImm : .vurshrImm) : (signedShift ? .vsshrImm : .vushrImm)
            let narrowOp: IROp
            switch (u, opcode) {
            case (false, 17): narrowOp = .vxtn
            case (true, 16), (true, 17): narrowOp = .vsqxtun
            case (false, _): narrowOp = .vsqxtn
            default: narrowOp = .vuqxtn
            }
            let shifted = l.vop(shiftOp, wide, n, imm: right)
            l.setNarrow(rd(w), l.vop(narrowOp, wide, shifted), q: q)
            return
        case (true, 10), (true, 8):
            // SLI / SRI: shift, and insert into Vd where the shifted mask is set.
            let isLeft = opcode == 10
            let ones = l.vop(.vcmeq, e, n, n)
            let mask = isLeft ? l.vop(.vshlImm, e, ones, imm: left) : l.vop(.vushrImm, e, ones, imm: right)
            let shifted = isLeft ? l.vop(.vshlImm, e, n, imm: left) : l.vop(.vushrImm, e, n, imm: right)
            r = l.vop(.vbsl, e, mask, shifted, l.vreg(rd(w)))
        case (false, 16):
            // SHRN: the source has 2 * esize bits; `size` already names the narrow element.
            let wide = IRElement.integer(sizeLog2: size + 1)
            let shifted = l.vop(.vushrImm, wide, n, imm: right)
            l.setNarrow(rd(w), l.vop(.vxtn, wide, shifted), q: q)
            return
        case (_, 20):
            let wide = IRElement.integer(sizeLog2: size + 1)
            let extended = l.vop(u ? .vuxtl : .vsxtl, IRElement.integer(sizeLog2: size), n, imm: q ? 1 : 0)
            l.builder.writeReg(.v(rd(w)), left == 0 ? extended : l.vop(.vshlImm, wide, extended, imm: left))
            return
        case (_, 28):
            // Byte elements are reserved; half precision needs FEAT_FP16 arithmetic on vectors.
            guard size >= 1 else { throw l.unallocated(w) }
            guard size >= 2 else { throw l.unimplemented(w) }
            let fe = (size == 3 ? IRElement.f64 : .f32).vector(q: q)
            r = l.vop(u ? .vuintToFloat : .vintToFloat, fe, n, imm: right)
        case (_, 31):
            // Byte elements are reserved; half precision needs FEAT_FP16 arithmetic on vectors.
            guard size >= 1 else { throw l.unallocated(w) }
            guard size >= 2 else { throw l.unimplemented(w) }
            let fe = (size == 3 ? IRElement.f64 : .f32).vector(q: q)
            r = l.vop(u ? .vfloatToUInt : .vfloatToInt, fe, n, imm: right, aux: IRRounding.towardZero.rawValue << 8)
        default: throw l.unimplemented(w)
        }
        l.setVector(rd(w), r, q: q)
    }

    static func indexed(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 12)
        let h = bits(w, 11, 11), lBit = bits(w, 21, 21), mBit = bits(w, 20, 20)
        let isFloat = opcode == 1 || opcode == 5 || opcode == 9
        var e: IRElement, index: UInt32, mReg: Int
        if isFloat {
            guard size >= 2, !(size == 3 && (lBit == 1 || !q)) else { throw l.unallocated(w) }
            e = size == 3 ? .f64 : .f32
            index = size == 3 ? h : h << 1 | lBit
            mReg = Int(mBit << 4) | Int(bits(w, 19, 16))
            if u {
                // FMULX (by element), lane by lane.
                let t: IRType = e == .f64 ? .f64 : .f32
                let scalar = l.builder.emit(.vextract, t, l.vreg(mReg), imm: UInt64(index), aux: e.rawValue)
                let n = l.vreg(rn(w))
                var r = l.vzero()
                for i in 0..<((q ? 16 : 8) >> e.sizeLog2) {
                    let x = l.builder.emit(.vextract, t, n, imm: UInt64(i), aux: e.rawValue)
                    r = l.builder.emit(.vinsert, .v128, r, l.builder.binary(.fmulx, x, scalar), imm: UInt64(i), aux: e.rawValue)
                }
                l.setVector(rd(w), r, q: q)
                return
            }
        } else {
            guard size == 1 || size == 2 else { throw l.unallocated(w) }
            e = IRElement.integer(sizeLog2: size)
            index = size == 1 ? h << 2 | lBit << 1 | mBit : h << 1 | lBit
            mReg = size == 1 ? Int(bits(w, 19, 16)) : Int(mBit << 4) | Int(bits(w, 19, 16))
        }
        let scalar = l.builder.emit(.vextract, .i64, l.vreg(mReg), imm: UInt64(index), aux: IRElement.integer(sizeLog2: e.sizeLog2).rawValue)
        let m = l.vop(.vsplat, IRElement.integer(sizeLog2: e.sizeLog2), scalar)
        let n = l.vreg(rn(w))
        let r: IRValue
        let full = e
        e = e.vector(q: q)
        switch (u, opcode) {
        case (false, 1): r = l.vop(.vfmadd, e, n, m, l.vreg(rd(w)))
        case (false, 5): r = l.vop(.vfmadd, e, l.vop(.vfneg, e, n), m, l.vreg(rd(w)))
        case (false, 9): r = l.vop(.vfmul, e, n, m)
        case (false, 8): r = l.vop(.vmul, e, n, m)
        case (false, 12): r = l.vop(.vsqdmulh, e, n, m)
        case (false, 13): r = l.vop(.vsqrdmulh, e, n, m)
        case (true, 13): r = l.vop(.vsqrdmlah, e, l.vreg(rd(w)), n, m)
        case (true, 15): r = l.vop(.vsqrdmlsh, e, l.vreg(rd(w)), n, m)
        case (false, 3), (false, 7), (false, 11):
            let wide = IRElement.integer(sizeLog2: size + 1)
            let p = l.vop(.vsqdmull, full, n, m, imm: q ? 1 : 0)
            l.builder.writeReg(.v(rd(w)), opcode == 11 ? p : l.vop(opcode == 3 ? .vsqadd : .vsqsub, wide, l.vreg(rd(w)), p))
            return
        case (true, 0): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vmul, e, n, m))
        case (true, 4): r = l.vop(.vsub, e, l.vreg(rd(w)), l.vop(.vmul, e, n, m))
        case (_, 10), (_, 2), (_, 6):
            let wide = IRElement.integer(sizeLog2: size + 1)
            let p = l.vop(u ? .vumull : .vsmull, full, n, m, imm: q ? 1 : 0)
            let acc: IRValue = opcode == 10 ? p : l.vop(opcode == 2 ? .vadd : .vsub, wide, l.vreg(rd(w)), p)
            l.builder.writeReg(.v(rd(w)), acc)
            return
        default: throw l.unimplemented(w)
        }
        l.setVector(rd(w), r, q: q)
    }

    static func permute(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), size = Int(bits(w, 23, 22)), opcode = bits(w, 14, 12)
        guard size != 3 || q else { throw l.unallocated(w) }
        let e = IRElement.integer(sizeLog2: size)
        var n = l.vreg(rn(w)), m = l.vreg(rm(w))
        var op: IROp
        switch opcode {
        case 1: op = .vuzp1
        case 2: op = .vtrn1
        case 3: op = .vzip1
        case 5: op = .vuzp2
        case 6: op = .vtrn2
        case 7: op = .vzip2
        default: throw l.unallocated(w)
        }
        if !q {
            switch op {
            case .vuzp1, .vuzp2:
                let x = l.lowHalves(n, m)
                n = x; m = x
            case .vzip2:
                // The upper halves of the 64-bit vectors, moved down, zip like ZIP1.
                n = l.vop(.vext, .i8, n, n, imm: 4)
                m = l.vop(.vext, .i8, m, m, imm: 4)
                op = .vzip1
            default: break
            }
        }
        l.setVector(rd(w), l.vop(op, e, n, m), q: q)
    }

    static func extract(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), imm4 = UInt64(bits(w, 14, 11))
        guard q || imm4 < 8 else { throw l.unallocated(w) }
        let n = l.vreg(rn(w)), m = l.vreg(rm(w))
        if q {
            l.setVector(rd(w), l.vop(.vext, .i8, n, m, imm: imm4), q: true)
        } else {
            let x = l.lowHalves(n, m)
            l.setVector(rd(w), l.vop(.vext, .i8, x, x, imm: imm4), q: false)
        }
    }

    static func tableLookup(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), count = Int(bits(w, 14, 13)) + 1, isExtension = bit(w, 12)
        let indices = l.vreg(rm(w))
        var acc = isExtension ? l.vreg(rd(w)) : l.vzero()
        for j in 0..<count {
            acc = l.vop(.vtblStep, .i8, acc, l.vreg(rn(w) + j), indices, imm: UInt64(16 * j))
        }
        l.setVector(rd(w), acc, q: q)
    }

    // MARK: Scalar forms

    /// Lane 0 of `v` (element size `sizeLog2`) with every other lane zero, so that a vector
    /// operation on it computes the scalar form and raises flags only for that lane.
    static func scalarLane(_ l: inout A64Lifter, _ v: IRValue, sizeLog2: Int) -> IRValue {
        let x = l.builder.emit(.vextract, .i64, v, aux: IRElement.integer(sizeLog2: sizeLog2).rawValue)
        return l.builder.emit(.vpack, .v128, x, l.const64(0))
    }

    static func scalarThreeSame(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 11)
        let laneSize = opcode >= 24 ? (bit(w, 22) ? 3 : 2) : size
        let n = scalarLane(&l, l.vreg(rn(w)), sizeLog2: laneSize), m = scalarLane(&l, l.vreg(rm(w)), sizeLog2: laneSize)
        if opcode >= 24 {
            let high = bit(w, 23)
            let e: IRElement = bit(w, 22) ? .f64 : .f32
            let t: IRType = e == .f64 ? .f64 : .f32
            let a = l.readFloat(rn(w), t), b = l.readFloat(rm(w), t)
            let r: IRValue
            switch (u, opcode, high) {
            case (false, 27, false): r = l.builder.binary(.fmulx, a, b)
            case (false, 31, false): r = l.builder.binary(.frecps, a, b)
            case (false, 31, true): r = l.builder.binary(.frsqrts, a, b)
            case (true, 29, _):
                let v = l.vop(high ? .vfcmgt : .vfcmge, e, l.vop(.vfabs, e, n), l.vop(.vfabs, e, m))
                l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: IRElement.integer(sizeLog2: e.sizeLog2).rawValue))
                return
            case (true, 26, true): r = l.builder.unary(.fabs, l.builder.binary(.fsub, a, b))
            case (false, 28, false), (true, 28, _):
                let op: IROp = !u ? .vfcmeq : (high ? .vfcmgt : .vfcmge)
                let v = l.vop(op, e, n, m)
                l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: IRElement.integer(sizeLog2: e.sizeLog2).rawValue))
                return
            default: throw l.unimplemented(w)
            }
            l.writeScalar(rd(w), r)
            return
        }
        let e = IRElement.integer(sizeLog2: size)
        let isCompareOrArith = opcode == 6 || opcode == 7 || opcode == 8 || opcode == 10 || opcode == 16 || opcode == 17
        guard !isCompareOrArith || size == 3 else { throw l.unallocated(w) }
        let op: IROp
        switch (u, opcode) {
        case (false, 9): op = .vsqshl
        case (true, 9): op = .vuqshl
        case (false, 10): op = .vsrshl
        case (true, 10): op = .vurshl
        case (false, 11): op = .vsqrshl
        case (true, 11): op = .vuqrshl
        case (_, 22):
            guard size == 1 || size == 2 else { throw l.unallocated(w) }
            op = u ? .vsqrdmulh : .vsqdmulh
        case (false, 1): op = .vsqadd
        case (true, 1): op = .vuqadd
        case (false, 5): op = .vsqsub
        case (true, 5): op = .vuqsub
        case (false, 6): op = .vcmgt
        case (true, 6): op = .vcmhi
        case (false, 7): op = .vcmge
        case (true, 7): op = .vcmhs
        case (false, 8): op = .vsshl
        case (true, 8): op = .vushl
        case (false, 16): op = .vadd
        case (true, 16): op = .vsub
        case (false, 17): op = .vcmtst
        case (true, 17): op = .vcmeq
        default: throw l.unimplemented(w)
        }
        let v = l.vop(op, e, n, m)
        l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: e.rawValue))
    }

    static func scalarTwoRegisterMisc(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 16, 12), high = bit(w, 23)
        let isInteger = (8...11).contains(opcode) || opcode == 3 || opcode == 7 || opcode == 18 || opcode == 20
        let isNarrowing = opcode == 18 || opcode == 20
        if isNarrowing && size == 3 { throw l.unallocated(w) }
        let laneSize = isInteger ? (isNarrowing ? size + 1 : size) : (bit(w, 22) ? 3 : 2)
        let n = scalarLane(&l, l.vreg(rn(w)), sizeLog2: laneSize)
        switch (u, opcode) {
        case (_, 3), (_, 7):
            let e = IRElement.integer(sizeLog2: size)
            let v: IRValue
            switch (u, opcode) {
            case (false, 3): v = l.vop(.vsuqadd, e, scalarLane(&l, l.vreg(rd(w)), sizeLog2: size), n)
            case (true, 3): v = l.vop(.vusqadd, e, scalarLane(&l, l.vreg(rd(w)), sizeLog2: size), n)
            case (false, _): v = l.vop(.vsqabs, e, n)
            default: v = l.vop(.vsqneg, e, n)
            }
            l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: e.rawValue))
            return
        case (_, 18), (_, 20):
            guard opcode == 20 || u else { throw l.unallocated(w) }
            let wide = IRElement.integer(sizeLog2: size + 1)
            let op: IROp = opcode == 18 ? .vsqxtun : (u ? .vuqxtn : .vsqxtn)
            let v = l.vop(op, wide, n)
            l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: IRElement.integer(sizeLog2: size).rawValue))
            return
        case (true, 22):
            // FCVTXN (scalar): f64 -> f32 rounding to odd.
            guard bit(w, 22) else { throw l.unallocated(w) }
            let x = l.builder.emit(.vextract, .f64, n, aux: IRElement.f64.rawValue)
            l.writeScalar(rd(w), l.builder.emit(.fconvert, .f32, x, aux: IRRounding.odd.rawValue))
            return
        default: break
        }
        switch opcode {
        case 8, 9, 10, 11:
            guard size == 3 else { throw l.unallocated(w) }
            let z = l.vzero()
            let v: IRValue
            switch (u, opcode) {
            case (false, 8): v = l.vop(.vcmgt, .i64, n, z)
            case (true, 8): v = l.vop(.vcmge, .i64, n, z)
            case (false, 9): v = l.vop(.vcmeq, .i64, n, z)
            case (true, 9): v = l.vop(.vcmge, .i64, z, n)
            case (false, 10): v = l.vop(.vcmgt, .i64, z, n)
            case (false, 11): v = l.vop(.vabs, .i64, n)
            case (true, 11): v = l.vop(.vneg, .i64, n)
            default: throw l.unallocated(w)
            }
            l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: IRElement.i64.rawValue))
            return
        default: break
        }
        let e: IRElement = bit(w, 22) ? .f64 : .f32
        let t: IRType = e == .f64 ? .f64 : .f32
        let intT: IRType = e == .f64 ? .i64 : .i32
        let a = l.readFloat(rn(w), t)
        let r: IRValue
        switch (u, opcode, high) {
        case (_, 29, false):
            r = l.builder.emit(.intToFloat, t, l.readFloat(rn(w), intT), aux: u ? 16 : 0)
        case (_, 26, _), (_, 27, _), (_, 28, false):
            let mode = conversionRounding(opcode: opcode, high: high)
            r = l.builder.emit(.floatToInt, intT, a, aux: mode.rawValue | (u ? 16 : 0))
        case (false, 29, true): r = l.builder.unary(.frecpe, a)
        case (true, 29, true): r = l.builder.unary(.frsqrte, a)
        case (false, 31, true): r = l.builder.unary(.frecpx, a)
        case (_, 12, true), (_, 13, true), (false, 14, true):
            let z = l.vzero()
            let v: IRValue
            switch (u, opcode) {
            case (false, 12): v = l.vop(.vfcmgt, e, n, z)
            case (true, 12): v = l.vop(.vfcmge, e, n, z)
            case (false, 13): v = l.vop(.vfcmeq, e, n, z)
            case (true, 13): v = l.vop(.vfcmge, e, z, n)
            default: v = l.vop(.vfcmgt, e, z, n)
            }
            r = l.builder.emit(.vextract, intT, v, aux: IRElement.integer(sizeLog2: e.sizeLog2).rawValue)
        default: throw l.unimplemented(w)
        }
        l.writeScalar(rd(w), r)
    }

    static func scalarPairwise(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let n = l.vreg(rn(w))
        if !bit(w, 29) {
            guard bits(w, 23, 22) == 3 else { throw l.unallocated(w) }
            l.writeScalar(rd(w), l.builder.emit(.vaddv, .i64, n, imm: 2, aux: IRElement.i64.rawValue))
            return
        }
        let e: IRElement = bit(w, 22) ? .f64 : .f32
        let t: IRType = e == .f64 ? .f64 : .f32
        let high = bit(w, 23), opcode = bits(w, 16, 12)
        let op: IROp
        switch (opcode, high) {
        case (13, false): op = .fadd
        case (12, false): op = .fmaxnm
        case (12, true): op = .fminnm
        case (15, false): op = .fmax
        case (15, true): op = .fmin
        default: throw l.unallocated(w)
        }
        let x = l.builder.emit(.vextract, t, n, imm: 0, aux: e.rawValue)
        let y = l.builder.emit(.vextract, t, n, imm: 1, aux: e.rawValue)
        l.writeScalar(rd(w), l.builder.binary(op, x, y))
    }

    static func scalarCopy(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let imm5 = bits(w, 20, 16)
        let size = imm5.trailingZeroBitCount
        guard size < 4 else { throw l.unallocated(w) }
        let e = IRElement.integer(sizeLog2: size)
        let x = l.builder.emit(.vextract, .i64, l.vreg(rn(w)), imm: UInt64(imm5 >> UInt32(size + 1)), aux: e.rawValue)
        l.writeScalar(rd(w), x)
    }

    static func scalarShiftImmediate(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let u = bit(w, 29), opcode = bits(w, 15, 11)
        guard let (size, immhb) = shiftFields(w) else { throw l.unallocated(w) }
        let esize = 8 << size
        let right = UInt64(2 * esize - immhb), left = UInt64(immhb - esize)
        let n = l.vreg(rn(w))
        if opcode == 28 || opcode == 31 {
            // Byte elements are reserved; half precision needs FEAT_FP16 arithmetic on vectors.
            guard size >= 1 else { throw l.unallocated(w) }
            guard size >= 2 else { throw l.unimplemented(w) }
            let t: IRType = size == 3 ? .f64 : .f32, intT: IRType = size == 3 ? .i64 : .i32
            if opcode == 28 {
                l.writeScalar(rd(w), l.builder.emit(.intToFloat, t, l.readFloat(rn(w), intT), imm: right, aux: u ? 16 : 0))
            } else {
                l.writeScalar(rd(w), l.builder.emit(.floatToInt, intT, l.readFloat(rn(w), t), imm: right, aux: IRRounding.towardZero.rawValue | (u ? 16 : 0)))
            }
            return
        }
        switch (u, opcode) {
        case (true, 12), (_, 14):
            let e = IRElement.integer(sizeLog2: size)
            let x = scalarLane(&l, n, sizeLog2: size)
            let v = l.vop(opcode == 12 ? .vsqshlu : (u ? .vuqshl : .vsqshl), e, x, l.vop(.vsplat, e, l.const64(left)))
            l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: e.rawValue))
            return
        case (true, 16), (true, 17), (_, 18), (_, 19):
            // Saturating narrowing shifts from a 2 * esize source.
            guard size < 3 else { throw l.unallocated(w) }
            let wide = IRElement.integer(sizeLog2: size + 1)
            let x = scalarLane(&l, n, sizeLog2: size + 1)
            let rounding = opcode & 1 == 1
            let signedShift = !u || opcode <= 17
            let shiftOp: IROp = rounding ? (signedShift ? .vsrshrImm : .vurshrImm) : (signedShift ? .vsshrImm : .vushrImm)
            let narrowOp: IROp = opcode <= 17 ? .vsqxtun : (u ? .vuqxtn : .vsqxtn)
            let v = l.vop(narrowOp, wide, l.vop(shiftOp, wide, x, imm: right))
            l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: IRElement.integer(sizeLog2: size).rawValue))
            return
        default: break
        }
        guard size == 3 else { throw l.unallocated(w) }
        let e = IRElement.i64
        let v: IRValue
        switch (u, opcode) {
        case (false, 0): v = l.vop(.vsshrImm, e, n, imm: right)
        case (true, 0): v = l.vop(.vushrImm, e, n, imm: right)
        case (false, 2): v = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vsshrImm, e, n, imm: right))
        case (true, 2): v = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vushrImm, e, n, imm: right))
        case (false, 10): v = l.vop(.vshlImm, e, n, imm: left)
        case (_, 4): v = l.vop(u ? .vurshrImm : .vsrshrImm, e, n, imm: right)
        case (_, 6): v = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(u ? .vurshrImm : .vsrshrImm, e, n, imm: right))
        case (true, 8), (true, 10):
            let isLeft = opcode == 10
            let ones = l.vop(.vcmeq, e, n, n)
            let mask = isLeft ? l.vop(.vshlImm, e, ones, imm: left) : l.vop(.vushrImm, e, ones, imm: right)
            let shifted = isLeft ? l.vop(.vshlImm, e, n, imm: left) : l.vop(.vushrImm, e, n, imm: right)
            v = l.vop(.vbsl, e, mask, shifted, l.vreg(rd(w)))
        default: throw l.unimplemented(w)
        }
        l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, v, aux: e.rawValue))
    }

    static func scalarIndexed(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 12)
        let h = bits(w, 11, 11), lBit = bits(w, 21, 21), mBit = bits(w, 20, 20)
        let isFloat = opcode == 1 || opcode == 5 || opcode == 9
        if !isFloat {
            // SQDMULH, SQRDMULH, SQDMULL, SQDMLAL, SQDMLSL, SQRDMLAH, SQRDMLSH by element.
            guard size == 1 || size == 2 else { throw l.unallocated(w) }
            let e = IRElement.integer(sizeLog2: size)
            let index = size == 1 ? h << 2 | lBit << 1 | mBit : h << 1 | lBit
            let mReg = size == 1 ? Int(bits(w, 19, 16)) : Int(mBit << 4) | Int(bits(w, 19, 16))
            let element = l.builder.emit(.vextract, .i64, l.vreg(mReg), imm: UInt64(index), aux: e.rawValue)
            let m = l.builder.emit(.vpack, .v128, element, l.const64(0))
            let n = scalarLane(&l, l.vreg(rn(w)), sizeLog2: size)
            try scalarDoubling(&l, w, u: bit(w, 29), opcode: opcode, size: size, n, m)
            return
        }
        if bit(w, 29) {
            guard opcode == 9 else { throw l.unallocated(w) }
        }
        guard size >= 2, !(size == 3 && lBit == 1) else { throw l.unallocated(w) }
        let t: IRType = size == 3 ? .f64 : .f32
        let e: IRElement = size == 3 ? .f64 : .f32
        let index = size == 3 ? h : h << 1 | lBit
        let mReg = Int(mBit << 4) | Int(bits(w, 19, 16))
        let m = l.builder.emit(.vextract, t, l.vreg(mReg), imm: UInt64(index), aux: e.rawValue)
        let a = l.readFloat(rn(w), t)
        let r: IRValue
        switch opcode {
        case 9 where bit(w, 29): r = l.builder.binary(.fmulx, a, m)
        case 1: r = l.builder.emit(.fmadd, t, a, m, l.readFloat(rd(w), t))
        case 5: r = l.builder.emit(.fmadd, t, l.builder.unary(.fneg, a), m, l.readFloat(rd(w), t))
        default: r = l.builder.binary(.fmul, a, m)
        }
        l.writeScalar(rd(w), r)
    }

    /// The scalar saturating doubling multiplies on lane-0-only operands `n` and `m`.
    static func scalarDoubling(_ l: inout A64Lifter, _ w: UInt32, u: Bool, opcode: UInt32, size: Int, _ n: IRValue, _ m: IRValue) throws(A64LiftError) {
        let e = IRElement.integer(sizeLog2: size), wide = IRElement.integer(sizeLog2: size + 1)
        let result: IRValue, resultElement: IRElement
        switch (u, opcode) {
        case (false, 12): result = l.vop(.vsqdmulh, e, n, m); resultElement = e
        case (false, 13): result = l.vop(.vsqrdmulh, e, n, m); resultElement = e
        case (true, 13), (true, 15):
            let acc = scalarLane(&l, l.vreg(rd(w)), sizeLog2: size)
            result = l.vop(opcode == 13 ? .vsqrdmlah : .vsqrdmlsh, e, acc, n, m); resultElement = e
        case (false, 11): result = l.vop(.vsqdmull, e, n, m, imm: 0); resultElement = wide
        case (false, 3), (false, 7):
            let acc = scalarLane(&l, l.vreg(rd(w)), sizeLog2: size + 1)
            result = l.vop(opcode == 3 ? .vsqadd : .vsqsub, wide, acc, l.vop(.vsqdmull, e, n, m, imm: 0)); resultElement = wide
        default: throw l.unimplemented(w)
        }
        l.writeScalar(rd(w), l.builder.emit(.vextract, .i64, result, aux: resultElement.rawValue))
    }

    /// SQDMULL, SQDMLAL, SQDMLSL (scalar, three different).
    static func scalarThreeDifferent(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 12)
        guard size == 1 || size == 2 else { throw l.unallocated(w) }
        let n = scalarLane(&l, l.vreg(rn(w)), sizeLog2: size), m = scalarLane(&l, l.vreg(rm(w)), sizeLog2: size)
        // Same operations as the by-element forms: 9 -> SQDMLAL (3), 11 -> SQDMLSL (7), 13 -> SQDMULL (11).
        let mapped: UInt32 = opcode == 9 ? 3 : (opcode == 11 ? 7 : 11)
        try scalarDoubling(&l, w, u: false, opcode: mapped, size: size, n, m)
    }

    /// SQRDMLAH, SQRDMLSH (vector and scalar, three-register extension).
    static func roundingDoublingAccumulate(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), size = Int(bits(w, 23, 22)), scalar = bit(w, 28)
        guard size == 1 || size == 2 else { throw l.unallocated(w) }
        let op: IROp = bit(w, 11) ? .vsqrdmlsh : .vsqrdmlah
        let e = IRElement.integer(sizeLog2: size)
        if scalar {
            let n = scalarLane(&l, l.vreg(rn(w)), sizeLog2: size), m = scalarLane(&l, l.vreg(rm(w)), sizeLog2: size)
            try scalarDoubling(&l, w, u: true, opcode: op == .vsqrdmlah ? 13 : 15, size: size, n, m)
            return
        }
        l.setVector(rd(w), l.vop(op, e.vector(q: q), l.vreg(rd(w)), l.vreg(rn(w)), l.vreg(rm(w))), q: q)
    }

    /// SDOT, UDOT (vector and by element).
    static func dotProduct(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29)
        guard bits(w, 23, 22) == 2 else { throw l.unallocated(w) }
        var m = l.vreg(rm(w))
        if bit(w, 24) {
            let index = bits(w, 11, 11) << 1 | bits(w, 21, 21)
            let mReg = Int(bits(w, 20, 16))
            let element = l.builder.emit(.vextract, .i64, l.vreg(mReg), imm: UInt64(index), aux: IRElement.i32.rawValue)
            m = l.vop(.vsplat, .i32, element)
        }
        l.setVector(rd(w), l.vop(u ? .vudot : .vsdot, IRElement.i32.vector(q: q), l.vreg(rd(w)), l.vreg(rn(w)), m), q: q)
    }

    // MARK: Structure loads and stores

    /// Base register writeback for post-indexed structure accesses: Rm = 31 means "by the
    /// number of bytes transferred".
    static func postIndex(_ l: inout A64Lifter, _ w: UInt32, base: IRValue, bytes: Int) {
        guard bit(w, 23) else { return }
        let m = rm(w)
        let step = m == 31 ? l.const64(UInt64(bytes)) : l.reg(m, .i64)
        l.setRegOrSP(rn(w), l.builder.add(base, step))
    }

    static func loadStoreMultiple(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), isLoad = bit(w, 22), opcode = bits(w, 15, 12), size = Int(bits(w, 11, 10))
        let (registers, structure): (Int, Int)
        switch opcode {
        case 0: (registers, structure) = (4, 4)
        case 2: (registers, structure) = (4, 1)
        case 4: (registers, structure) = (3, 3)
        case 6: (registers, structure) = (3, 1)
        case 7: (registers, structure) = (1, 1)
        case 8: (registers, structure) = (2, 2)
        case 10: (registers, structure) = (2, 1)
        default: throw l.unallocated(w)
        }
        guard !(size == 3 && !q && structure > 1) else { throw l.unallocated(w) }
        let t = rd(w)
        let base = l.regOrSP(rn(w), .i64)
        let regBytes = q ? 16 : 8
        if structure == 1 {
            for r in 0..<registers {
                let address = r == 0 ? base : l.builder.add(base, l.const64(UInt64(r * regBytes)))
                let reg = (t + r) & 31
                if isLoad {
                    let v: IRValue
                    if q {
                        v = l.builder.load(.v128, address, IRMemoryAccess(sizeLog2: 4))
                    } else {
                        v = l.builder.emit(.vpack, .v128, l.builder.load(.i64, address, IRMemoryAccess(sizeLog2: 3)), l.const64(0))
                    }
                    l.builder.writeReg(.v(reg), v)
                } else {
                    let v = l.vreg(reg)
                    l.builder.store(address, q ? v : l.builder.emit(.vextract, .i64, v, aux: IRElement.i64.rawValue), IRMemoryAccess(sizeLog2: q ? 4 : 3))
                }
            }
        } else {
            // Interleaved structures: element i of register r sits at (i * structure + r).
            let e = IRElement.integer(sizeLog2: size)
            let lanes = regBytes >> size
            var values = (0..<structure).map { isLoad ? l.vzero() : l.vreg((t + $0) & 31) }
            for i in 0..<lanes {
                for r in 0..<structure {
                    let offset = UInt64((i * structure + r) << size)
                    let address = offset == 0 ? base : l.builder.add(base, l.const64(offset))
                    let access = IRMemoryAccess(sizeLog2: size)
                    if isLoad {
                        let x = l.builder.load(.i64, address, access)
                        values[r] = l.builder.emit(.vinsert, .v128, values[r], x, imm: UInt64(i), aux: e.rawValue)
                    } else {
                        let x = l.builder.emit(.vextract, .i64, values[r], imm: UInt64(i), aux: e.rawValue)
                        l.builder.store(address, x, access)
                    }
                }
            }
            if isLoad {
                for r in 0..<structure { l.builder.writeReg(.v((t + r) & 31), values[r]) }
            }
        }
        postIndex(&l, w, base: base, bytes: registers * regBytes)
    }

    static func loadStoreSingle(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), isLoad = bit(w, 22), r = bit(w, 21), opcode = bits(w, 15, 13), s = bits(w, 12, 12), size = bits(w, 11, 10)
        let structure = Int(opcode & 1) * 2 + (r ? 2 : 1)
        let t = rd(w)
        let base = l.regOrSP(rn(w), .i64)
        if opcode >= 6 {
            // LD1R...LD4R: load one structure and replicate to all lanes.
            guard isLoad, s == 0 else { throw l.unallocated(w) }
            let e = IRElement.integer(sizeLog2: Int(size))
            for k in 0..<structure {
                let address = k == 0 ? base : l.builder.add(base, l.const64(UInt64(k << Int(size))))
                let x = l.builder.load(.i64, address, IRMemoryAccess(sizeLog2: Int(size)))
                l.setVector((t + k) & 31, l.vop(.vsplat, e, x), q: q)
            }
            postIndex(&l, w, base: base, bytes: structure << Int(size))
            return
        }
        let scale: Int
        var index: UInt32
        switch opcode >> 1 {
        case 0:
            scale = 0
            index = bits(w, 30, 30) << 3 | s << 2 | size
        case 1:
            guard size & 1 == 0 else { throw l.unallocated(w) }
            scale = 1
            index = bits(w, 30, 30) << 2 | s << 1 | size >> 1
        default:
            if size == 0 {
                scale = 2
                index = bits(w, 30, 30) << 1 | s
            } else {
                guard size == 1, s == 0 else { throw l.unallocated(w) }
                scale = 3
                index = bits(w, 30, 30)
            }
        }
        let e = IRElement.integer(sizeLog2: scale)
        for k in 0..<structure {
            let reg = (t + k) & 31
            let address = k == 0 ? base : l.builder.add(base, l.const64(UInt64(k << scale)))
            if isLoad {
                let x = l.builder.load(.i64, address, IRMemoryAccess(sizeLog2: scale))
                l.builder.writeReg(.v(reg), l.builder.emit(.vinsert, .v128, l.vreg(reg), x, imm: UInt64(index), aux: e.rawValue))
            } else {
                let x = l.builder.emit(.vextract, .i64, l.vreg(reg), imm: UInt64(index), aux: e.rawValue)
                l.builder.store(address, x, IRMemoryAccess(sizeLog2: scale))
            }
        }
        postIndex(&l, w, base: base, bytes: structure << scale)
    }
}
