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
    static func floatElement(_ l: A64Lifter, _ w: UInt32, q: Bool) throws(A64LiftError) -> IRElement {
        let double = bit(w, 22)
        guard !(double && !q) else { throw l.unallocated(w) }
        return double ? .f64 : .f32
    }

    static func threeSame(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 11)
        let n = l.vreg(rn(w)), m = l.vreg(rm(w))
        let e = IRElement.integer(sizeLog2: size)
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
            let ops: [IROp] = u ? [.vumaxp, .vuminp] : [.vsmaxp, .vsminp]
            let op = opcode == 23 ? IROp.vaddp : ops[Int(opcode - 20)]
            r = q ? l.vop(op, e, n, m) : l.vop(op, e, l.lowHalves(n, m), l.vzero())
        default:
            throw l.unimplemented(w)
        }
        l.setVector(rd(w), r, q: q)
    }

    static func threeSameFloat(_ l: inout A64Lifter, _ w: UInt32, _ n: IRValue, _ m: IRValue) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), high = bit(w, 23), opcode = bits(w, 15, 11)
        let e = try floatElement(l, w, q: q)
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
        case (true, 26, false):
            // FADDP: pairwise over the concatenation, computed lane by lane.
            r = floatPairwise(&l, e, q ? n : l.lowHalves(n, m), q ? m : l.vzero(), q: q)
        case (false, 27, false), (false, 31, _):
            r = try laneByLane(&l, w, e, q: q) { l, a, b in
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

    static func floatPairwise(_ l: inout A64Lifter, _ e: IRElement, _ a: IRValue, _ b: IRValue, q: Bool) -> IRValue {
        let t: IRType = e == .f64 ? .f64 : .f32
        var r = l.vzero()
        let lanes = 16 >> e.sizeLog2, half = lanes / 2
        for i in 0..<lanes {
            let src = i < half ? a : b, j = UInt64((i % half) * 2)
            let x = l.builder.emit(.vextract, t, src, imm: j, aux: e.rawValue)
            let y = l.builder.emit(.vextract, t, src, imm: j + 1, aux: e.rawValue)
            r = l.builder.emit(.vinsert, .v128, r, l.builder.binary(.fadd, x, y), imm: UInt64(i), aux: e.rawValue)
        }
        return r
    }

    static func threeDifferent(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 12)
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
            guard !u else { throw l.unimplemented(w) }
            let sum = l.vop(opcode == 4 ? .vadd : .vsub, wide, n, m)
            let top = l.vop(.vxtn, wide, l.vop(.vushrImm, wide, sum, imm: UInt64(e.bits)))
            l.setNarrow(rd(w), top, q: q)
            return
        case 5, 7:
            let diff = l.vop(u ? .vuabd : .vsabd, wide, widen(&l, n), widen(&l, m))
            r = opcode == 5 ? l.vop(.vadd, wide, l.vreg(rd(w)), diff) : diff
        case 8, 10, 12:
            let p = l.vop(u ? .vumull : .vsmull, e, n, m, imm: half)
            r = opcode == 12 ? p : l.vop(opcode == 8 ? .vadd : .vsub, wide, l.vreg(rd(w)), p)
        default:
            throw l.unimplemented(w)
        }
        l.builder.writeReg(.v(rd(w)), r)
    }

    static func twoRegisterMisc(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 16, 12)
        let e = IRElement.integer(sizeLog2: size)
        let n = l.vreg(rn(w))
        let r: IRValue
        switch (u, opcode) {
        case (_, 0), (false, 1):
            // REV64, REV32, REV16: container of 8 >> (u + opcode) bytes.
            let container = 8 >> (Int(opcode) + (u ? 1 : 0))
            guard size < Int(container).trailingZeroBitCount else { throw l.unallocated(w) }
            r = l.vop(.vrev, e, n, imm: UInt64(container))
        case (_, 2):
            guard size != 3 else { throw l.unallocated(w) }
            let wide = IRElement.integer(sizeLog2: size + 1)
            let even = l.vop(.vuzp1, e, n, n), odd = l.vop(.vuzp2, e, n, n)
            let ext: IROp = u ? .vuxtl : .vsxtl
            r = l.vop(.vadd, wide, l.vop(ext, e, even, imm: 0), l.vop(ext, e, odd, imm: 0))
        case (false, 4): r = l.vop(.vcls, e, n)
        case (true, 4): r = l.vop(.vclz, e, n)
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
            case (false, 8): r = l.vop(.vcmgt, e, n, z)
            case (true, 8): r = l.vop(.vcmge, e, n, z)
            case (false, 9): r = l.vop(.vcmeq, e, n, z)
            case (true, 9): r = l.vop(.vcmge, e, z, n)
            default: r = l.vop(.vcmgt, e, z, n)
            }
        case (_, 11):
            guard size != 3 || q else { throw l.unallocated(w) }
            r = l.vop(u ? .vneg : .vabs, e, n)
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
            // FCVTN / FCVTL: f64 <-> f32 (size<0> = 1), lane by lane.
            guard bit(w, 22), !u else { throw l.unimplemented(w) }
            var r = l.vzero()
            if opcode == 23 {
                for i in 0..<2 {
                    let x = l.builder.emit(.vextract, .f32, n, imm: UInt64(i + (q ? 2 : 0)), aux: IRElement.f32.rawValue)
                    r = l.builder.emit(.vinsert, .v128, r, l.builder.emit(.fconvert, .f64, x), imm: UInt64(i), aux: IRElement.f64.rawValue)
                }
                l.builder.writeReg(.v(rd(w)), r)
            } else {
                for i in 0..<2 {
                    let x = l.builder.emit(.vextract, .f64, n, imm: UInt64(i), aux: IRElement.f64.rawValue)
                    r = l.builder.emit(.vinsert, .v128, r, l.builder.emit(.fconvert, .f32, x), imm: UInt64(i), aux: IRElement.f32.rawValue)
                }
                l.setNarrow(rd(w), r, q: q)
            }
            return
        }
        let e = try floatElement(l, w, q: q)
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
            let mode: IRRounding
            switch (opcode, high) {
            case (26, false): mode = .tiesToEven
            case (26, true): mode = .towardPlus
            case (27, false): mode = .towardMinus
            case (27, true): mode = .towardZero
            default: mode = .tiesAway
            }
            r = l.vop(u ? .vfloatToUInt : .vfloatToInt, e, n, aux: mode.rawValue << 8)
        case (false, 29, true), (true, 29, true):
            let op: IROp = u ? .frsqrte : .frecpe
            let t: IRType = e == .f64 ? .f64 : .f32
            var acc = l.vzero()
            for i in 0..<((q ? 16 : 8) >> e.sizeLog2) {
                let x = l.builder.emit(.vextract, t, n, imm: UInt64(i), aux: e.rawValue)
                acc = l.builder.emit(.vinsert, .v128, acc, l.builder.unary(op, x), imm: UInt64(i), aux: e.rawValue)
            }
            r = acc
        default:
            throw l.unimplemented(w)
        }
        l.setVector(rd(w), r, q: q)
    }

    static func acrossLanes(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let q = bit(w, 30), u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 16, 12)
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
            r = l.builder.emit(.vaddv, .i64, v, imm: lanes / 2, aux: wide.rawValue)
        case (false, 10): r = l.builder.emit(.vsmaxv, .i64, n, imm: lanes, aux: e.rawValue)
        case (true, 10): r = l.builder.emit(.vumaxv, .i64, n, imm: lanes, aux: e.rawValue)
        case (false, 26): r = l.builder.emit(.vsminv, .i64, n, imm: lanes, aux: e.rawValue)
        case (true, 26): r = l.builder.emit(.vuminv, .i64, n, imm: lanes, aux: e.rawValue)
        case (false, 27): r = l.builder.emit(.vaddv, .i64, n, imm: lanes, aux: e.rawValue)
        default: throw l.unimplemented(w)
        }
        l.writeScalar(rd(w), r)
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
        let e = IRElement.integer(sizeLog2: size)
        let esize = e.bits
        let right = UInt64(2 * esize - immhb), left = UInt64(immhb - esize)
        let n = l.vreg(rn(w))
        let narrowing = opcode == 16 || opcode == 20
        guard narrowing ? size < 3 : (size < 3 || q) else { throw l.unallocated(w) }
        let r: IRValue
        switch (u, opcode) {
        case (false, 0): r = l.vop(.vsshrImm, e, n, imm: right)
        case (true, 0): r = l.vop(.vushrImm, e, n, imm: right)
        case (false, 2): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vsshrImm, e, n, imm: right))
        case (true, 2): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vushrImm, e, n, imm: right))
        case (false, 10): r = l.vop(.vshlImm, e, n, imm: left)
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
            let extended = l.vop(u ? .vuxtl : .vsxtl, e, n, imm: q ? 1 : 0)
            l.builder.writeReg(.v(rd(w)), left == 0 ? extended : l.vop(.vshlImm, wide, extended, imm: left))
            return
        case (_, 28):
            guard size >= 2 else { throw l.unimplemented(w) }
            let fe: IRElement = size == 3 ? .f64 : .f32
            r = l.vop(u ? .vuintToFloat : .vintToFloat, fe, n, imm: right)
        case (_, 31):
            guard size >= 2 else { throw l.unimplemented(w) }
            let fe: IRElement = size == 3 ? .f64 : .f32
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
            guard !u else { throw l.unimplemented(w) }
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
        switch (u, opcode) {
        case (false, 1): r = l.vop(.vfmadd, e, n, m, l.vreg(rd(w)))
        case (false, 5): r = l.vop(.vfmadd, e, l.vop(.vfneg, e, n), m, l.vreg(rd(w)))
        case (false, 9): r = l.vop(.vfmul, e, n, m)
        case (false, 8): r = l.vop(.vmul, e, n, m)
        case (true, 0): r = l.vop(.vadd, e, l.vreg(rd(w)), l.vop(.vmul, e, n, m))
        case (true, 4): r = l.vop(.vsub, e, l.vreg(rd(w)), l.vop(.vmul, e, n, m))
        case (_, 10), (_, 2), (_, 6):
            let wide = IRElement.integer(sizeLog2: size + 1)
            let p = l.vop(u ? .vumull : .vsmull, e, n, m, imm: q ? 1 : 0)
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
        let ops: [IROp] = [.vuzp1, .vuzp1, .vtrn1, .vzip1, .vuzp2, .vuzp2, .vtrn2, .vzip2]
        var op = ops[Int(opcode)]
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

    static func scalarThreeSame(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let u = bit(w, 29), size = Int(bits(w, 23, 22)), opcode = bits(w, 15, 11)
        let n = l.vreg(rn(w)), m = l.vreg(rm(w))
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
        let isCompareOrArith = [6, 7, 8, 16, 17].contains(opcode)
        guard !isCompareOrArith || size == 3 else { throw l.unallocated(w) }
        let op: IROp
        switch (u, opcode) {
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
        let n = l.vreg(rn(w))
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
            let mode: IRRounding
            switch (opcode, high) {
            case (26, false): mode = .tiesToEven
            case (26, true): mode = .towardPlus
            case (27, false): mode = .towardMinus
            case (27, true): mode = .towardZero
            default: mode = .tiesAway
            }
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
        let x = l.builder.emit(.vextract, t, n, imm: 0, aux: e.rawValue)
        let y = l.builder.emit(.vextract, t, n, imm: 1, aux: e.rawValue)
        l.writeScalar(rd(w), l.builder.binary(.fadd, x, y))
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
            guard size >= 2 else { throw l.unimplemented(w) }
            let t: IRType = size == 3 ? .f64 : .f32, intT: IRType = size == 3 ? .i64 : .i32
            if opcode == 28 {
                l.writeScalar(rd(w), l.builder.emit(.intToFloat, t, l.readFloat(rn(w), intT), imm: right, aux: u ? 16 : 0))
            } else {
                l.writeScalar(rd(w), l.builder.emit(.floatToInt, intT, l.readFloat(rn(w), t), imm: right, aux: IRRounding.towardZero.rawValue | (u ? 16 : 0)))
            }
            return
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
        guard size >= 2, !(size == 3 && lBit == 1) else { throw l.unallocated(w) }
        let t: IRType = size == 3 ? .f64 : .f32
        let e: IRElement = size == 3 ? .f64 : .f32
        let index = size == 3 ? h : h << 1 | lBit
        let mReg = Int(mBit << 4) | Int(bits(w, 19, 16))
        let m = l.builder.emit(.vextract, t, l.vreg(mReg), imm: UInt64(index), aux: e.rawValue)
        let a = l.readFloat(rn(w), t)
        let r: IRValue
        switch opcode {
        case 1: r = l.builder.emit(.fmadd, t, a, m, l.readFloat(rd(w), t))
        case 5: r = l.builder.emit(.fmadd, t, l.builder.unary(.fneg, a), m, l.readFloat(rd(w), t))
        default: r = l.builder.binary(.fmul, a, m)
        }
        l.writeScalar(rd(w), r)
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
