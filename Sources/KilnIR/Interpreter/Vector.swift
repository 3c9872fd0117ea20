/// FPSR.QC, the cumulative saturation flag.
let fpsrSaturation: UInt32 = 1 << 27

/// Carry-less product of two values of up to 32 bits.
func carrylessMultiply(_ x: UInt64, _ y: UInt64) -> UInt64 {
    var r: UInt64 = 0
    for bit in 0..<32 where (y >> UInt64(bit)) & 1 == 1 { r ^= x << UInt64(bit) }
    return r
}

extension IRInterpreter {
    @usableFromInline
    mutating func executeVector(_ inst: IRInst, _ insts: [IRInst], state: GuestCPUState) -> V128 {
        let e = IRElement(rawValue: inst.aux)
        let bits = e.bits, lanes = e.lanes
        let a = values[Int(inst.a.index)]
        let b = inst.b.isNone ? V128.zero : values[Int(inst.b.index)]
        let c = inst.c.isNone ? V128.zero : values[Int(inst.c.index)]
        let mask: UInt64 = bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
        let w = UInt64(bits)
        let smax = Int64(bitPattern: mask >> 1), smin = -smax - 1
        var saturated = false

        func map(_ f: (UInt64, UInt64, UInt64) -> UInt64) -> V128 {
            var r = V128.zero
            for i in 0..<lanes { r.setLane(i, bits: bits, f(a.lane(i, bits: bits), b.lane(i, bits: bits), c.lane(i, bits: bits)) & mask) }
            return r
        }
        func s(_ x: UInt64) -> Int64 { signExtend(x, bits: w) }
        func clampSigned(_ x: Int64) -> UInt64 {
            if x > smax { saturated = true; return UInt64(bitPattern: smax) }
            if x < smin { saturated = true; return UInt64(bitPattern: smin) }
            return UInt64(bitPattern: x)
        }
        func clamp128(_ x: Int128) -> UInt64 {
            if x > Int128(smax) { saturated = true; return UInt64(bitPattern: smax) }
            if x < Int128(smin) { saturated = true; return UInt64(bitPattern: smin) }
            return UInt64(truncatingIfNeeded: x)
        }
        func pairwise(_ f: (UInt64, UInt64) -> UInt64) -> V128 {
            var r = V128.zero
            let half = lanes / 2
            for i in 0..<lanes {
                let src = i < half ? a : b, j = (i % half) * 2
                r.setLane(i, bits: bits, f(src.lane(j, bits: bits), src.lane(j + 1, bits: bits)) & mask)
            }
            return r
        }
        func reduce(_ f: (UInt64, UInt64) -> UInt64) -> V128 {
            let count = inst.imm == 0 ? lanes : Int(inst.imm)
            var acc = a.lane(0, bits: bits)
            for i in 1..<max(count, 1) { acc = f(acc, a.lane(i, bits: bits)) & mask }
            return V128(lo: acc)
        }

        let result: V128
        switch inst.op {
        case .vpack: result = V128(lo: a.lo, hi: b.lo)
        case .vextract: result = V128(lo: a.lane(Int(inst.imm), bits: bits))
        case .vinsert:
            var r = a
            r.setLane(Int(inst.imm), bits: bits, b.lo & mask)
            result = r
        case .vsplat:
            var r = V128.zero
            for i in 0..<lanes { r.setLane(i, bits: bits, a.lo & mask) }
            result = r
        case .vclearHigh: result = V128(lo: a.lo)
        case .vadd: result = map { x, y, _ in x &+ y }
        case .vsub: result = map { x, y, _ in x &- y }
        case .vmul: result = map { x, y, _ in x &* y }
        case .vand: result = V128(lo: a.lo & b.lo, hi: a.hi & b.hi)
        case .vor: result = V128(lo: a.lo | b.lo, hi: a.hi | b.hi)
        case .vxor: result = V128(lo: a.lo ^ b.lo, hi: a.hi ^ b.hi)
        case .vbic: result = V128(lo: a.lo & ~b.lo, hi: a.hi & ~b.hi)
        case .vorn: result = V128(lo: a.lo | ~b.lo, hi: a.hi | ~b.hi)
        case .vbsl: result = V128(lo: (a.lo & b.lo) | (~a.lo & c.lo), hi: (a.hi & b.hi) | (~a.hi & c.hi))
        case .vsmax: result = map { x, y, _ in s(x) >= s(y) ? x : y }
        case .vsmin: result = map { x, y, _ in s(x) <= s(y) ? x : y }
        case .vumax: result = map { x, y, _ in max(x, y) }
        case .vumin: result = map { x, y, _ in min(x, y) }
        case .vsabd: result = map { x, y, _ in s(x) >= s(y) ? x &- y : y &- x }
        case .vuabd: result = map { x, y, _ in x >= y ? x - y : y - x }
        case .vuqadd: result = map { x, y, _ in
            let (r, o) = x.addingReportingOverflow(y)
            if o || r > mask { saturated = true; return mask }
            return r
        }
        case .vuqsub: result = map { x, y, _ in
            if y > x { saturated = true; return 0 }
            return x - y
        }
        case .vsqadd: result = map { x, y, _ in
            let (r, o) = s(x).addingReportingOverflow(s(y))
            if o { saturated = true; return UInt64(bitPattern: s(x) < 0 ? smin : smax) }
            return clampSigned(r)
        }
        case .vsqsub: result = map { x, y, _ in
            let (r, o) = s(x).subtractingReportingOverflow(s(y))
            if o { saturated = true; return UInt64(bitPattern: s(x) < 0 ? smin : smax) }
            return clampSigned(r)
        }
        case .vcmeq: result = map { x, y, _ in x == y ? ~0 : 0 }
        case .vcmgt: result = map { x, y, _ in s(x) > s(y) ? ~0 : 0 }
        case .vcmge: result = map { x, y, _ in s(x) >= s(y) ? ~0 : 0 }
        case .vcmhi: result = map { x, y, _ in x > y ? ~0 : 0 }
        case .vcmhs: result = map { x, y, _ in x >= y ? ~0 : 0 }
        case .vcmtst: result = map { x, y, _ in x & y != 0 ? ~0 : 0 }
        case .vneg: result = map { x, _, _ in 0 &- x }
        case .vabs: result = map { x, _, _ in s(x) < 0 ? 0 &- x : x }
        case .vnot: result = V128(lo: ~a.lo, hi: ~a.hi)
        case .vcnt: result = map { x, _, _ in UInt64(x.nonzeroBitCount) }
        case .vclz: result = map { x, _, _ in UInt64(x.leadingZeroBitCount - (64 - bits)) }
        case .vcls: result = map { x, _, _ in
            let y = x << (64 - w)
            let t = y >> 63 == 1 ? ~y : y
            return UInt64(min(t.leadingZeroBitCount, bits) - 1)
        }
        case .vrbit: result = map { x, _, _ in reverseBits(x) >> (64 - w) }
        case .vrev:
            let per = Int(inst.imm) * 8 / bits
            var r = V128.zero
            for i in 0..<lanes {
                let group = i / per * per
                r.setLane(i, bits: bits, a.lane(group + per - 1 - i % per, bits: bits))
            }
            result = r
        case .vshlImm: result = map { x, _, _ in inst.imm >= w ? 0 : x << inst.imm }
        case .vushrImm: result = map { x, _, _ in inst.imm >= w ? 0 : x >> inst.imm }
        case .vsshrImm: result = map { x, _, _ in UInt64(bitPattern: s(x) >> Int64(min(inst.imm, w - 1))) }
        case .vushl, .vsshl:
            let signed = inst.op == .vsshl
            result = map { x, y, _ in
                let shift = Int64(Int8(truncatingIfNeeded: y))
                if shift >= 0 { return shift >= Int64(w) ? 0 : x << UInt64(shift) }
                let r = -shift
                if signed { return UInt64(bitPattern: s(x) >> Int64(min(r, Int64(w) - 1))) }
                return r >= Int64(w) ? 0 : x >> UInt64(r)
            }
        case .vxtn, .vsqxtn, .vuqxtn, .vsqxtun:
            let nb = bits / 2
            let nmask: UInt64 = (1 << UInt64(nb)) - 1
            let nsmax = Int64(nmask >> 1), nsmin = -nsmax - 1
            var r = V128.zero
            for i in 0..<lanes {
                let x = a.lane(i, bits: bits)
                var y: UInt64
                switch inst.op {
                case .vxtn: y = x & nmask
                case .vuqxtn: y = x > nmask ? nmask : x
                case .vsqxtn:
                    let v = s(x)
                    y = UInt64(bitPattern: v > nsmax ? nsmax : (v < nsmin ? nsmin : v)) & nmask
                default:
                    let v = s(x)
                    y = v < 0 ? 0 : (UInt64(v) > nmask ? nmask : UInt64(v))
                }
                if inst.op != .vxtn && (inst.op == .vsqxtn ? signExtend(y, bits: UInt64(nb)) != s(x) : y != x) { saturated = true }
                r.setLane(i, bits: nb, y)
            }
            result = r
        case .vuxtl, .vsxtl:
            var r = V128.zero
            let half = lanes / 2, base = Int(inst.imm) * half
            for i in 0..<half {
                let x = a.lane(base + i, bits: bits)
                let y = inst.op == .vsxtl ? UInt64(bitPattern: s(x)) : x
                r.setLane(i, bits: bits * 2, bits == 32 ? y : y & ((1 << UInt64(bits * 2)) - 1))
            }
            result = r
        case .vumull, .vsmull:
            var r = V128.zero
            let half = lanes / 2, base = Int(inst.imm) * half
            for i in 0..<half {
                let x = a.lane(base + i, bits: bits), y = b.lane(base + i, bits: bits)
                let p = inst.op == .vsmull ? UInt64(bitPattern: s(x) &* s(y)) : x &* y
                r.setLane(i, bits: bits * 2, bits == 32 ? p : p & ((1 << UInt64(bits * 2)) - 1))
            }
            result = r
        case .vaddp: result = pairwise { x, y in x &+ y }
        case .vumaxp: result = pairwise { x, y in max(x, y) }
        case .vuminp: result = pairwise { x, y in min(x, y) }
        case .vsmaxp: result = pairwise { x, y in s(x) >= s(y) ? x : y }
        case .vsminp: result = pairwise { x, y in s(x) <= s(y) ? x : y }
        case .vaddv: result = reduce { x, y in x &+ y }
        case .vumaxv: result = reduce { x, y in max(x, y) }
        case .vuminv: result = reduce { x, y in min(x, y) }
        case .vsmaxv: result = reduce { x, y in s(x) >= s(y) ? x : y }
        case .vsminv: result = reduce { x, y in s(x) <= s(y) ? x : y }
        case .vzip1, .vzip2:
            var r = V128.zero
            let base = inst.op == .vzip1 ? 0 : lanes / 2
            for i in 0..<(lanes / 2) {
                r.setLane(2 * i, bits: bits, a.lane(base + i, bits: bits))
                r.setLane(2 * i + 1, bits: bits, b.lane(base + i, bits: bits))
            }
            result = r
        case .vuzp1, .vuzp2:
            var r = V128.zero
            let odd = inst.op == .vuzp2 ? 1 : 0
            for i in 0..<lanes {
                let j = 2 * i + odd
                r.setLane(i, bits: bits, j < lanes ? a.lane(j, bits: bits) : b.lane(j - lanes, bits: bits))
            }
            result = r
        case .vtrn1, .vtrn2:
            var r = V128.zero
            let odd = inst.op == .vtrn2 ? 1 : 0
            for p in 0..<(lanes / 2) {
                r.setLane(2 * p, bits: bits, a.lane(2 * p + odd, bits: bits))
                r.setLane(2 * p + 1, bits: bits, b.lane(2 * p + odd, bits: bits))
            }
            result = r
        case .vext:
            var r = V128.zero
            let start = Int(inst.imm)
            for i in 0..<16 {
                let j = start + i
                r.setLane(i, bits: 8, j < 16 ? a.lane(j, bits: 8) : b.lane(j - 16, bits: 8))
            }
            result = r
        case .vtblStep:
            var r = a
            let first = Int(inst.imm)
            for i in 0..<16 {
                let index = Int(c.lane(i, bits: 8))
                if index >= first && index < first + 16 { r.setLane(i, bits: 8, b.lane(index - first, bits: 8)) }
            }
            result = r
        case .vshadd, .vuhadd, .vsrhadd, .vurhadd, .vshsub, .vuhsub:
            let signed = inst.op == .vshadd || inst.op == .vsrhadd || inst.op == .vshsub
            let round: Int128 = inst.op == .vsrhadd || inst.op == .vurhadd ? 1 : 0
            let subtract = inst.op == .vshsub || inst.op == .vuhsub
            result = map { x, y, _ in
                let p = signed ? Int128(s(x)) : Int128(x), q = signed ? Int128(s(y)) : Int128(y)
                return UInt64(truncatingIfNeeded: ((subtract ? p - q : p + q) + round) >> 1)
            }
        case .vsrshl, .vurshl, .vsqshl, .vuqshl, .vsqrshl, .vuqrshl, .vsqshlu:
            let signed = inst.op == .vsrshl || inst.op == .vsqshl || inst.op == .vsqrshl || inst.op == .vsqshlu
            let rounding = inst.op == .vsrshl || inst.op == .vurshl || inst.op == .vsqrshl || inst.op == .vuqrshl
            let saturating = !(inst.op == .vsrshl || inst.op == .vurshl)
            let unsignedResult = inst.op == .vuqshl || inst.op == .vuqrshl || inst.op == .vsqshlu
            result = map { x, y, _ in
                let value = signed ? Int128(s(x)) : Int128(x)
                let shift = Int(Int8(truncatingIfNeeded: y))
                var r: Int128
                if shift >= 0 {
                    // Any non-zero value shifted by the element width or more is out of range.
                    r = value == 0 ? 0 : (shift >= bits ? (value < 0 ? -(Int128(1) << 100) : Int128(1) << 100) : value << shift)
                } else {
                    let k = min(-shift, 126)
                    r = (value + (rounding ? Int128(1) << (k - 1) : 0)) >> k
                }
                guard saturating else { return UInt64(truncatingIfNeeded: r) }
                let (low, high): (Int128, Int128) = unsignedResult ? (0, Int128(mask)) : (Int128(smin), Int128(smax))
                if r < low { saturated = true; return UInt64(truncatingIfNeeded: low) }
                if r > high { saturated = true; return UInt64(truncatingIfNeeded: high) }
                return UInt64(truncatingIfNeeded: r)
            }
        case .vsrshrImm, .vurshrImm:
            let k = Int(inst.imm)
            result = map { x, _, _ in
                let value = inst.op == .vsrshrImm ? Int128(s(x)) : Int128(x)
                return UInt64(truncatingIfNeeded: (value + (Int128(1) << (k - 1))) >> k)
            }
        case .vpmul:
            result = map { x, y, _ in carrylessMultiply(x, y) }
        case .vpmull:
            var r = V128.zero
            let half = lanes / 2, base = Int(inst.imm) * half
            for i in 0..<half {
                let x = a.lane(base + i, bits: bits), y = b.lane(base + i, bits: bits)
                if bits == 64 {
                    var lo: UInt64 = 0, hi: UInt64 = 0
                    for bit in 0..<64 where (y >> UInt64(bit)) & 1 == 1 {
                        lo ^= x << UInt64(bit)
                        if bit > 0 { hi ^= x >> UInt64(64 - bit) }
                    }
                    r = V128(lo: lo, hi: hi)
                } else {
                    r.setLane(i, bits: bits * 2, carrylessMultiply(x, y))
                }
            }
            result = r
        case .vsqdmulh, .vsqrdmulh:
            let round: Int128 = inst.op == .vsqrdmulh ? Int128(1) << (bits - 1) : 0
            result = map { x, y, _ in
                let r = (2 * Int128(s(x)) * Int128(s(y)) + round) >> bits
                return clamp128(r)
            }
        case .vsqdmull:
            var r = V128.zero
            let half = lanes / 2, base = Int(inst.imm) * half
            let wideMax = Int128(1) << (2 * bits - 1) - 1
            for i in 0..<half {
                var p = 2 * Int128(s(a.lane(base + i, bits: bits))) * Int128(s(b.lane(base + i, bits: bits)))
                if p > wideMax { p = wideMax; saturated = true }
                r.setLane(i, bits: bits * 2, UInt64(truncatingIfNeeded: p))
            }
            result = r
        case .vsuqadd:
            result = map { x, y, _ in clamp128(Int128(s(x)) + Int128(y)) }
        case .vusqadd:
            result = map { x, y, _ in
                let r = Int128(x) + Int128(s(y))
                if r < 0 { saturated = true; return 0 }
                if r > Int128(mask) { saturated = true; return mask }
                return UInt64(r)
            }
        case .vaese, .vaesd, .vaesmc, .vaesimc, .vsha1c, .vsha1p, .vsha1m, .vsha1su0, .vsha1su1,
             .vsha256h, .vsha256h2, .vsha256su0, .vsha256su1:
            result = Crypto.execute(inst.op, a, b, c)
        case .vurecpe, .vursqrte:
            let estimator = A64FloatContext(fpcr: 0, host: fp)
            result = map { x, _, _ in
                if inst.op == .vurecpe {
                    return x >> 31 == 0 ? 0xffff_ffff : UInt64(estimator.recipEstimate(Int(x >> 23)) & 0x1ff) << 23
                }
                return x >> 30 == 0 ? 0xffff_ffff : UInt64(estimator.recipSqrtEstimate(Int(x >> 23)) & 0x1ff) << 23
            }
        case .vsdot, .vudot:
            let signed = inst.op == .vsdot
            var r = a
            for i in 0..<lanes {
                var sum = Int64(bitPattern: r.lane(i, bits: 32))
                for k in 0..<4 {
                    let x = b.lane(4 * i + k, bits: 8), y = c.lane(4 * i + k, bits: 8)
                    sum &+= signed ? Int64(Int8(truncatingIfNeeded: x)) * Int64(Int8(truncatingIfNeeded: y)) : Int64(x * y)
                }
                r.setLane(i, bits: 32, UInt64(bitPattern: sum) & 0xffff_ffff)
            }
            result = r
        case .vsqrdmlah, .vsqrdmlsh:
            let subtract = inst.op == .vsqrdmlsh
            result = map { acc, x, y in
                let product = 2 * Int128(s(x)) * Int128(s(y))
                let accumulated = (Int128(s(acc)) << bits) + (subtract ? -product : product) + (Int128(1) << (bits - 1))
                return clamp128(accumulated >> bits)
            }
        case .vsqabs: result = map { x, _, _ in clamp128(abs(Int128(s(x)))) }
        case .vsqneg: result = map { x, _, _ in clamp128(-Int128(s(x))) }
        default:
            result = executeVectorFloat(inst, a, b, c, state: state)
        }
        if saturated { state.fpsr |= fpsrSaturation }
        return e.isLowHalf ? V128(lo: result.lo) : result
    }

    mutating func executeVectorFloat(_ inst: IRInst, _ a: V128, _ b: V128, _ c: V128, state: GuestCPUState) -> V128 {
        let e = IRElement(rawValue: inst.aux & 0xff)
        var ctx = A64FloatContext(fpcr: state.fpcr, host: fp)
        var r = V128.zero
        let bits = e.bits, lanes = e.lanes
        let rounding = IRRounding(rawValue: inst.aux >> 8 & 15) ?? .current
        for i in 0..<lanes {
            let x = a.lane(i, bits: bits), y = b.lane(i, bits: bits), z = c.lane(i, bits: bits)
            var out: UInt64
            func scalar<F: ArmFloat>(_ t: F.Type) -> UInt64 {
                let fx = F(bits64: x), fy = F(bits64: y), fz = F(bits64: z)
                switch inst.op {
                case .vfadd: return ctx.arithmetic(.fadd, fx, fy, fz).bits64
                case .vfsub: return ctx.arithmetic(.fsub, fx, fy, fz).bits64
                case .vfmul: return ctx.arithmetic(.fmul, fx, fy, fz).bits64
                case .vfdiv: return ctx.arithmetic(.fdiv, fx, fy, fz).bits64
                case .vfmax: return ctx.arithmetic(.fmax, fx, fy, fz).bits64
                case .vfmin: return ctx.arithmetic(.fmin, fx, fy, fz).bits64
                case .vfmaxnm: return ctx.arithmetic(.fmaxnm, fx, fy, fz).bits64
                case .vfminnm: return ctx.arithmetic(.fminnm, fx, fy, fz).bits64
                case .vfmadd: return ctx.arithmetic(.fmadd, fx, fy, fz).bits64
                case .vfneg: return (-fx).bits64
                case .vfabs: return fx.magnitude.bits64
                case .vfsqrt: return ctx.arithmetic(.fsqrt, fx, fy, fz).bits64
                case .vfcmeq, .vfcmge, .vfcmgt:
                    let n = ctx.compare(fx, fy, signaling: inst.op != .vfcmeq)
                    let holds: Bool
                    switch inst.op {
                    case .vfcmeq: holds = n == 0x6000_0000
                    case .vfcmge: holds = n == 0x6000_0000 || n == 0x2000_0000
                    default: holds = n == 0x2000_0000
                    }
                    return holds ? ~0 : 0
                case .vfloatToInt, .vfloatToUInt:
                    let v = ctx.input(fx)
                    return ctx.toInteger(Double(v), isNaN: v.isNaN, fractionBits: Int(inst.imm), rounding: rounding, unsigned: inst.op == .vfloatToUInt, resultBits: bits)
                case .vintToFloat, .vuintToFloat:
                    let signed = inst.op == .vintToFloat
                    let wide = UInt64(bits)
                    let (res, f) = fp.run(Double.self, Double(bits64: x), 0, 0, mode: ctx.roundingMode) { d, _, _ in
                        let raw = d.bitPattern
                        if bits == 32 {
                            let v = signed ? Float(signExtend(raw, bits: wide)) : unsignedToFloat(raw)
                            return Double(bits64: UInt64(v.bitPattern))
                        }
                        return signed ? Double(signExtend(raw, bits: wide)) : unsignedToDouble(raw)
                    }
                    let scale = F(sign: .plus, exponent: -Int(inst.imm), significand: 1)
                    return ctx.output(F(bits64: res.bits64) * scale, f).bits64
                default:
                    return roundIntegral(fx, rounding, inst.aux & 0x1000 != 0, &ctx).bits64
                }
            }
            out = bits == 32 ? scalar(Float.self) : scalar(Double.self)
            r.setLane(i, bits: bits, out & (bits == 64 ? ~0 : 0xffff_ffff))
        }
        state.fpsr |= ctx.flags
        return r
    }
}
