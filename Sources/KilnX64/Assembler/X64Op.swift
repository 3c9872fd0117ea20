/// Every x86-64 instruction form Kiln encodes, one case per table line (see `X64Form.table`).
/// Names read mnemonic, width, then operand layout: `mr` r/m destination, `rm` register
/// destination, `mi` immediate source, `o` register in the opcode, `mc` count in CL.
public enum X64Op: UInt16, Sendable, CaseIterable {
    // integerALU
    case add32mr, add64mr, add32rm, add64rm, add32mi, add64mi, add32mi8, add64mi8, add8mi, or32mr, or64mr, or32rm
    case or64rm, or32mi, or64mi, or32mi8, or64mi8, adc32mr, adc64mr, adc32rm, adc64rm, adc32mi8, adc64mi8, sbb32mr
    case sbb64mr, sbb32rm, sbb64rm, and32mr, and64mr, and32rm, and64rm, and32mi, and64mi, and32mi8, and64mi8, sub32mr
    case sub64mr, sub32rm, sub64rm, sub32mi, sub64mi, sub32mi8, sub64mi8, xor32mr, xor64mr, xor32rm, xor64rm, xor32mi
    case xor64mi, xor32mi8, xor64mi8, cmp32mr, cmp64mr, cmp32rm, cmp64rm, cmp32mi, cmp64mi, cmp32mi8, cmp64mi8
    case cmp8mi, test32mr, test64mr, test32mi, test64mi, test8mi, not32m, not64m, neg32m, neg64m, inc64m, dec64m
    // shifts
    case rol32mc, rol64mc, ror32mc, ror64mc, shl32mc, shl64mc, shr32mc, shr64mc, sar32mc, sar64mc, rol32mi, rol64mi
    case ror32mi, ror64mi, shl32mi, shl64mi, shr32mi, shr64mi, sar32mi, sar64mi, shld64mri, shrd64mri
    // multiplyDivide
    case mul32m, mul64m, imul32m, imul64m, div32m, div64m, idiv32m, idiv64m, imul32rm, imul64rm, imul32rmi, imul64rmi
    case cdq, cqo
    // bitOperations
    case bsr32rm, bsr64rm, bsf64rm, lzcnt32rm, lzcnt64rm, tzcnt32rm, tzcnt64rm, popcnt32rm, popcnt64rm, bswap32o
    case bswap64o, rol16mi, bt32mi, bt64mi, bt64mr, crc32b, crc32w, crc32d, crc32q, andn32, andn64, bextr64, blsr64
    case blsmsk64, blsi64, bzhi64, pdep64, pext64, mulx64, rorx32, rorx64, shlx32, shlx64, shrx32, shrx64, sarx32
    case sarx64
    // moves
    case mov8mr, mov16mr, mov32mr, mov64mr, mov32rm, mov64rm, mov32mi, mov64mi, mov32oi, mov64oi, movzx32rm8, movzx32rm16
    case movsx32rm8, movsx64rm8, movsx32rm16, movsx64rm16, movsxd64rm, lea32rm, lea64rm, xchg64mr, push64o, pop64o
    case pushm
    // conditional
    case setcc, cmov32, cmov64, jcc8, jcc32, lahf, sahf, cmc, stc, clc, pushfq, popfq
    // control
    case jmp8, jmp32, jmpm, call32, callm, ret, ud2, int3, nop, mfence, lfence, ldmxcsr, stmxcsr
    // atomics
    case lockCmpxchg8, lockCmpxchg16, lockCmpxchg32, lockCmpxchg64, lockXadd8, lockXadd16, lockXadd32, lockXadd64
    case xchg8, xchg16, xchg32, lockCmpxchg16b
    // sseMoves
    case movd_x_r32, movq_x_r64, movd_r32_x, movq_r64_x, movq_x_xm, movq_xm_x, movss_x_m, movss_m_x, movsd_x_m
    case movsd_m_x, movdqu_x_xm, movdqu_xm_x, movdqa_x_xm, movaps_x_xm, movmskps, movmskpd, pmovmskb, pinsrb, pinsrw
    case pinsrd, pinsrq, pextrb, pextrw, pextrd, pextrq
    // sseScalar
    case addss, addsd, mulss, mulsd, subss, subsd, divss, divsd, minss, minsd, maxss, maxsd, sqrtss, sqrtsd, ucomiss
    case ucomisd, comiss, comisd, cvtss2sd, cvtsd2ss, cvtsi2ss32, cvtsi2ss64, cvtsi2sd32, cvtsi2sd64, cvttss2si32
    case cvttss2si64, cvttsd2si32, cvttsd2si64, cvtsd2si64, roundss, roundsd, cmpss, cmpsd
    // sseVectorFloat
    case addps, addpd, subps, subpd, mulps, mulpd, divps, divpd, minps, minpd, maxps, maxpd, sqrtps, sqrtpd, andps
    case andpd, andnps, orps, xorps, xorpd, cmpps, cmppd, cvtdq2ps, cvttps2dq, shufps, shufpd, roundps, roundpd
    // sseVectorInteger
    case paddb, paddw, paddd, paddq, psubb, psubw, psubd, psubq, paddusb, paddusw, paddsb, paddsw, psubusb, psubusw
    case psubsb, psubsw, pmullw, pmulld, pmuludq, pand, pandn, por, pxor, pcmpeqb, pcmpeqw, pcmpeqd, pcmpeqq, pcmpgtb
    case pcmpgtw, pcmpgtd, pcmpgtq, pmaxsb, pmaxsw, pmaxsd, pmaxub, pmaxuw, pmaxud, pminsb, pminsw, pminsd, pminub
    case pminuw, pminud, pabsb, pabsw, pabsd, pshufb, pshufd, pshuflw, pshufhw, palignr, punpcklbw, punpcklwd, punpckldq
    case punpcklqdq, punpckhbw, punpckhwd, punpckhdq, punpckhqdq, packsswb, packuswb, packssdw, packusdw, pmovzxbw
    case pmovzxwd, pmovzxdq, pmovsxbw, pmovsxwd, pmovsxdq, psllwi, pslldi, psllqi, psrlwi, psrldi, psrlqi, psrawi
    case psradi, pslldqi, psrldqi, ptest
}

extension X64Form {
    /// The table's lines, by instruction group.
    static var groups: [[X64Form]] {
        [integerALU, shifts, multiplyDivide, bitOperations, moves, conditional, control, atomics, sseMoves, sseScalar, sseVectorFloat, sseVectorInteger]
    }

    /// Every form, indexed by `X64Op.rawValue`.
    public static let table: [X64Form] = groups.joined().sorted { $0.op.rawValue < $1.op.rawValue }

    /// `table` packed for the assembler's hot path, in storage that lives as long as the
    /// process (every `X64Op` indexes it in range: the table has one form per case). Each
    /// form is placed at its op's index straight from the groups: this runs at every start,
    /// where building and sorting `table` first cost 0.35M instructions.
    static let packedTable: UnsafePointer<X64PackedForm> = {
        let storage = UnsafeMutablePointer<X64PackedForm>.allocate(capacity: X64Op.allCases.count)
        for group in groups {
            for form in group { (storage + Int(form.op.rawValue)).initialize(to: X64PackedForm(form)) }
        }
        return UnsafePointer(storage)
    }()
}

/// What the assembler reads of an `X64Form`, in 12 bytes: emitting reads one per
/// instruction, and the full forms (with their mnemonics) are four times larger, so the table
/// would not stay in the first-level cache.
struct X64PackedForm {
    private let featureBits: UInt32
    let encoding: X64Encoding
    let map: X64OpcodeMap
    let opcode: UInt8
    let prefix: UInt8
    /// The /digit, or 0xFF for none.
    private let digitBits: UInt8
    private let flags: UInt8

    private static let rexWFlag: UInt8 = 1, lockFlag: UInt8 = 2, conditionalFlag: UInt8 = 4, operandSize16Flag: UInt8 = 8
    private static let byteRegistersFlag: UInt8 = 16, regGPR8Flag: UInt8 = 32, rmGPR8Flag: UInt8 = 64

    init(_ form: X64Form) {
        precondition(form.feature.rawValue <= UInt64(UInt32.max), "feature bit beyond the packed form's 32")
        featureBits = UInt32(form.feature.rawValue)
        encoding = form.encoding
        map = form.map
        opcode = form.opcode
        prefix = form.prefix
        digitBits = form.digit ?? 0xFF
        var f: UInt8 = 0
        if form.rexW { f |= Self.rexWFlag }
        if form.lock { f |= Self.lockFlag }
        if form.conditional { f |= Self.conditionalFlag }
        if form.operandSize16 { f |= Self.operandSize16Flag }
        if form.byteRegisters { f |= Self.byteRegistersFlag }
        if form.regClass == .gpr8 { f |= Self.regGPR8Flag }
        if form.rmClass == .gpr8 { f |= Self.rmGPR8Flag }
        flags = f
    }

    @inline(__always) var feature: X64Features { X64Features(rawValue: UInt64(featureBits)) }
    @inline(__always) var digit: UInt8? { digitBits == 0xFF ? nil : digitBits }
    @inline(__always) var rexW: Bool { flags & Self.rexWFlag != 0 }
    @inline(__always) var lock: Bool { flags & Self.lockFlag != 0 }
    @inline(__always) var conditional: Bool { flags & Self.conditionalFlag != 0 }
    @inline(__always) var operandSize16: Bool { flags & Self.operandSize16Flag != 0 }
    @inline(__always) var byteRegisters: Bool { flags & Self.byteRegistersFlag != 0 }
    /// The ModRM.reg / opcode register field is a byte register.
    @inline(__always) var regIsGPR8: Bool { flags & Self.regGPR8Flag != 0 }
    /// The r/m field is a byte register.
    @inline(__always) var rmIsGPR8: Bool { flags & Self.rmGPR8Flag != 0 }
    @inline(__always) var isVEX: Bool { encoding.rawValue >= X64Encoding.vexRVM.rawValue }
}
