import KilnIR

extension A64Lifter {
    /// The scalar float in the low bits of V register `n`.
    @inlinable public mutating func readFloat(_ n: Int, _ t: IRType) -> IRValue {
        let e: IRElement = t == .f64 || t == .i64 ? .i64 : (t == .i16 ? .i16 : (t == .i8 ? .i8 : .i32))
        return builder.emit(.vextract, t, builder.readReg(.v(n)), aux: e.rawValue)
    }

    /// Writes a scalar (float or integer of 8...64 bits) to V register `n`, zeroing the rest.
    @inlinable public mutating func writeScalar(_ n: Int, _ v: IRValue) {
        let t = builder.type(of: v)
        var bitsValue = v
        if t.isFloat { bitsValue = builder.emit(.bitcast, t == .f64 ? .i64 : .i32, v) }
        if builder.type(of: bitsValue) != .i64 { bitsValue = builder.zext(bitsValue, to: .i64) }
        builder.writeReg(.v(n), builder.emit(.vpack, .v128, bitsValue, const64(0)))
    }
}

/// Scalar floating point. `ftype` (bits 23...22): 00 single, 01 double, 11 half.
enum FloatingPoint {
    /// The arithmetic type of `ftype`; half precision (FEAT_FP16) computes on i16 patterns.
    static func type(_ l: A64Lifter, _ w: UInt32) throws(A64LiftError) -> IRType {
        switch bits(w, 23, 22) {
        case 0: return .f32
        case 1: return .f64
        case 3: return .i16
        default: throw l.unallocated(w)
        }
    }

    static func dataProcessing1(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let opcode = bits(w, 20, 15)
        if opcode & 0x3c == 4 {
            try convertPrecision(&l, w)
            return
        }
        let t = try type(l, w)
        let a = l.readFloat(rn(w), t)
        let r: IRValue
        switch opcode {
        case 0: r = a
        case 1: r = l.builder.unary(.fabs, a)
        case 2: r = l.builder.unary(.fneg, a)
        case 3: r = l.builder.unary(.fsqrt, a)
        case 8...15:
            let mode: IRRounding
            switch opcode {
            case 8: mode = .tiesToEven
            case 9: mode = .towardPlus
            case 10: mode = .towardMinus
            case 11: mode = .towardZero
            case 12: mode = .tiesAway
            case 14, 15: mode = .current
            default: throw l.unallocated(w)
            }
            r = l.builder.emit(.fround, t, a, aux: mode.rawValue | (opcode == 14 ? 32 : 0))
        default: throw l.unimplemented(w)
        }
        l.writeScalar(rd(w), r)
    }

    /// FCVT between half, single and double.
    static func convertPrecision(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        func ftype(_ v: UInt32) -> IRType? { v == 0 ? .f32 : (v == 1 ? .f64 : (v == 3 ? .i16 : nil)) }
        guard let source = ftype(bits(w, 23, 22)), let target = ftype(bits(w, 16, 15)), source != target else { throw l.unallocated(w) }
        let a = l.readFloat(rn(w), source)
        l.writeScalar(rd(w), l.builder.emit(.fconvert, target, a))
    }

    static func dataProcessing2(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = try type(l, w)
        let a = l.readFloat(rn(w), t), b = l.readFloat(rm(w), t)
        let opcode = bits(w, 15, 12)
        let op: IROp
        switch opcode {
        case 0, 8: op = .fmul
        case 1: op = .fdiv
        case 2: op = .fadd
        case 3: op = .fsub
        case 4: op = .fmax
        case 5: op = .fmin
        case 6: op = .fmaxnm
        case 7: op = .fminnm
        default: throw l.unallocated(w)
        }
        var r = l.builder.binary(op, a, b)
        if opcode == 8 { r = l.builder.unary(.fneg, r) }  // FNMUL negates the rounded product
        l.writeScalar(rd(w), r)
    }

    /// FMADD, FMSUB, FNMADD, FNMSUB: one fused operation on negated inputs.
    static func dataProcessing3(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = try type(l, w)
        var a = l.readFloat(rn(w), t)
        let b = l.readFloat(rm(w), t)
        var c = l.readFloat(ra(w), t)
        let o1 = bit(w, 21), o0 = bit(w, 15)
        if o0 != o1 { a = l.builder.unary(.fneg, a) }
        if o1 { c = l.builder.unary(.fneg, c) }
        l.writeScalar(rd(w), l.builder.emit(.fmadd, t, a, b, c))
    }

    static func compare(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = try type(l, w)
        let a = l.readFloat(rn(w), t)
        let b = bit(w, 3) ? l.const(t, 0) : l.readFloat(rm(w), t)
        l.setNZCV(l.builder.emit(.fcmp, .i32, a, b, aux: bit(w, 4) ? 1 : 0))
    }

    static func conditionalCompare(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = try type(l, w)
        let holds = l.condition(bits(w, 15, 12))
        // The IR has no control flow: compare always, then keep the FPSR flags it raised only
        // when the condition holds, as the architecture compares only then.
        let fpsrBefore = l.builder.readReg(.fpsr)
        let flags = l.builder.emit(.fcmp, .i32, l.readFloat(rn(w), t), l.readFloat(rm(w), t), aux: bit(w, 4) ? 1 : 0)
        let fpsrAfter = l.builder.readReg(.fpsr)
        l.builder.writeReg(.fpsr, l.builder.select(holds, fpsrAfter, fpsrBefore))
        l.setNZCV(l.builder.select(holds, flags, l.const(.i32, UInt64(bits(w, 3, 0)) << 28)))
    }

    static func conditionalSelect(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = try type(l, w)
        let holds = l.condition(bits(w, 15, 12))
        l.writeScalar(rd(w), l.builder.select(holds, l.readFloat(rn(w), t), l.readFloat(rm(w), t)))
    }

    static func moveImmediate(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = try type(l, w)
        let imm8 = bits(w, 20, 13)
        l.writeScalar(rd(w), l.const(t, expandFloatImmediate(imm8, t.bits)))
    }

    /// VFPExpandImm: sign, 3-bit exponent and 4-bit fraction to a float bit pattern.
    static func expandFloatImmediate(_ imm8: UInt32, _ n: Int) -> UInt64 {
        let sign = UInt64(imm8 >> 7 & 1), b6 = UInt64(imm8 >> 6 & 1)
        let e = n == 16 ? 5 : (n == 32 ? 8 : 11), f = n - e - 1
        let expTop = b6 ^ 1
        let repl = b6 == 1 ? (UInt64(1) << UInt64(e - 3)) - 1 : 0
        let exp = expTop << UInt64(e - 1) | repl << 2 | UInt64(imm8 >> 4 & 3)
        let frac = UInt64(imm8 & 15) << UInt64(f - 4)
        return sign << UInt64(n - 1) | exp << UInt64(f) | frac
    }

    /// Conversions between floating point and integers (and FMOV between register files).
    static func convertInteger(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let intType = sfType(w), rmode = bits(w, 20, 19), opcode = bits(w, 18, 16), ftype = bits(w, 23, 22)
        switch (rmode, opcode) {
        case (_, 6), (_, 7):
            try move(&l, w)
            return
        default: break
        }
        guard ftype != 2 else { throw l.unallocated(w) }
        let ft: IRType = ftype == 0 ? .f32 : (ftype == 1 ? .f64 : .i16)
        switch opcode {
        case 2, 3:
            guard rmode == 0 else { throw l.unallocated(w) }
            let v = l.builder.emit(.intToFloat, ft, l.reg(rn(w), intType), aux: opcode == 3 ? 16 : 0)
            l.writeScalar(rd(w), v)
        case 0, 1, 4, 5:
            let rounding: IRRounding
            if opcode >= 4 {
                guard rmode == 0 else { throw l.unallocated(w) }
                rounding = .tiesAway
            } else {
                rounding = IRRounding(rawValue: UInt16(rmode)) ?? .towardZero  // RN, RP, RM, RZ in order
            }
            let unsigned = opcode & 1 == 1
            let v = l.builder.emit(.floatToInt, intType, l.readFloat(rn(w), ft), aux: rounding.rawValue | (unsigned ? 16 : 0))
            l.setReg(rd(w), v)
        default:
            throw l.unallocated(w)
        }
    }

    /// FMOV general <-> scalar, and to/from the upper half of a vector (V.D[1]).
    static func move(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let sf = bit(w, 31), rmode = bits(w, 20, 19), toFloat = bits(w, 18, 16) == 7, ftype = bits(w, 23, 22)
        switch (sf, ftype, rmode) {
        case (false, 0, 0):
            if toFloat { l.writeScalar(rd(w), l.reg(rn(w), .i32)) } else { l.setReg(rd(w), l.readFloat(rn(w), .i32)) }
        case (true, 1, 0):
            if toFloat { l.writeScalar(rd(w), l.reg(rn(w), .i64)) } else { l.setReg(rd(w), l.readFloat(rn(w), .i64)) }
        case (true, 2, 1):
            if toFloat {
                let v = l.builder.emit(.vinsert, .v128, l.builder.readReg(.v(rd(w))), l.reg(rn(w), .i64), imm: 1, aux: IRElement.i64.rawValue)
                l.builder.writeReg(.v(rd(w)), v)
            } else {
                l.setReg(rd(w), l.builder.emit(.vextract, .i64, l.builder.readReg(.v(rn(w))), imm: 1, aux: IRElement.i64.rawValue))
            }
        case (_, 3, 0):
            // FMOV between a half-precision register and W/X: the low 16 bits.
            if toFloat { l.writeScalar(rd(w), l.reg(rn(w), .i16)) } else { l.setReg(rd(w), l.builder.zext(l.readFloat(rn(w), .i16), to: .i64)) }
        default:
            throw l.unallocated(w)
        }
    }

    /// SCVTF, UCVTF, FCVTZS, FCVTZU with a fixed-point scale.
    static func convertFixed(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let intType = sfType(w), scale = bits(w, 15, 10), opcode = bits(w, 18, 16), rmode = bits(w, 20, 19)
        let t = try type(l, w)
        let fbits = UInt64(64 - scale)
        guard intType == .i64 || scale >= 32 else { throw l.unallocated(w) }
        switch (rmode, opcode) {
        case (0, 2), (0, 3):
            l.writeScalar(rd(w), l.builder.emit(.intToFloat, t, l.reg(rn(w), intType), imm: fbits, aux: opcode == 3 ? 16 : 0))
        case (3, 0), (3, 1):
            let v = l.builder.emit(.floatToInt, intType, l.readFloat(rn(w), t), imm: fbits, aux: IRRounding.towardZero.rawValue | (opcode == 1 ? 16 : 0))
            l.setReg(rd(w), v)
        default:
            throw l.unallocated(w)
        }
    }
}
