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
    /// Every form, indexed by `X64Op.rawValue`.
    public static let table: [X64Form] = {
        let lines: [[X64Form]] = [integerALU, shifts, multiplyDivide, bitOperations, moves, conditional, control, atomics, sseMoves, sseScalar, sseVectorFloat, sseVectorInteger]
        return lines.joined().sorted { $0.op.rawValue < $1.op.rawValue }
    }()

    /// `table` in storage that lives as long as the process, for the assembler's hot path
    /// (every `X64Op` indexes it in range: the table has one form per case).
    static let tableStorage: UnsafePointer<X64Form> = {
        let storage = UnsafeMutablePointer<X64Form>.allocate(capacity: table.count)
        storage.initialize(from: table, count: table.count)
        return UnsafePointer(storage)
    }()
}
