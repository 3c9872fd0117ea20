import KilnIR

// Vector operations without a single SSE equivalent that a short SSE sequence computes
// exactly. These are the helper calls that profiles of lua, sqlite3 and python showed hot
// (glibc's string functions: TBL, XTN/SHRN, UMINP/UMAXP, CMHS, BSL). xmm0 and xmm1 are the
// scratch registers; the result register is fresh, so operands are never overwritten.
extension X64Lowerer {
    /// Lowers `inst` if a composite sequence exists for it on this host; false otherwise.
    mutating func lowerCompositeVector(_ i: Int, _ inst: IRInst) -> Bool {
        let element = IRElement(rawValue: inst.aux)
        let k = element.sizeLog2
        let sse41 = options.features.contains(.sse41)
        let x0: UInt8 = 0, x1: UInt8 = 1
        switch inst.op {
        case .vbsl:
            // (a & b) | (~a & c) = ((b ^ c) & a) ^ c
            let a = use(inst.a), b = use(inst.b), c = use(inst.c), d = define(i)
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(b))
            asm.emit(.pxor, reg: d, rm: .reg(c))
            asm.emit(.pand, reg: d, rm: .reg(a))
            asm.emit(.pxor, reg: d, rm: .reg(c))
        case .vcmhs, .vcmge, .vcmhi:
            // a >= b  <=>  max(a, b) == a;  a > b (unsigned)  <=>  not (min(a, b) == a).
            guard !element.isFloat, k <= 2 else { return false }
            let unsigned = inst.op != .vcmge
            let extreme: X64Op? = inst.op == .vcmhi
                ? pick(k, .pminub, sse41 ? .pminuw : nil, sse41 ? .pminud : nil, nil)
                : unsigned ? pick(k, .pmaxub, sse41 ? .pmaxuw : nil, sse41 ? .pmaxud : nil, nil)
                : pick(k, sse41 ? .pmaxsb : nil, .pmaxsw, sse41 ? .pmaxsd : nil, nil)
            guard let extreme else { return false }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
            asm.emit(extreme, reg: d, rm: .reg(b))
            asm.emit(pick(k, .pcmpeqb, .pcmpeqw, .pcmpeqd, .pcmpeqd), reg: d, rm: .reg(a))
            if inst.op == .vcmhi {
                asm.emit(.pcmpeqd, reg: x0, rm: .reg(x0))
                asm.emit(.pxor, reg: d, rm: .reg(x0))
            }
        case .vcmtst:
            // (a & b) != 0
            guard !element.isFloat, k <= 2 || sse41 else { return false }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
            asm.emit(.pand, reg: d, rm: .reg(b))
            asm.emit(.pxor, reg: x0, rm: .reg(x0))
            asm.emit(pick(k, .pcmpeqb, .pcmpeqw, .pcmpeqd, .pcmpeqq), reg: d, rm: .reg(x0))
            asm.emit(.pcmpeqd, reg: x0, rm: .reg(x0))
            asm.emit(.pxor, reg: d, rm: .reg(x0))
        case .vxtn:
            // The low half of each lane into the low 64 bits; the upper 64 bits cleared.
            guard !element.isFloat, !element.isLowHalf, k >= 1 else { return false }
            let a = use(inst.a), d = define(i)
            switch k {
            case 1:
                asm.emit(.pcmpeqw, reg: x0, rm: .reg(x0))
                asm.emit(.psrlwi, rm: .reg(x0), imm: 8)
                asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
                asm.emit(.pand, reg: d, rm: .reg(x0))
                asm.emit(.pxor, reg: x0, rm: .reg(x0))
                asm.emit(.packuswb, reg: d, rm: .reg(x0))
            case 2:
                asm.emit(.pshuflw, reg: d, rm: .reg(a), imm: 0b10_00_10_00)
                asm.emit(.pshufhw, reg: d, rm: .reg(d), imm: 0b10_00_10_00)
                asm.emit(.pshufd, reg: d, rm: .reg(d), imm: 0b00_00_10_00)
                asm.emit(.movq_x_xm, reg: d, rm: .reg(d))
            default:
                asm.emit(.pshufd, reg: d, rm: .reg(a), imm: 0b00_00_10_00)
                asm.emit(.movq_x_xm, reg: d, rm: .reg(d))
            }
        case .vaddp, .vumaxp, .vuminp:
            return lowerPairwise(i, inst, element)
        case .vtblStep:
            // Indices t = c - imm; lanes with t <= 15 take b[t] (PSHUFB), the others keep a.
            guard options.features.contains(.ssse3), inst.imm < 256 else { return false }
            let a = use(inst.a), b = use(inst.b), c = use(inst.c), d = define(i)
            asm.emit(.movdqa_x_xm, reg: x1, rm: .reg(c))
            if inst.imm != 0 {
                splatByte(x0, UInt8(inst.imm))
                asm.emit(.psubb, reg: x1, rm: .reg(x0))
            }
            splatByte(x0, 15)
            asm.emit(.pminub, reg: x0, rm: .reg(x1))
            asm.emit(.pcmpeqb, reg: x0, rm: .reg(x1))
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(b))
            asm.emit(.pshufb, reg: d, rm: .reg(x1))
            asm.emit(.pand, reg: d, rm: .reg(x0))
            asm.emit(.pandn, reg: x0, rm: .reg(a))
            asm.emit(.por, reg: d, rm: .reg(x0))
        default:
            return false
        }
        return true
    }

    /// ADDP / UMAXP / UMINP over the concatenation a:b. Bytes and halfwords: each pair sits
    /// in one double-width container, so the even element (masked) and the odd one (shifted
    /// down) combine element-wise (the upper element of each container stays zero, and an add
    /// carries nothing into it) and an unsigned pack, which cannot saturate, gathers the results. 64-bit ADDP adds the low and the high lanes of a:b.
    mutating func lowerPairwise(_ i: Int, _ inst: IRInst, _ element: IRElement) -> Bool {
        let x0: UInt8 = 0, x1: UInt8 = 1
        let sse41 = options.features.contains(.sse41)
        let k = element.sizeLog2
        guard !element.isFloat else { return false }
        if k == 3 {
            guard inst.op == .vaddp, !element.isLowHalf else { return false }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
            asm.emit(.punpcklqdq, reg: d, rm: .reg(b))
            asm.emit(.movdqa_x_xm, reg: x1, rm: .reg(a))
            asm.emit(.punpckhqdq, reg: x1, rm: .reg(b))
            asm.emit(.paddq, reg: d, rm: .reg(x1))
            return true
        }
        guard k <= 1, k == 0 || sse41 else { return false }
        let combine: X64Op
        switch inst.op {
        case .vaddp: combine = k == 0 ? .paddb : .paddw
        case .vumaxp: combine = k == 0 ? .pmaxub : .pmaxuw
        default: combine = k == 0 ? .pminub : .pminuw
        }
        let shift: X64Op = k == 0 ? .psrlwi : .psrldi
        let ones: X64Op = k == 0 ? .pcmpeqw : .pcmpeqd
        let pack: X64Op = k == 0 ? .packuswb : .packusdw
        let bits = Int64(element.bits)
        let a = use(inst.a), b = use(inst.b), d = define(i)
        // d = combine(x & mask, x >> bits) for x = a (and b), mask in xmm0.
        asm.emit(ones, reg: x0, rm: .reg(x0))
        asm.emit(shift, rm: .reg(x0), imm: bits)
        asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
        if element.isLowHalf { asm.emit(.punpcklqdq, reg: d, rm: .reg(b)) }
        asm.emit(.movdqa_x_xm, reg: x1, rm: .reg(d))
        asm.emit(shift, rm: .reg(x1), imm: bits)
        asm.emit(.pand, reg: d, rm: .reg(x0))
        asm.emit(combine, reg: d, rm: .reg(x1))
        if element.isLowHalf {
            asm.emit(.pxor, reg: x0, rm: .reg(x0))
        } else {
            asm.emit(.movdqa_x_xm, reg: x1, rm: .reg(b))
            asm.emit(shift, rm: .reg(x1), imm: bits)
            asm.emit(.pand, reg: x0, rm: .reg(b))
            asm.emit(combine, reg: x0, rm: .reg(x1))
        }
        asm.emit(pack, reg: d, rm: .reg(x0))
        return true
    }

    /// Every byte of xmm `reg` = `byte` (through eax).
    mutating func splatByte(_ reg: UInt8, _ byte: UInt8) {
        asm.emit(.mov32oi, reg: GPR.rax.number, imm: Int64(UInt32(byte) &* 0x0101_0101))
        asm.emit(.movd_x_r32, reg: reg, rm: .reg(GPR.rax.number))
        asm.emit(.pshufd, reg: reg, rm: .reg(reg), imm: 0)
    }
}
