#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// x86-64 <fenv.h> values (Glibc imports the macros ambiguously).
private enum HostFenv {
    static let invalid: Int32 = 0x01
    static let divideByZero: Int32 = 0x04
    static let overflow: Int32 = 0x08
    static let underflow: Int32 = 0x10
    static let inexact: Int32 = 0x20
    static let all: Int32 = 0x3d
    static let toNearest: Int32 = 0
    static let downward: Int32 = 0x400
    static let upward: Int32 = 0x800
    static let towardZero: Int32 = 0xc00
}

/// Unsigned 64-bit integer to float with one correct rounding in the current host mode. The
/// compiler's own unsigned conversion can give -0.0 when rounding toward minus infinity; a
/// signed conversion of the halved value with a sticky bit cannot.
@inline(__always) func unsignedToDouble(_ x: UInt64) -> Double {
    if x >> 63 == 0 { return Double(Int64(bitPattern: x)) }
    return Double(Int64(bitPattern: x >> 1 | x & 1)) * 2
}

@inline(__always) func unsignedToFloat(_ x: UInt64) -> Float {
    if x >> 63 == 0 { return Float(Int64(bitPattern: x)) }
    return Float(Int64(bitPattern: x >> 1 | x & 1)) * 2
}

/// FPSR cumulative exception bits.
public enum FPSRFlag {
    public static let invalid: UInt32 = 1 << 0
    public static let divideByZero: UInt32 = 1 << 1
    public static let overflow: UInt32 = 1 << 2
    public static let underflow: UInt32 = 1 << 3
    public static let inexact: UInt32 = 1 << 4
    public static let inputDenormal: UInt32 = 1 << 7
}

/// FPCR control bits the interpreter honours.
public enum FPCRBit {
    /// Default NaN.
    public static let dn: UInt32 = 1 << 25
    /// Flush denormals to zero.
    public static let fz: UInt32 = 1 << 24
    /// Alternative half-precision format.
    public static let ahp: UInt32 = 1 << 26
    /// Flush half-precision denormals to zero (FEAT_FP16 arithmetic).
    public static let fz16: UInt32 = 1 << 19
    /// Rounding mode field (bits 23...22): 0 nearest, 1 +inf, 2 -inf, 3 zero.
    public static let rmodeShift: UInt32 = 22
}

/// A float format the interpreter computes in (f32 or f64), described by its bit layout.
@usableFromInline
protocol ArmFloat: BinaryFloatingPoint where Exponent == Int {
    static var formatBits: Int { get }
    static var fractionBits: Int { get }
    init(bits64: UInt64)
    var bits64: UInt64 { get }
}

extension Float: ArmFloat {
    @usableFromInline static var formatBits: Int { 32 }
    @usableFromInline static var fractionBits: Int { 23 }
    @usableFromInline init(bits64: UInt64) { self.init(bitPattern: UInt32(truncatingIfNeeded: bits64)) }
    @usableFromInline var bits64: UInt64 { UInt64(bitPattern) }
}

extension Double: ArmFloat {
    @usableFromInline static var formatBits: Int { 64 }
    @usableFromInline static var fractionBits: Int { 52 }
    @usableFromInline init(bits64: UInt64) { self.init(bitPattern: bits64) }
    @usableFromInline var bits64: UInt64 { bitPattern }
}

extension ArmFloat {
    static var quietBit: UInt64 { 1 << UInt64(fractionBits - 1) }
    static var defaultNaN: Self { Self(bits64: (((1 << UInt64(formatBits - fractionBits - 1)) - 1) << UInt64(fractionBits)) | quietBit) }
    var isSignalingNaNBits: Bool { isNaN && bits64 & Self.quietBit == 0 }
    var quieted: Self { Self(bits64: bits64 | Self.quietBit) }
}

/// Runs host floating-point operations under a chosen rounding mode and collects the IEEE
/// exception flags they raise. Operands and results pass through memory the C library could
/// see, so the compiler cannot move the arithmetic across the fenv calls.
@usableFromInline
final class HostFloatingPoint {
    let scratch: UnsafeMutablePointer<UInt64>

    init() {
        scratch = .allocate(capacity: 4)
        scratch.initialize(repeating: 0, count: 4)
    }
    deinit { scratch.deallocate() }

    static func hostRounding(_ mode: Int) -> Int32 {
        switch mode {
        case 1: return HostFenv.upward
        case 2: return HostFenv.downward
        case 3: return HostFenv.towardZero
        default: return HostFenv.toNearest
        }
    }

    /// Computes `body` on the operands stored in scratch[0...2] with rounding `mode` (FPCR.RMode
    /// numbering). Returns the result bits and FPSR flags.
    func run<F: ArmFloat>(_ type: F.Type, _ a: F, _ b: F, _ c: F, mode: Int, _ body: (F, F, F) -> F) -> (F, UInt32) {
        scratch[0] = a.bits64; scratch[1] = b.bits64; scratch[2] = c.bits64
        let saved = fegetround()
        fesetround(Self.hostRounding(mode))
        feclearexcept(HostFenv.all)
        let r = body(F(bits64: scratch[0]), F(bits64: scratch[1]), F(bits64: scratch[2]))
        scratch[3] = r.bits64
        let raised = fetestexcept(HostFenv.all)
        fesetround(saved)
        var flags: UInt32 = 0
        if raised & HostFenv.invalid != 0 { flags |= FPSRFlag.invalid }
        if raised & HostFenv.divideByZero != 0 { flags |= FPSRFlag.divideByZero }
        if raised & HostFenv.overflow != 0 { flags |= FPSRFlag.overflow }
        if raised & HostFenv.underflow != 0 { flags |= FPSRFlag.underflow }
        if raised & HostFenv.inexact != 0 { flags |= FPSRFlag.inexact }
        return (F(bits64: scratch[3]), flags)
    }
}

/// A64 floating-point semantics over host arithmetic: FPCR FZ/DN/RMode, NaN propagation and
/// FPSR flags as the architecture defines them. Tininess is detected after rounding (the host's
/// rule); A64 detects it before rounding, which differs only for results that round up to the
/// smallest normal.
@usableFromInline
struct A64FloatContext {
    let fpcr: UInt32
    let host: HostFloatingPoint
    var flags: UInt32 = 0

    var flushToZero: Bool { fpcr & FPCRBit.fz != 0 }
    var defaultNaN: Bool { fpcr & FPCRBit.dn != 0 }
    var roundingMode: Int { Int(fpcr >> FPCRBit.rmodeShift & 3) }
    /// FPCR.AHP: half precision without infinities and NaNs (exponent 31 is a normal exponent).
    var alternativeHalf: Bool { fpcr & FPCRBit.ahp != 0 }

    /// FZ input handling: denormals become signed zeros and raise IDC.
    mutating func input<F: ArmFloat>(_ x: F) -> F {
        if flushToZero && x.isSubnormal {
            flags |= FPSRFlag.inputDenormal
            return x.sign == .minus ? -F.zero : F.zero
        }
        return x
    }

    /// FZ output handling: a tiny result (the host reports underflow, or gives a denormal)
    /// becomes a signed zero with only UFC raised, as A64 flushes before signalling inexact.
    mutating func output<F: ArmFloat>(_ x: F, _ hostFlags: UInt32) -> F {
        if flushToZero && (x.isSubnormal || (hostFlags & FPSRFlag.underflow != 0 && !x.isNormal)) {
            flags |= (hostFlags & ~(FPSRFlag.inexact | FPSRFlag.underflow)) | FPSRFlag.underflow
            return x.sign == .minus ? -F.zero : F.zero
        }
        flags |= hostFlags
        return x
    }

    mutating func nanResult<F: ArmFloat>(_ x: F) -> F {
        if x.isSignalingNaNBits { flags |= FPSRFlag.invalid }
        return defaultNaN ? F.defaultNaN : x.quieted
    }

    /// FPProcessNaNs over operands in priority order; nil when none is a NaN.
    mutating func processNaNs<F: ArmFloat>(_ ops: F...) -> F? {
        for x in ops where x.isSignalingNaNBits { return nanResult(x) }
        for x in ops where x.isNaN { return nanResult(x) }
        return nil
    }

    mutating func arithmetic<F: ArmFloat>(_ op: IROp, _ a0: F, _ b0: F, _ c0: F) -> F {
        // FABS and FNEG only touch the sign bit: no flushing, no NaN processing.
        if op == .fneg { return -a0 }
        if op == .fabs { return a0.magnitude }
        let a = input(a0), b = input(b0), c = input(c0)
        switch op {
        case .fadd, .fsub, .fmul, .fdiv:
            if let n = processNaNs(a, b) { return n }
            let (r, f) = host.run(F.self, a, b, c, mode: roundingMode) { x, y, _ in
                switch op {
                case .fadd: return x + y
                case .fsub: return x - y
                case .fmul: return x * y
                default: return x / y
                }
            }
            return fixInvalid(output(r, f))
        case .fmulx:
            if let n = processNaNs(a, b) { return n }
            if (a.isInfinite && b.isZero) || (a.isZero && b.isInfinite) {
                return (a.sign == b.sign) ? 2 : -2
            }
            let (r, f) = host.run(F.self, a, b, c, mode: roundingMode) { x, y, _ in x * y }
            return output(r, f)
        case .fmadd:
            // FPMulAdd(addend c, a, b): the addend's NaN has priority among quiet NaNs, and
            // inf * 0 with a quiet NaN addend is still invalid.
            if c.isNaN && !c.isSignalingNaNBits && !a.isSignalingNaNBits && !b.isSignalingNaNBits
                && ((a.isInfinite && b.isZero) || (a.isZero && b.isInfinite)) {
                flags |= FPSRFlag.invalid
                return F.defaultNaN
            }
            if let n = processNaNs(c, a, b) { return n }
            let (r, f) = host.run(F.self, a, b, c, mode: roundingMode) { x, y, z in z.addingProduct(x, y) }
            return fixInvalid(output(r, f))
        case .frecps, .frsqrts:
            let na = -a
            if let n = processNaNs(na, b) { return n }
            let half = op == .frsqrts
            if (na.isInfinite && b.isZero) || (na.isZero && b.isInfinite) { return half ? 1.5 : 2 }
            if na.isInfinite || b.isInfinite { return (na.sign == b.sign) ? F.infinity : -F.infinity }
            // (3 + a*b) / 2 with one rounding: halve an operand exactly instead of the sum,
            // which could overflow before the halving.
            let (r, f) = host.run(F.self, na, b, c, mode: roundingMode) { x, y, _ in
                guard half else { return F(2).addingProduct(x, y) }
                if x.isNormal && x.exponent > F.leastNormalMagnitude.exponent { return F(1.5).addingProduct(x / 2, y) }
                if y.isNormal && y.exponent > F.leastNormalMagnitude.exponent { return F(1.5).addingProduct(x, y / 2) }
                return F(3).addingProduct(x, y) / 2
            }
            return output(r, f)
        case .fmax, .fmin:
            if let n = processNaNs(a, b) { return n }
            return minMax(a, b, max: op == .fmax)
        case .fmaxnm, .fminnm:
            let isMax = op == .fmaxnm
            var x = a, y = b
            if x.isNaN && !x.isSignalingNaNBits && !y.isNaN { x = isMax ? -F.infinity : F.infinity }
            if y.isNaN && !y.isSignalingNaNBits && !x.isNaN { y = isMax ? -F.infinity : F.infinity }
            if let n = processNaNs(x, y) { return n }
            return minMax(x, y, max: isMax)
        case .fsqrt:
            if let n = processNaNs(a) { return n }
            if a.sign == .minus && !a.isZero {
                flags |= FPSRFlag.invalid
                return F.defaultNaN
            }
            let (r, f) = host.run(F.self, a, b, c, mode: roundingMode) { x, _, _ in x.squareRoot() }
            return output(r, f)
        case .frecpe: return reciprocalEstimate(a)
        case .frsqrte: return reciprocalSqrtEstimate(a)
        case .frecpx:
            if let n = processNaNs(a) { return n }
            let expBits = F.formatBits - F.fractionBits - 1
            let expMask = (UInt64(1) << UInt64(expBits)) - 1
            let signBit = a.bits64 & (UInt64(1) << UInt64(F.formatBits - 1))
            let exp = a.bits64 >> UInt64(F.fractionBits) & expMask
            let newExp = exp == 0 ? expMask - 1 : ~exp & expMask
            return F(bits64: signBit | newExp << UInt64(F.fractionBits))
        default:
            return F.defaultNaN
        }
    }

    /// Host invalid results (inf - inf, 0 * inf, 0 / 0) are the default NaN on A64.
    func fixInvalid<F: ArmFloat>(_ r: F) -> F { r.isNaN ? F.defaultNaN : r }

    func minMax<F: ArmFloat>(_ a: F, _ b: F, max: Bool) -> F {
        if a.isZero && b.isZero && a.sign != b.sign { return max ? F.zero : -F.zero }
        if max { return a > b ? a : b }
        return a < b ? a : b
    }

    mutating func compare<F: ArmFloat>(_ a0: F, _ b0: F, signaling: Bool) -> UInt32 {
        let a = input(a0), b = input(b0)
        if a.isNaN || b.isNaN {
            if signaling || a.isSignalingNaNBits || b.isSignalingNaNBits { flags |= FPSRFlag.invalid }
            return 0x3000_0000
        }
        if a == b { return 0x6000_0000 }
        return a < b ? 0x8000_0000 : 0x2000_0000
    }

    func overflowToInfinity(negative: Bool) -> Bool {
        switch roundingMode {
        case 0: return true
        case 1: return !negative
        case 2: return negative
        default: return false
        }
    }

    mutating func reciprocalEstimate<F: ArmFloat>(_ a: F) -> F {
        if let n = processNaNs(a) { return n }
        let negative = a.sign == .minus
        if a.isInfinite { return negative ? -F.zero : F.zero }
        if a.isZero {
            flags |= FPSRFlag.divideByZero
            return negative ? -F.infinity : F.infinity
        }
        let n = F.formatBits
        if a.magnitude < F(sign: .plus, exponent: n == 32 ? -128 : -1024, significand: 1) {
            flags |= FPSRFlag.overflow | FPSRFlag.inexact
            let inf = overflowToInfinity(negative: negative)
            let r = inf ? F.infinity : F.greatestFiniteMagnitude
            return negative ? -r : r
        }
        if flushToZero && a.magnitude >= F(sign: .plus, exponent: n == 32 ? 126 : 1022, significand: 1) {
            flags |= FPSRFlag.underflow
            return negative ? -F.zero : F.zero
        }
        let bits = a.bits64
        var fraction: UInt64 = n == 32 ? (bits & 0x7f_ffff) << 29 : bits & 0xf_ffff_ffff_ffff
        var exp = Int(n == 32 ? (bits >> 23) & 0xff : (bits >> 52) & 0x7ff)
        if exp == 0 {
            if fraction >> 51 & 1 == 0 {
                exp = -1
                fraction = (fraction & ((1 << 50) - 1)) << 2
            } else {
                fraction = (fraction & ((1 << 51) - 1)) << 1
            }
        }
        let scaled = 256 | Int(fraction >> 44 & 0xff)
        var resultExp = (n == 32 ? 253 : 2045) - exp
        let estimate = UInt64(recipEstimate(scaled) & 0xff)
        var f = estimate << 44
        if resultExp == 0 {
            f = (1 << 51) | (f >> 1)
        } else if resultExp == -1 {
            f = (1 << 50) | (f >> 2)
            resultExp = 0
        }
        let sign: UInt64 = negative ? 1 << UInt64(n - 1) : 0
        if n == 32 { return F(bits64: sign | UInt64(resultExp & 0xff) << 23 | (f >> 29)) }
        return F(bits64: sign | UInt64(resultExp & 0x7ff) << 52 | f)
    }

    func recipEstimate(_ a0: Int) -> Int {
        let a = a0 * 2 + 1
        let b = (1 << 19) / a
        return (b + 1) / 2
    }

    mutating func reciprocalSqrtEstimate<F: ArmFloat>(_ a: F) -> F {
        if let n = processNaNs(a) { return n }
        if a.isZero {
            flags |= FPSRFlag.divideByZero
            return a.sign == .minus ? -F.infinity : F.infinity
        }
        if a.sign == .minus {
            flags |= FPSRFlag.invalid
            return F.defaultNaN
        }
        if a.isInfinite { return F.zero }
        let n = F.formatBits
        let bits = a.bits64
        var fraction: UInt64 = n == 32 ? (bits & 0x7f_ffff) << 29 : bits & 0xf_ffff_ffff_ffff
        var exp = Int(n == 32 ? (bits >> 23) & 0xff : (bits >> 52) & 0x7ff)
        if exp == 0 {
            while fraction >> 51 & 1 == 0 {
                fraction = (fraction << 1) & ((1 << 52) - 1)
                exp -= 1
            }
            fraction = (fraction << 1) & ((1 << 52) - 1)
        }
        let scaled = exp & 1 == 0 ? 256 | Int(fraction >> 44 & 0xff) : 128 | Int(fraction >> 45 & 0x7f)
        let resultExp = ((n == 32 ? 380 : 3068) - exp) >> 1
        let estimate = UInt64(recipSqrtEstimate(scaled) & 0xff)
        if n == 32 { return F(bits64: UInt64(resultExp & 0xff) << 23 | estimate << 15) }
        return F(bits64: UInt64(resultExp & 0x7ff) << 52 | estimate << 44)
    }

    func recipSqrtEstimate(_ a0: Int) -> Int {
        var a = a0
        if a < 256 { a = a * 2 + 1 } else { a = (a >> 1) << 1; a = (a + 1) * 2 }
        var b = 512
        while a * (b + 1) * (b + 1) < (1 << 28) { b += 1 }
        return (b + 1) / 2
    }

    // MARK: Conversions

    func rule(_ rounding: IRRounding) -> FloatingPointRoundingRule {
        switch rounding {
        case .tiesToEven: return .toNearestOrEven
        case .towardPlus: return .up
        case .towardMinus: return .down
        case .towardZero: return .towardZero
        case .tiesAway: return .toNearestOrAwayFromZero
        case .odd: return .towardZero
        case .current:
            switch roundingMode {
            case 1: return .up
            case 2: return .down
            case 3: return .towardZero
            default: return .toNearestOrEven
            }
        }
    }

    /// FPToFixed: NaN gives 0 and out-of-range values saturate, both invalid; inexact otherwise.
    mutating func toInteger(_ value: Double, isNaN: Bool, fractionBits: Int, rounding: IRRounding, unsigned: Bool, resultBits: Int) -> UInt64 {
        if isNaN {
            flags |= FPSRFlag.invalid
            return 0
        }
        let scaled = value * Double(sign: .plus, exponent: fractionBits, significand: 1)
        let rounded = scaled.rounded(rule(rounding))
        let maxValue: Double, minValue: Double
        if unsigned {
            maxValue = Double(sign: .plus, exponent: resultBits, significand: 1)
            minValue = 0
        } else {
            maxValue = Double(sign: .plus, exponent: resultBits - 1, significand: 1)
            minValue = -maxValue
        }
        if rounded >= maxValue || rounded < minValue {
            flags |= FPSRFlag.invalid
            if rounded < minValue { return unsigned ? 0 : (UInt64(1) << UInt64(resultBits - 1)) }
            return unsigned ? (resultBits == 64 ? ~0 : (1 << UInt64(resultBits)) - 1) : (UInt64(1) << UInt64(resultBits - 1)) - 1
        }
        if rounded != scaled { flags |= FPSRFlag.inexact }
        let mask: UInt64 = resultBits == 64 ? ~0 : (1 << UInt64(resultBits)) - 1
        if unsigned { return UInt64(rounded) & mask }
        return UInt64(bitPattern: Int64(rounded)) & mask
    }

    /// Rounds a finite double to half precision with A64 flags; returns the 16-bit pattern.
    mutating func toHalf(_ value: Double, rounding: IRRounding, arithmetic: Bool = false) -> UInt64 {
        let sign: UInt64 = value.sign == .minus ? 0x8000 : 0
        // AHP applies to conversions only; half-precision arithmetic uses the IEEE format.
        let alternativeHalf = self.alternativeHalf && !arithmetic
        if alternativeHalf {
            // No NaN or infinity to produce: NaN gives zero, infinity and overflow saturate,
            // all three as invalid operations.
            if value.isNaN {
                flags |= FPSRFlag.invalid
                return 0
            }
            if value.isInfinite {
                flags |= FPSRFlag.invalid
                return sign | 0x7fff
            }
        }
        if value.isNaN {
            if value.isSignalingNaNBits { flags |= FPSRFlag.invalid }
            if defaultNaN { return 0x7e00 }
            return sign | 0x7e00 | (value.bitPattern >> 42 & 0x1ff)
        }
        if value.isInfinite { return sign | 0x7c00 }
        if value.isZero { return sign }
        let magnitude = value.magnitude
        let exponent = max(Int(magnitude.exponent), -14)
        let quantum = Double(sign: .plus, exponent: exponent - 10, significand: 1)
        let scaled = magnitude / quantum
        var m = roundMagnitude(scaled, negative: sign != 0, rounding: rounding)
        if m != scaled { flags |= FPSRFlag.inexact }
        var e = exponent
        if m >= 2048 { m /= 2; e += 1 }
        if alternativeHalf && e > 16 {
            flags = (flags & ~FPSRFlag.inexact) | FPSRFlag.invalid
            return sign | 0x7fff
        }
        if !alternativeHalf && e > 15 {
            flags |= FPSRFlag.overflow | FPSRFlag.inexact
            return overflowToInfinity(negative: sign != 0) || rounding == .tiesAway ? sign | 0x7c00 : sign | 0x7bff
        }
        if exponent == -14 && scaled < 1024 && m != scaled { flags |= FPSRFlag.underflow }
        let mi = UInt64(m)
        if mi < 1024 { return sign | mi }
        return sign | UInt64(e + 15) << 10 | (mi & 0x3ff)
    }

    func roundMagnitude(_ x: Double, negative: Bool, rounding: IRRounding) -> Double {
        switch rule(rounding) {
        case .up: return negative ? x.rounded(.down) : x.rounded(.up)
        case .down: return negative ? x.rounded(.up) : x.rounded(.down)
        case let r: return x.rounded(r)
        }
    }
}

@inline(__always) func halfToDouble(_ h: UInt64, alternative: Bool = false) -> Double {
    let sign: Double = h & 0x8000 != 0 ? -1 : 1
    let exp = Int(h >> 10 & 0x1f), frac = Double(h & 0x3ff)
    if exp == 0 { return sign * frac * Double(sign: .plus, exponent: -24, significand: 1) }
    if exp == 31 && !alternative {
        if h & 0x3ff == 0 { return sign * .infinity }
        let payload = (h & 0x3ff) << 42
        return Double(bitPattern: (h & 0x8000) << 48 | 0x7ff0_0000_0000_0000 | payload)
    }
    return sign * (1024 + frac) * Double(sign: .plus, exponent: exp - 25, significand: 1)
}

extension IRInterpreter {
    @usableFromInline
    mutating func executeFloat(_ inst: IRInst, _ insts: [IRInst], state: GuestCPUState) -> V128 {
        var ctx = A64FloatContext(fpcr: state.fpcr, host: fp)
        let a = inst.a.isNone ? 0 : values[Int(inst.a.index)].lo
        let b = inst.b.isNone ? 0 : values[Int(inst.b.index)].lo
        let c = inst.c.isNone ? 0 : values[Int(inst.c.index)].lo
        let sourceType = inst.a.isNone ? IRType.void : insts[Int(inst.a.index)].type
        var result: UInt64 = 0
        switch inst.op {
        case .fcmp:
            if sourceType == .i16 {
                result = UInt64(halfCompare(UInt16(truncatingIfNeeded: a), UInt16(truncatingIfNeeded: b), signaling: inst.aux & 1 == 1, &ctx))
            } else if sourceType == .f32 {
                result = UInt64(ctx.compare(Float(bits64: a), Float(bits64: b), signaling: inst.aux & 1 == 1))
            } else {
                result = UInt64(ctx.compare(Double(bits64: a), Double(bits64: b), signaling: inst.aux & 1 == 1))
            }
        case .fconvert:
            if inst.aux == IRRounding.odd.rawValue && sourceType == .f64 && inst.type == .f32 {
                result = convertToOdd(a, &ctx)
            } else {
                result = convertFloat(a, from: sourceType, to: inst.type, &ctx)
            }
        case .floatToInt:
            let rounding = IRRounding(rawValue: inst.aux & 15) ?? .towardZero
            let unsigned = inst.aux & 16 != 0
            let value: Double, isNaN: Bool
            switch sourceType {
            case .f32:
                let f = ctx.input(Float(bits64: a))
                value = Double(f); isNaN = f.isNaN
            case .f64:
                let d = ctx.input(Double(bits64: a))
                value = d; isNaN = d.isNaN
            default:
                value = halfToDouble(a); isNaN = value.isNaN
            }
            result = ctx.toInteger(value, isNaN: isNaN, fractionBits: Int(inst.imm), rounding: rounding, unsigned: unsigned, resultBits: inst.type.bits)
        case .intToFloat:
            let unsigned = inst.aux & 16 != 0
            let w = UInt64(sourceType.bits)
            let scale = Int(inst.imm)
            let mode = ctx.roundingMode
            switch inst.type {
            case .f32:
                // Computed in the 64-bit scratch so that 64-bit sources keep all their bits.
                let (r, f) = fp.run(Double.self, Double(bits64: a), 0, 0, mode: mode) { x, _, _ in
                    let raw = x.bitPattern
                    let v = unsigned ? unsignedToFloat(raw) : Float(signExtend(raw, bits: w))
                    return Double(bits64: UInt64(v.bitPattern))
                }
                let value = Float(bits64: r.bits64) * Float(sign: .plus, exponent: -scale, significand: 1)
                result = ctx.output(value, f).bits64
            case .f64:
                let (r, f) = fp.run(Double.self, Double(bits64: a), 0, 0, mode: mode) { x, _, _ in
                    let raw = x.bitPattern
                    return unsigned ? unsignedToDouble(raw) : Double(signExtend(raw, bits: w))
                }
                result = ctx.output(r * Double(sign: .plus, exponent: -scale, significand: 1), f).bits64
            default:
                // Round to odd in double, then once to half: exact for any 64-bit source.
                let (r, f) = fp.run(Double.self, Double(bits64: a), 0, 0, mode: 3) { x, _, _ in
                    let raw = x.bitPattern
                    return unsigned ? unsignedToDouble(raw) : Double(signExtend(raw, bits: w))
                }
                let odd = f & FPSRFlag.inexact != 0 ? Double(bits64: r.bits64 | 1) : r
                result = ctx.toHalf(odd * Double(sign: .plus, exponent: -scale, significand: 1), rounding: .current, arithmetic: true)
                ctx.flags |= f & FPSRFlag.inexact
            }
        case .fround:
            let rounding = IRRounding(rawValue: inst.aux & 15) ?? .current
            let exact = inst.aux & 32 != 0
            if inst.type == .i16 {
                result = halfRoundIntegral(UInt16(truncatingIfNeeded: a), rounding, exact, &ctx)
            } else if inst.type == .f32 {
                result = roundIntegral(Float(bits64: a), rounding, exact, &ctx).bits64
            } else {
                result = roundIntegral(Double(bits64: a), rounding, exact, &ctx).bits64
            }
        default:
            if inst.type == .i16 {
                result = halfArithmetic(inst.op, UInt16(truncatingIfNeeded: a), UInt16(truncatingIfNeeded: b), UInt16(truncatingIfNeeded: c), &ctx)
            } else if inst.type == .f32 {
                result = ctx.arithmetic(inst.op, Float(bits64: a), Float(bits64: b), Float(bits64: c)).bits64
            } else {
                result = ctx.arithmetic(inst.op, Double(bits64: a), Double(bits64: b), Double(bits64: c)).bits64
            }
        }
        state.fpsr |= ctx.flags
        return V128(lo: result & inst.type.mask)
    }

    /// f64 -> f32 rounding to odd (FCVTXN): truncate, then set the lowest bit if inexact.
    func convertToOdd(_ a: UInt64, _ ctx: inout A64FloatContext) -> UInt64 {
        let d = ctx.input(Double(bits64: a))
        if d.isNaN { return convertFloat(a, from: .f64, to: .f32, &ctx) }
        let (r, f) = fp.run(Double.self, d, 0, 0, mode: 3) { x, _, _ in Double(bits64: UInt64(Float(x).bitPattern)) }
        var bits = r.bits64
        if f & FPSRFlag.inexact != 0 && !Float(bits64: bits).isInfinite { bits |= 1 }
        return ctx.output(Float(bits64: bits), f).bits64
    }

    /// A NaN converted to half precision: quietened with its payload's top bits, the default
    /// NaN under DN, or a signed zero (and invalid) in the alternative format.
    func halfNaN(sign: UInt64, payload: UInt64, signaling: Bool, _ ctx: inout A64FloatContext) -> UInt64 {
        if signaling || ctx.alternativeHalf { ctx.flags |= FPSRFlag.invalid }
        if ctx.alternativeHalf { return sign << 15 }
        if ctx.defaultNaN { return 0x7e00 }
        return sign << 15 | 0x7e00 | payload
    }

    func roundIntegral<F: ArmFloat>(_ a0: F, _ rounding: IRRounding, _ exact: Bool, _ ctx: inout A64FloatContext) -> F {
        let a = ctx.input(a0)
        if a.isNaN { return ctx.nanResult(a) }
        if a.isInfinite || a.isZero { return a }
        let r = a.rounded(ctx.rule(rounding))
        if exact && r != a { ctx.flags |= FPSRFlag.inexact }
        return r.isZero ? (a.sign == .minus ? -F.zero : F.zero) : r
    }

    func convertFloat(_ a: UInt64, from source: IRType, to target: IRType, _ ctx: inout A64FloatContext) -> UInt64 {
        switch (source, target) {
        case (.f32, .f64):
            let f = ctx.input(Float(bits64: a))
            if f.isNaN {
                if f.isSignalingNaNBits { ctx.flags |= FPSRFlag.invalid }
                if ctx.defaultNaN { return Double.defaultNaN.bits64 }
                return (a & 0x8000_0000) << 32 | 0x7ff8_0000_0000_0000 | (a & 0x3f_ffff) << 29
            }
            return Double(f).bits64
        case (.f64, .f32):
            let d = ctx.input(Double(bits64: a))
            if d.isNaN {
                if d.isSignalingNaNBits { ctx.flags |= FPSRFlag.invalid }
                if ctx.defaultNaN { return Float.defaultNaN.bits64 }
                return (a >> 32 & 0x8000_0000) | 0x7fc0_0000 | (a >> 29 & 0x3f_ffff)
            }
            let (r, f) = fp.run(Double.self, d, 0, 0, mode: ctx.roundingMode) { x, _, _ in Double(bits64: UInt64(Float(x).bitPattern)) }
            return ctx.output(Float(bits64: r.bits64), f).bits64
        case (.i16, .f32):
            let d = halfToDouble(a, alternative: ctx.alternativeHalf)
            if d.isNaN {
                if a & 0x200 == 0 { ctx.flags |= FPSRFlag.invalid }
                if ctx.defaultNaN { return Float.defaultNaN.bits64 }
                return (a & 0x8000) << 16 | 0x7fc0_0000 | (a & 0x1ff) << 13
            }
            return Float(d).bits64
        case (.i16, .f64):
            let d = halfToDouble(a, alternative: ctx.alternativeHalf)
            if d.isNaN {
                if a & 0x200 == 0 { ctx.flags |= FPSRFlag.invalid }
                if ctx.defaultNaN { return Double.defaultNaN.bits64 }
                return (a & 0x8000) << 48 | 0x7ff8_0000_0000_0000 | (a & 0x1ff) << 42
            }
            return d.bits64
        case (.f32, _):
            let f = ctx.input(Float(bits64: a))
            if f.isNaN { return halfNaN(sign: a >> 31 & 1, payload: a >> 13 & 0x1ff, signaling: f.isSignalingNaNBits, &ctx) }
            return ctx.toHalf(Double(f), rounding: .current)
        default:
            let d = ctx.input(Double(bits64: a))
            if d.isNaN { return halfNaN(sign: a >> 63, payload: a >> 42 & 0x1ff, signaling: d.isSignalingNaNBits, &ctx) }
            return ctx.toHalf(d, rounding: .current)
        }
    }
}
