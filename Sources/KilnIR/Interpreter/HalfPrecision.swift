/// Half-precision (FEAT_FP16) scalar arithmetic. Values are i16 bit patterns. Each operation
/// is computed exactly or rounded to odd in double precision, then rounded once to half with
/// the FPCR mode: double has more than 2 * 11 + 2 bits, so the result is correctly rounded.
extension IRInterpreter {
    static let halfDefaultNaN: UInt64 = 0x7e00

    @inline(__always) static func halfIsNaN(_ h: UInt16) -> Bool { h & 0x7c00 == 0x7c00 && h & 0x3ff != 0 }
    @inline(__always) static func halfIsSignaling(_ h: UInt16) -> Bool { halfIsNaN(h) && h & 0x200 == 0 }

    /// FZ16 input flushing: a denormal becomes a signed zero and raises IDC.
    func halfInput(_ h: UInt16, _ ctx: inout A64FloatContext) -> UInt16 {
        if ctx.fpcr & FPCRBit.fz16 != 0 && h & 0x7c00 == 0 && h & 0x3ff != 0 {
            ctx.flags |= FPSRFlag.inputDenormal
            return h & 0x8000
        }
        return h
    }

    /// FPProcessNaNs over half operands in priority order; nil when none is a NaN.
    func halfNaNs(_ ops: [UInt16], _ ctx: inout A64FloatContext) -> UInt64? {
        let pick = ops.first(where: Self.halfIsSignaling) ?? ops.first(where: Self.halfIsNaN)
        guard let n = pick else { return nil }
        if Self.halfIsSignaling(n) { ctx.flags |= FPSRFlag.invalid }
        return ctx.defaultNaN ? Self.halfDefaultNaN : UInt64(n | 0x200)
    }

    /// Rounds an exactly computed double (or one rounded to odd) to half, with FZ16 output
    /// flushing.
    func halfResult(_ value: Double, hostFlags: UInt32, _ ctx: inout A64FloatContext) -> UInt64 {
        var d = value
        if hostFlags & FPSRFlag.inexact != 0 && d.isFinite { d = Double(bitPattern: d.bitPattern | 1) }
        let earlier = ctx.flags
        ctx.flags = 0
        var h = ctx.toHalf(d, rounding: .current, arithmetic: true)
        var raised = ctx.flags | (hostFlags & (FPSRFlag.invalid | FPSRFlag.divideByZero | FPSRFlag.inexact))
        let tiny = h & 0x7c00 == 0 && (h & 0x3ff != 0 || raised & FPSRFlag.underflow != 0)
        if ctx.fpcr & FPCRBit.fz16 != 0 && tiny {
            raised = (raised & ~(FPSRFlag.inexact | FPSRFlag.underflow)) | FPSRFlag.underflow
            h &= 0x8000
        }
        ctx.flags = earlier | raised
        return h
    }

    func halfArithmetic(_ op: IROp, _ a0: UInt16, _ b0: UInt16, _ c0: UInt16, _ ctx: inout A64FloatContext) -> UInt64 {
        if op == .fneg { return UInt64(a0 ^ 0x8000) }
        if op == .fabs { return UInt64(a0 & 0x7fff) }
        let a = halfInput(a0, &ctx), b = halfInput(b0, &ctx), c = halfInput(c0, &ctx)
        let x = halfToDouble(UInt64(a)), y = halfToDouble(UInt64(b)), z = halfToDouble(UInt64(c))
        switch op {
        case .fadd, .fsub, .fmul, .fdiv, .fmulx:
            if let n = halfNaNs([a, b], &ctx) { return n }
            if op == .fmulx && ((x.isInfinite && y.isZero) || (x.isZero && y.isInfinite)) {
                return (a ^ b) & 0x8000 != 0 ? 0xc000 : 0x4000
            }
            let (r, f) = fp.run(Double.self, x, y, 0, mode: 3) { p, q, _ in
                switch op {
                case .fadd: return p + q
                case .fsub: return p - q
                case .fdiv: return p / q
                default: return p * q
                }
            }
            if r.isNaN {
                ctx.flags |= FPSRFlag.invalid
                return Self.halfDefaultNaN
            }
            if r == 0 && f & FPSRFlag.inexact == 0 {
                // An exact zero sum takes its sign from the FPCR rounding mode, not from the
                // round-to-odd computation.
                let (zero, _) = fp.run(Double.self, x, y, 0, mode: ctx.roundingMode) { p, q, _ in
                    op == .fadd ? p + q : (op == .fsub ? p - q : (op == .fdiv ? p / q : p * q))
                }
                return zero.sign == .minus ? 0x8000 : 0
            }
            return halfResult(r, hostFlags: f, &ctx)
        case .fmadd:
            if Self.halfIsNaN(c) && !Self.halfIsSignaling(c) && !Self.halfIsSignaling(a) && !Self.halfIsSignaling(b)
                && ((x.isInfinite && y.isZero) || (x.isZero && y.isInfinite)) {
                ctx.flags |= FPSRFlag.invalid
                return Self.halfDefaultNaN
            }
            if let n = halfNaNs([c, a, b], &ctx) { return n }
            let (r, f) = fp.run(Double.self, x, y, z, mode: 3) { p, q, s in s.addingProduct(p, q) }
            if r.isNaN {
                ctx.flags |= FPSRFlag.invalid
                return Self.halfDefaultNaN
            }
            if r == 0 && f & FPSRFlag.inexact == 0 {
                let (zero, _) = fp.run(Double.self, x, y, z, mode: ctx.roundingMode) { p, q, s in s.addingProduct(p, q) }
                return zero.sign == .minus ? 0x8000 : 0
            }
            return halfResult(r, hostFlags: f, &ctx)
        case .fsqrt:
            if let n = halfNaNs([a], &ctx) { return n }
            if x < 0 {
                ctx.flags |= FPSRFlag.invalid
                return Self.halfDefaultNaN
            }
            let (r, f) = fp.run(Double.self, x, 0, 0, mode: 3) { p, _, _ in p.squareRoot() }
            return halfResult(r, hostFlags: f, &ctx)
        case .fmax, .fmin, .fmaxnm, .fminnm:
            let isMax = op == .fmax || op == .fmaxnm
            var p = a, q = b
            if op == .fmaxnm || op == .fminnm {
                let replacement: UInt16 = isMax ? 0xfc00 : 0x7c00
                if Self.halfIsNaN(p) && !Self.halfIsSignaling(p) && !Self.halfIsNaN(q) { p = replacement }
                if Self.halfIsNaN(q) && !Self.halfIsSignaling(q) && !Self.halfIsNaN(p) { q = replacement }
            }
            if let n = halfNaNs([p, q], &ctx) { return n }
            let dp = halfToDouble(UInt64(p)), dq = halfToDouble(UInt64(q))
            if dp == 0 && dq == 0 && (p ^ q) & 0x8000 != 0 { return isMax ? 0 : 0x8000 }
            return UInt64(isMax ? (dp > dq ? p : q) : (dp < dq ? p : q))
        default:
            return Self.halfDefaultNaN
        }
    }

    func halfCompare(_ a0: UInt16, _ b0: UInt16, signaling: Bool, _ ctx: inout A64FloatContext) -> UInt32 {
        let a = halfInput(a0, &ctx), b = halfInput(b0, &ctx)
        if Self.halfIsNaN(a) || Self.halfIsNaN(b) {
            if signaling || Self.halfIsSignaling(a) || Self.halfIsSignaling(b) { ctx.flags |= FPSRFlag.invalid }
            return 0x3000_0000
        }
        let x = halfToDouble(UInt64(a)), y = halfToDouble(UInt64(b))
        if x == y { return 0x6000_0000 }
        return x < y ? 0x8000_0000 : 0x2000_0000
    }

    func halfRoundIntegral(_ a0: UInt16, _ rounding: IRRounding, _ exact: Bool, _ ctx: inout A64FloatContext) -> UInt64 {
        let a = halfInput(a0, &ctx)
        if Self.halfIsNaN(a) { return halfNaNs([a], &ctx) ?? Self.halfDefaultNaN }
        let x = halfToDouble(UInt64(a))
        if x.isInfinite || x == 0 { return UInt64(a) }
        let r = x.rounded(ctx.rule(rounding))
        if exact && r != x { ctx.flags |= FPSRFlag.inexact }
        if r == 0 { return UInt64(a & 0x8000) }
        var quiet = ctx
        return quiet.toHalf(r, rounding: .tiesToEven, arithmetic: true)
    }
}
