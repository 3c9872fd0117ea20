import KilnIR

// Vector operations with an exact SSE equivalent; everything else takes the helper.
extension X64Lowerer {
    mutating func lowerVector(_ i: Int, _ inst: IRInst) {
        let element = IRElement(rawValue: inst.aux)
        let sse41 = options.features.contains(.sse41)
        switch inst.op {
        case .vpack:
            if packedFloat[i] >= 0 {
                let x = use(IRValue(Int(packedFloat[i]))), d = define(i)
                if insts[Int(packedFloat[i])].type == .f64 {
                    asm.emit(.movq_x_xm, reg: d, rm: .reg(x))
                } else {
                    asm.emit(.movd_r32_x, reg: x, rm: .reg(GPR.rax.number))
                    asm.emit(.movd_x_r32, reg: d, rm: .reg(GPR.rax.number))
                }
                return
            }
            if constant(inst.b) == 0 {
                // MOVQ clears the upper half.
                let a = use(inst.a), d = define(i)
                asm.emit(.movq_x_r64, reg: d, rm: .reg(a))
                return
            }
            guard sse41 else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.movq_x_r64, reg: d, rm: .reg(a))
            asm.emit(.pinsrq, reg: d, rm: .reg(b), imm: 1)
        case .vextract:
            guard sse41, element.sizeLog2 <= 3, inst.imm < UInt64(element.lanes) else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            let op = pick(element.sizeLog2, X64Op.pextrb, .pextrw, .pextrd, .pextrq)
            if Self.isVectorClass(inst.type) {
                // A float lane: through rax into the low bits of a vector register.
                asm.emit(op, reg: a, rm: .reg(GPR.rax.number), imm: Int64(inst.imm))
                asm.emit(element.sizeLog2 == 3 ? .movq_x_r64 : .movd_x_r32, reg: d, rm: .reg(GPR.rax.number))
            } else {
                asm.emit(op, reg: a, rm: .reg(d), imm: Int64(inst.imm))
            }
        case .vinsert:
            guard sse41, !Self.isVectorClass(type(inst.b)), inst.imm < UInt64(element.lanes) else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
            asm.emit(pick(element.sizeLog2, .pinsrb, .pinsrw, .pinsrd, .pinsrq), reg: d, rm: .reg(b), imm: Int64(inst.imm))
        case .vsplat:
            guard !Self.isVectorClass(type(inst.a)) else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            switch element.sizeLog2 {
            case 3:
                asm.emit(.movq_x_r64, reg: d, rm: .reg(a))
                asm.emit(.punpcklqdq, reg: d, rm: .reg(d))
            case 2:
                asm.emit(.movd_x_r32, reg: d, rm: .reg(a))
                asm.emit(.pshufd, reg: d, rm: .reg(d), imm: 0)
            default:
                asm.emit(.movd_x_r32, reg: d, rm: .reg(a))
                if element.sizeLog2 == 0 { asm.emit(.punpcklbw, reg: d, rm: .reg(d)) }
                asm.emit(.pshuflw, reg: d, rm: .reg(d), imm: 0)
                asm.emit(.punpcklqdq, reg: d, rm: .reg(d))
            }
        case .vneg:
            guard !element.isFloat else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            asm.emit(.pxor, reg: d, rm: .reg(d))
            asm.emit(pick(element.sizeLog2, X64Op.psubb, .psubw, .psubd, .psubq), reg: d, rm: .reg(a))
        case .vnot, .vorn:
            // All-ones in xmm0, then NOT through XOR.
            let a = use(inst.a)
            let b: UInt8? = inst.op == .vorn ? use(inst.b) : nil
            let d = define(i)
            asm.emit(.pcmpeqd, reg: 0, rm: .reg(0))
            if let b {
                asm.emit(.pxor, reg: 0, rm: .reg(b))
                asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
                asm.emit(.por, reg: d, rm: .reg(0))
            } else {
                asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
                asm.emit(.pxor, reg: d, rm: .reg(0))
            }
        case .vabs:
            guard !element.isFloat, element.sizeLog2 <= 2, options.features.contains(.ssse3) else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            asm.emit(pick(element.sizeLog2, X64Op.pabsb, .pabsw, .pabsd, .pabsd), reg: d, rm: .reg(a))
        case .vshlImm, .vushrImm, .vsshrImm:
            let form: X64Op?
            switch inst.op {
            case .vshlImm: form = pick(element.sizeLog2, nil, .psllwi, .pslldi, .psllqi)
            case .vushrImm: form = pick(element.sizeLog2, nil, .psrlwi, .psrldi, .psrlqi)
            default: form = pick(element.sizeLog2, nil, .psrawi, .psradi, nil)
            }
            guard !element.isFloat, let op = form else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i, reusing: inst.a)
            if d != a { asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a)) }
            asm.emit(op, rm: .reg(d), imm: Int64(min(inst.imm, 255)))
        case .vclearHigh:
            let a = use(inst.a), d = define(i)
            asm.emit(.movq_x_xm, reg: d, rm: .reg(a))
        case .vuxtl, .vsxtl:
            // UXTL/SXTL(2), USHLL/SSHLL #0: PMOVZX/PMOVSX of the low half, or of the high half
            // moved down first (PSHUFD 0xEE copies dwords 2 and 3 to 0 and 1).
            guard sse41, !element.isFloat, !element.isLowHalf, element.sizeLog2 <= 2, inst.imm <= 1 else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            let op = inst.op == .vuxtl ? pick(element.sizeLog2, X64Op.pmovzxbw, .pmovzxwd, .pmovzxdq, .pmovzxdq)
                : pick(element.sizeLog2, X64Op.pmovsxbw, .pmovsxwd, .pmovsxdq, .pmovsxdq)
            if inst.imm == 1 {
                asm.emit(.pshufd, reg: 0, rm: .reg(a), imm: 0xEE)
                asm.emit(op, reg: d, rm: .reg(0))
            } else {
                asm.emit(op, reg: d, rm: .reg(a))
            }
        case .vuzp1:
            // The even elements of a then of b. Bytes and halfwords: each element sign-extended
            // in place over its neighbour (shift left, arithmetic shift right), so the signed
            // saturating pack that follows keeps it exactly.
            guard !element.isLowHalf else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
            switch element.sizeLog2 {
            case 3: asm.emit(.punpcklqdq, reg: d, rm: .reg(b))
            case 2: asm.emit(.shufps, reg: d, rm: .reg(b), imm: 0x88)
            default:
                let (shiftLeft, shiftRight, pack) = element.sizeLog2 == 1 ? (X64Op.pslldi, X64Op.psradi, X64Op.packssdw)
                    : (X64Op.psllwi, X64Op.psrawi, X64Op.packsswb)
                let width = Int64(8 << element.sizeLog2)
                asm.emit(.movdqa_x_xm, reg: 0, rm: .reg(b))
                asm.emit(shiftLeft, rm: .reg(d), imm: width)
                asm.emit(shiftRight, rm: .reg(d), imm: width)
                asm.emit(shiftLeft, rm: .reg(0), imm: width)
                asm.emit(shiftRight, rm: .reg(0), imm: width)
                asm.emit(pack, reg: d, rm: .reg(0))
            }
        default:
            let isBitwise = inst.op == .vand || inst.op == .vor || inst.op == .vxor || inst.op == .vbic
            guard isBitwise || !element.isFloat, let op = sseForm(inst.op, element.sizeLog2) else {
                return lowerViaHelper(i)
            }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            if inst.op == .vbic {
                // PANDN computes ~dest & src: a & ~b = pandn(b, a).
                asm.emit(.movdqa_x_xm, reg: d, rm: .reg(b))
                asm.emit(op, reg: d, rm: .reg(a))
            } else {
                asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
                asm.emit(op, reg: d, rm: .reg(b))
            }
        }
    }

    /// The SSE form computing `op` lanewise on lanes of 2^`sizeLog2` bytes, if there is one.
    func sseForm(_ op: IROp, _ sizeLog2: Int) -> X64Op? {
        let sse41 = options.features.contains(.sse41)
        let k = sizeLog2 & 3
        switch op {
        case .vadd: return pick(k, .paddb, .paddw, .paddd, .paddq)
        case .vsub: return pick(k, .psubb, .psubw, .psubd, .psubq)
        case .vcmeq: return pick(k, .pcmpeqb, .pcmpeqw, .pcmpeqd, sse41 ? .pcmpeqq : nil)
        case .vcmgt: return pick(k, .pcmpgtb, .pcmpgtw, .pcmpgtd, options.features.contains(.sse42) ? .pcmpgtq : nil)
        case .vzip1: return pick(k, .punpcklbw, .punpcklwd, .punpckldq, .punpcklqdq)
        case .vzip2: return pick(k, .punpckhbw, .punpckhwd, .punpckhdq, .punpckhqdq)
        case .vand: return .pand
        case .vor: return .por
        case .vxor: return .pxor
        case .vbic: return .pandn
        case .vmul: return pick(k, nil, .pmullw, sse41 ? .pmulld : nil, nil)
        case .vsmax: return pick(k, sse41 ? .pmaxsb : nil, .pmaxsw, sse41 ? .pmaxsd : nil, nil)
        case .vsmin: return pick(k, sse41 ? .pminsb : nil, .pminsw, sse41 ? .pminsd : nil, nil)
        case .vumax: return pick(k, .pmaxub, sse41 ? .pmaxuw : nil, sse41 ? .pmaxud : nil, nil)
        case .vumin: return pick(k, .pminub, sse41 ? .pminuw : nil, sse41 ? .pminud : nil, nil)
        default: return nil
        }
    }
}

/// The element of four chosen by a size index 0...3 (bytes, halfwords, words, doublewords),
/// without building an array on the lowering path.
@inline(__always) func pick<T>(_ k: Int, _ a: T, _ b: T, _ c: T, _ d: T) -> T {
    switch k {
    case 0: return a
    case 1: return b
    case 2: return c
    default: return d
    }
}
