/// Every IR operation.
///
/// An instruction has up to three value operands (`a`, `b`, `c`), a 64-bit immediate and a
/// 16-bit attribute word (`aux`) whose meaning depends on the operation (a register, a memory
/// access, a condition, a vector element type). The raw values are part of the binary format:
/// append new cases at the end and bump `IRFormat.version` when meanings change.
public enum IROp: UInt8, Sendable, CaseIterable {
    // MARK: Markers, constants and guest state
    /// Start of a guest instruction: `imm` = region offset, `a` = the raw 32-bit encoding
    /// (not a value). Lets the interpreter report the pc of a faulting access.
    case guestInstruction = 0
    /// Integer or floating-point constant: `imm` holds the bits.
    case const
    /// i64 = region base + `imm`. Position-independent guest addresses (invariant 1).
    case regionAddress
    /// Read guest register `aux` (an `IRGuestRegister`).
    case readReg
    /// Write `a` to guest register `aux`.
    case writeReg
    /// Read a system register `aux` (an `IRSystemRegister`) supplied by the environment.
    case readSystem

    // MARK: Integer arithmetic (operands and result of the same integer type unless noted)
    case add, sub, mul
    /// High 64 bits of the unsigned / signed 128-bit product of two i64.
    case umulh, smulh
    /// Division with A64 semantics: division by zero gives 0, INT_MIN / -1 gives INT_MIN.
    case udiv, sdiv
    case and, or, xor, not
    /// Shifts and rotate; the amount `b` is taken modulo the operand width (A64 register shifts).
    case shl, lshr, ashr, ror
    /// a + b + c where c is i1 (add with carry).
    case adc
    case clz, cls, rbit, popcount
    /// Reverse bytes within each `imm`-byte container (2, 4 or 8; equal to the width for REV).
    case byteSwap
    /// Zero-extend, sign-extend, truncate `a` to the result type.
    case zext, sext, trunc
    /// `a` ? `b` : `c`; `a` is i1.
    case select
    /// i1 = compare `a`, `b` with predicate `aux` (an `IRComparison`).
    case icmp
    /// CRC32 accumulate: i32 = crc(`a`: i32, `b`: data of `aux` bits 0-1 log2 bytes); bit 4 of
    /// `aux` selects the Castagnoli polynomial (CRC32C).
    case crc32
    /// Reinterpret the bits of `a` as the result type (same width, e.g. i64 <-> f64).
    case bitcast

    // MARK: NZCV as values (i32 with N, Z, C, V in bits 31...28)
    /// Flags of `a` + `b`.
    case nzcvAdd
    /// Flags of `a` - `b` (C set when no borrow).
    case nzcvSub
    /// Flags of `a` + `b` + `c` (c: i1).
    case nzcvAdc
    /// Flags of a logical result `a`: N and Z from it, C = V = 0.
    case nzcvLogic
    /// i1 = A64 condition `aux` (an `IRCondition`) holds for flags `a`.
    case condition

    // MARK: Memory (`aux` is an `IRMemoryAccess`)
    /// Load from address `a`; result type i8...i64 (extended per access), f32, f64 or v128.
    case load
    /// Store `b` to address `a`.
    case store
    /// Load and set the exclusive monitor (LDXR/LDAXR; 16 bytes gives v128 for pairs).
    case loadExclusive
    /// i32 status (0 = stored) = store `b` to `a` if the monitor still holds (STXR/STLXR).
    case storeExclusive
    /// Clear the exclusive monitor (CLREX).
    case clearExclusive
    /// Atomic read-modify-write of `a` with operand `b`; returns the old value. The operation
    /// is in the access's `atomic` field.
    case atomicRMW
    /// Compare-and-swap at `a`: expected `b`, new `c`; returns the old value (CAS, CASP).
    case compareAndSwap
    /// Memory barrier of kind `aux` (an `IRFence`).
    case fence
    /// Zero `imm` bytes at `a` rounded down to `imm` (DC ZVA).
    case zeroBlock

    // MARK: Scalar floating point (f32/f64; half precision travels as i16)
    // Arithmetic uses the FPCR in guest state (rounding, FZ, DN) and accumulates into FPSR.
    case fadd, fsub, fmul, fdiv, fmax, fmin, fmaxnm, fminnm, fmulx
    case fsqrt, fneg, fabs
    /// Fused `a` * `b` + `c` with one rounding.
    case fmadd
    /// Reciprocal / reciprocal square root estimates and steps, reciprocal exponent.
    case frecpe, frsqrte, frecps, frsqrts, frecpx
    /// i32 NZCV of comparing `a` with `b`; `aux` 1 = signalling (FCMPE).
    case fcmp
    /// Convert between f16 (as i16), f32 and f64: source type from `a`, destination = result type.
    case fconvert
    /// Float `a` to integer; `aux` bits 0-3 = `IRRounding`, bit 4 = unsigned; `imm` = fraction bits.
    case floatToInt
    /// Integer `a` to float; `aux` bit 4 = unsigned; `imm` = fraction bits.
    case intToFloat
    /// Round to integral in float format; `aux` bits 0-3 = `IRRounding`, bit 5 = exact (FRINTX).
    case fround

    // MARK: Vectors (v128; `aux` is an `IRElement` unless noted; `imm` a lane or shift)
    /// v128 from two i64: `a` low half, `b` high half.
    case vpack
    /// i64 lane `imm` of `a` for the element size in `aux`, zero-extended.
    case vextract
    /// `a` with lane `imm` replaced by scalar `b`.
    case vinsert
    /// Every lane = scalar `a`.
    case vsplat
    /// `a` with the upper 64 bits cleared (64-bit vector results).
    case vclearHigh
    case vadd, vsub, vmul, vand, vor, vxor, vbic, vorn
    /// Bitwise select: (`a` & `b`) | (~`a` & `c`).
    case vbsl
    case vsmax, vsmin, vumax, vumin, vsabd, vuabd
    case vuqadd, vsqadd, vuqsub, vsqsub
    /// Lanewise compares giving all-ones / zero lanes.
    case vcmeq, vcmgt, vcmge, vcmhi, vcmhs, vcmtst
    case vneg, vabs, vnot, vcnt, vclz, vcls, vrbit
    /// Reverse elements within `imm`-byte containers.
    case vrev
    /// Shift each lane by immediate `imm`.
    case vshlImm, vushrImm, vsshrImm
    /// Shift each lane by the signed low byte of the matching lane of `b` (USHL / SSHL).
    case vushl, vsshl
    /// Narrow each lane of `a` (element `aux` is the source size) to the low 64 bits.
    case vxtn, vsqxtn, vuqxtn, vsqxtun
    /// Widen the lanes of half `imm` (0 low, 1 high) of `a` (element `aux` is the source size).
    case vuxtl, vsxtl
    /// Widening multiply of half `imm` of `a` and `b` (source element size in `aux`).
    case vumull, vsmull
    /// Pairwise operations over the concatenation `a`:`b`.
    case vaddp, vumaxp, vuminp, vsmaxp, vsminp
    /// Reductions across all lanes of `a` (`imm` = number of lanes considered); scalar i64 result.
    case vaddv, vumaxv, vuminv, vsmaxv, vsminv
    case vzip1, vzip2, vuzp1, vuzp2, vtrn1, vtrn2
    /// Bytes `imm`... of the concatenation `b`:`a` (EXT).
    case vext
    /// One table register step of TBL/TBX: lanes of `c` (indices) that fall in
    /// [`imm`, `imm`+16) take bytes of table `b`; other lanes keep `a`.
    case vtblStep
    /// Lanewise floating point (`aux` f32 or f64 element).
    case vfadd, vfsub, vfmul, vfdiv, vfmax, vfmin, vfmaxnm, vfminnm
    case vfmadd, vfneg, vfabs, vfsqrt
    case vfcmeq, vfcmge, vfcmgt
    /// Lanewise conversions; `aux` bits 0-7 element, `imm` fraction bits, rounding in bits 8-11.
    case vfloatToInt, vfloatToUInt, vintToFloat, vuintToFloat
    /// Lanewise round to integral, rounding in `aux` bits 8-11, exact in bit 12.
    case vfround
    /// Halving add/subtract: (a ± b) >> 1 without overflow; the `r` forms round (+1).
    case vshadd, vuhadd, vsrhadd, vurhadd, vshsub, vuhsub
    /// Shifts by the signed low byte of each lane of `b`: rounding (SRSHL, URSHL), saturating
    /// (SQSHL, UQSHL), both (SQRSHL, UQRSHL), and signed-to-unsigned saturating (SQSHLU).
    case vsrshl, vurshl, vsqshl, vuqshl, vsqrshl, vuqrshl, vsqshlu
    /// Rounding shift right by immediate `imm` (1...element bits).
    case vsrshrImm, vurshrImm
    /// Polynomial (carry-less) multiply of bytes; widening form over half `imm` (i8 or i64).
    case vpmul, vpmull
    /// Saturating doubling multiply returning the high half, plain and rounding.
    case vsqdmulh, vsqrdmulh
    /// Saturating doubling multiply long of half `imm` (source element size in `aux`).
    case vsqdmull
    /// SUQADD (signed `a` + unsigned `b`), USQADD (unsigned `a` + signed `b`), saturating.
    case vsuqadd, vusqadd
    /// Saturating absolute value and negation.
    case vsqabs, vsqneg
    /// AES rounds: AESE/AESD (`a` state, `b` round key), AESMC/AESIMC (`a`).
    case vaese, vaesd, vaesmc, vaesimc
    /// SHA-1 hash updates (`a` = abcd, `b` lane 0 = e, `c` = w) and schedule updates.
    case vsha1c, vsha1p, vsha1m, vsha1su0, vsha1su1
    /// SHA-256 hash updates (`a`, `b` the two state halves, `c` = w; H2 swaps the halves' roles)
    /// and schedule updates.
    case vsha256h, vsha256h2, vsha256su0, vsha256su1
    /// Unsigned reciprocal and reciprocal square root estimates (URECPE, URSQRTE; i32 lanes).
    case vurecpe, vursqrte
    /// Dot products: each i32 lane of `a` plus the sum of four byte products of `b` and `c`.
    case vsdot, vudot
    /// Saturating rounding doubling multiply accumulate / subtract high (SQRDMLAH, SQRDMLSH):
    /// `a` ± (`b` * `c`).
    case vsqrdmlah, vsqrdmlsh

    // MARK: Control
    /// Side exit: when i1 `a` holds, the unit leaves to region offset `imm` (a taken
    /// conditional branch in the middle of a translation unit), with the guest state as it
    /// stands here; otherwise it runs on.
    case exitIf
}

extension IROp {
    /// Name used by the text form.
    public var name: String { String(describing: self) }

    /// Operations that have an effect beyond their result, so they are never removed.
    @inlinable public var hasSideEffects: Bool {
        switch self {
        case .guestInstruction, .writeReg, .store, .loadExclusive, .storeExclusive, .clearExclusive,
             .atomicRMW, .compareAndSwap, .fence, .zeroBlock, .load, .readSystem, .exitIf:
            return true
        case .fadd, .fsub, .fmul, .fdiv, .fmax, .fmin, .fmaxnm, .fminnm, .fmulx, .fsqrt, .fmadd,
             .frecpe, .frsqrte, .frecps, .frsqrts, .frecpx, .fcmp, .fconvert, .floatToInt,
             .intToFloat, .fround, .vfadd, .vfsub, .vfmul, .vfdiv, .vfmax, .vfmin, .vfmaxnm,
             .vfminnm, .vfmadd, .vfsqrt, .vfcmeq, .vfcmge, .vfcmgt, .vfloatToInt, .vfloatToUInt,
             .vintToFloat, .vuintToFloat, .vfround,
             .vuqadd, .vsqadd, .vuqsub, .vsqsub, .vsqxtn, .vuqxtn, .vsqxtun, .vsqshl, .vuqshl,
             .vsqrshl, .vuqrshl, .vsqshlu, .vsqdmulh, .vsqrdmulh, .vsqdmull, .vsuqadd, .vusqadd,
             .vsqabs, .vsqneg, .vsqrdmlah, .vsqrdmlsh:
            return true  // FPSR cumulative flags (QC for the saturating operations)
        default:
            return false
        }
    }
}

/// A guest register named by `readReg` / `writeReg`. Vector registers are v128; the others i64
/// except `nzcv`, `fpcr` and `fpsr`, which are i32.
public struct IRGuestRegister: Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// General-purpose register x0...x30.
    @inlinable public static func x(_ n: Int) -> IRGuestRegister { IRGuestRegister(rawValue: UInt16(n)) }
    public static let sp = IRGuestRegister(rawValue: 31)
    public static let nzcv = IRGuestRegister(rawValue: 32)
    public static let fpcr = IRGuestRegister(rawValue: 33)
    public static let fpsr = IRGuestRegister(rawValue: 34)
    public static let tpidr = IRGuestRegister(rawValue: 35)
    /// SIMD&FP register v0...v31.
    @inlinable public static func v(_ n: Int) -> IRGuestRegister { IRGuestRegister(rawValue: UInt16(36 + n)) }
    public static let count = 68

    @inlinable public var isVector: Bool { rawValue >= 36 && rawValue < 68 }
    @inlinable public var isValid: Bool { rawValue < 68 }
    /// The IR type of the register's value.
    @inlinable public var type: IRType {
        if isVector { return .v128 }
        if rawValue >= 32 && rawValue <= 34 { return .i32 }
        return .i64
    }
    public var name: String {
        switch rawValue {
        case 0...30: return "x\(rawValue)"
        case 31: return "sp"
        case 32: return "nzcv"
        case 33: return "fpcr"
        case 34: return "fpsr"
        case 35: return "tpidr_el0"
        case 36..<68: return "v\(rawValue - 36)"
        default: return "reg\(rawValue)"
        }
    }
}

/// A system register read with `readSystem`; its value comes from the execution environment.
public enum IRSystemRegister: UInt16, Sendable, CaseIterable {
    case cntvct = 0, cntfrq, ctr, dczid, midr
    public var name: String {
        switch self {
        case .cntvct: return "cntvct_el0"
        case .cntfrq: return "cntfrq_el0"
        case .ctr: return "ctr_el0"
        case .dczid: return "dczid_el0"
        case .midr: return "midr_el1"
        }
    }
}

/// The A64 condition codes, in encoding order.
public enum IRCondition: UInt16, Sendable, CaseIterable {
    case eq = 0, ne, cs, cc, mi, pl, vs, vc, hi, ls, ge, lt, gt, le, al, nv

    /// Whether the condition holds for an NZCV value (flags in bits 31...28).
    @inlinable public func holds(_ nzcv: UInt32) -> Bool {
        let n = nzcv >> 31 & 1 == 1, z = nzcv >> 30 & 1 == 1
        let c = nzcv >> 29 & 1 == 1, v = nzcv >> 28 & 1 == 1
        let base: Bool
        switch rawValue >> 1 {
        case 0: base = z
        case 1: base = c
        case 2: base = n
        case 3: base = v
        case 4: base = c && !z
        case 5: base = n == v
        case 6: base = n == v && !z
        default: return true
        }
        return rawValue & 1 == 1 ? !base : base
    }
}

/// Integer comparison predicates for `icmp`.
public enum IRComparison: UInt16, Sendable, CaseIterable {
    case eq = 0, ne, ult, ule, ugt, uge, slt, sle, sgt, sge
}

/// Memory ordering of an access.
public enum IRMemoryOrder: UInt8, Sendable, CaseIterable {
    case plain = 0
    /// Load-acquire, RCsc (LDAR, LDAXR, atomics with A).
    case acquire
    /// Load-acquire, RCpc (LDAPR).
    case acquirePC
    /// Store-release (STLR, atomics with L).
    case release
    /// Both (atomics with A and L).
    case acquireRelease
}

/// The read-modify-write operation of `atomicRMW`.
public enum IRAtomicOp: UInt8, Sendable, CaseIterable {
    case add = 0, clear, xor, set, smax, smin, umax, umin, swap
}

/// The attribute word of memory operations: size, extension, ordering, atomic operation.
public struct IRMemoryAccess: Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(sizeLog2: Int, signExtend: Bool = false, order: IRMemoryOrder = .plain, atomic: IRAtomicOp = .add) {
        rawValue = UInt16(sizeLog2 & 7) | (signExtend ? 8 : 0) | UInt16(order.rawValue) << 4 | UInt16(atomic.rawValue) << 8
    }
    /// log2 of the access size in bytes (0...4).
    @inlinable public var sizeLog2: Int { Int(rawValue & 7) }
    @inlinable public var size: Int { 1 << sizeLog2 }
    @inlinable public var signExtend: Bool { rawValue & 8 != 0 }
    @inlinable public var order: IRMemoryOrder { IRMemoryOrder(rawValue: UInt8(rawValue >> 4 & 7)) ?? .plain }
    @inlinable public var atomic: IRAtomicOp { IRAtomicOp(rawValue: UInt8(rawValue >> 8 & 15)) ?? .add }
}

/// Barrier kinds for `fence`.
public enum IRFence: UInt16, Sendable, CaseIterable {
    /// DMB/DSB ordering all accesses.
    case full = 0
    /// DMB LD: earlier loads before later loads and stores.
    case loads
    /// DMB ST: earlier stores before later stores.
    case stores
    /// ISB: context synchronisation (ends translated code assumptions).
    case instruction
}

/// Floating-point rounding used by conversions and round-to-integral.
public enum IRRounding: UInt16, Sendable, CaseIterable {
    case tiesToEven = 0, towardPlus, towardMinus, towardZero, tiesAway
    /// The mode in FPCR.RMode.
    case current
    /// Round to odd (FCVTXN).
    case odd
}

/// The element type of a vector operation, in `aux` bits 0-7: lane size log2 in bits 0-1, a
/// float flag in bit 2 (f16 = 5, f32 = 6, f64 = 7) and, in bit 7, "64-bit vector": lanewise
/// operations then compute only the lanes of the low 64 bits (so only those raise FPSR flags)
/// and zero the upper half.
public struct IRElement: Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue & 0xff }
    public static let i8 = IRElement(rawValue: 0)
    public static let i16 = IRElement(rawValue: 1)
    public static let i32 = IRElement(rawValue: 2)
    public static let i64 = IRElement(rawValue: 3)
    public static let f16 = IRElement(rawValue: 5)
    public static let f32 = IRElement(rawValue: 6)
    public static let f64 = IRElement(rawValue: 7)
    @inlinable public static func integer(sizeLog2: Int) -> IRElement { IRElement(rawValue: UInt16(sizeLog2 & 3)) }
    @inlinable public var sizeLog2: Int { Int(rawValue & 3) }
    @inlinable public var bits: Int { 8 << sizeLog2 }
    @inlinable public var isFloat: Bool { rawValue & 4 != 0 }
    /// Lanes processed: all 128 bits, or the low 64 for `lowHalf` elements.
    @inlinable public var lanes: Int { (16 >> sizeLog2) >> (isLowHalf ? 1 : 0) }
    @inlinable public var isLowHalf: Bool { rawValue & 0x80 != 0 }
    /// The same element on a 64-bit vector.
    @inlinable public var lowHalf: IRElement { IRElement(rawValue: rawValue | 0x80) }
    /// Full width for Q = 1, the low 64 bits for Q = 0.
    @inlinable public func vector(q: Bool) -> IRElement { q ? self : lowHalf }
    public var name: String {
        if isLowHalf { return IRElement(rawValue: rawValue & 0x7f).name + "x\(lanes)" }
        switch rawValue {
        case 0: return "i8"
        case 1: return "i16"
        case 2: return "i32"
        case 3: return "i64"
        case 5: return "f16"
        case 6: return "f32"
        case 7: return "f64"
        default: return "e\(rawValue)"
        }
    }
}
