/// The AES and SHA instructions (FEAT_AES, FEAT_SHA1, FEAT_SHA256) as the A64 pseudocode
/// defines them, on 128-bit values.
enum Crypto {
    /// The AES S-box and its inverse, computed from the GF(2^8) inverse and affine map.
    static let sbox: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for x in 0..<256 {
            var inverse: UInt8 = 0
            if x != 0 { for y in 1..<256 where multiply(UInt8(x), UInt8(y)) == 1 { inverse = UInt8(y); break } }
            var s = inverse
            for shift in 1...4 { s ^= (inverse << UInt8(shift)) | (inverse >> UInt8(8 - shift)) }
            table[x] = s ^ 0x63
        }
        return table
    }()
    static let inverseSbox: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for (x, s) in sbox.enumerated() { table[Int(s)] = UInt8(x) }
        return table
    }()

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var x = a, y = b, r: UInt8 = 0
        while y != 0 {
            if y & 1 == 1 { r ^= x }
            x = (x << 1) ^ (x & 0x80 != 0 ? 0x1b : 0)
            y >>= 1
        }
        return r
    }

    static func bytes(_ v: V128) -> [UInt8] { (0..<16).map { UInt8(v.lane($0, bits: 8)) } }
    static func vector(_ b: [UInt8]) -> V128 {
        var v = V128.zero
        for i in 0..<16 { v.setLane(i, bits: 8, UInt64(b[i])) }
        return v
    }
    static func words(_ v: V128) -> [UInt32] { (0..<4).map { UInt32(v.lane($0, bits: 32)) } }
    static func vector(_ w: [UInt32]) -> V128 {
        var v = V128.zero
        for i in 0..<4 { v.setLane(i, bits: 32, UInt64(w[i])) }
        return v
    }
    static func rol(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
    static func ror(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    static func mixColumns(_ s: [UInt8], inverse: Bool) -> [UInt8] {
        let m: [UInt8] = inverse ? [14, 11, 13, 9] : [2, 3, 1, 1]
        var out = s
        for c in 0..<4 {
            for r in 0..<4 {
                var acc: UInt8 = 0
                for k in 0..<4 { acc ^= multiply(m[(k - r + 4) % 4], s[4 * c + k]) }
                out[4 * c + r] = acc
            }
        }
        return out
    }

    static func execute(_ op: IROp, _ a: V128, _ b: V128, _ c: V128) -> V128 {
        switch op {
        case .vaese, .vaesd:
            let state = bytes(V128(lo: a.lo ^ b.lo, hi: a.hi ^ b.hi))
            let shift: [Int] = op == .vaese ? [0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11]
                                            : [0, 13, 10, 7, 4, 1, 14, 11, 8, 5, 2, 15, 12, 9, 6, 3]
            let box = op == .vaese ? sbox : inverseSbox
            return vector(shift.map { box[Int(state[$0])] })
        case .vaesmc, .vaesimc:
            return vector(mixColumns(bytes(a), inverse: op == .vaesimc))
        case .vsha1c, .vsha1p, .vsha1m:
            var x = words(a), y = UInt32(truncatingIfNeeded: b.lo)
            let w = words(c)
            for e in 0..<4 {
                let t: UInt32
                switch op {
                case .vsha1c: t = ((x[2] ^ x[3]) & x[1]) ^ x[3]
                case .vsha1p: t = x[1] ^ x[2] ^ x[3]
                default: t = (x[1] & x[2]) | ((x[1] | x[2]) & x[3])
                }
                y = y &+ rol(x[0], 5) &+ t &+ w[e]
                x[1] = rol(x[1], 30)
                (y, x) = (x[3], [y, x[0], x[1], x[2]])
            }
            return vector(x)
        case .vsha1su0:
            let r = V128(lo: a.hi, hi: b.lo)
            return V128(lo: r.lo ^ a.lo ^ c.lo, hi: r.hi ^ a.hi ^ c.hi)
        case .vsha1su1:
            let t = words(V128(lo: a.lo ^ (b.lo >> 32 | b.hi << 32), hi: a.hi ^ (b.hi >> 32)))
            return vector([rol(t[0], 1), rol(t[1], 1), rol(t[2], 1), rol(t[3], 1) ^ rol(t[0], 2)])
        case .vsha256h, .vsha256h2:
            var x = words(op == .vsha256h ? a : b), y = words(op == .vsha256h ? b : a)
            let w = words(c)
            for e in 0..<4 {
                let choose = ((y[1] ^ y[2]) & y[0]) ^ y[2]
                let majority = (x[0] & x[1]) | ((x[0] | x[1]) & x[2])
                let t = y[3] &+ (ror(y[0], 6) ^ ror(y[0], 11) ^ ror(y[0], 25)) &+ choose &+ w[e]
                x[3] = t &+ x[3]
                y[3] = t &+ (ror(x[0], 2) ^ ror(x[0], 13) ^ ror(x[0], 22)) &+ majority
                (x, y) = ([y[3], x[0], x[1], x[2]], [x[3], y[0], y[1], y[2]])
            }
            return vector(op == .vsha256h ? x : y)
        case .vsha256su0:
            let d = words(a), n = words(b)
            let t = [d[1], d[2], d[3], n[0]]
            return vector((0..<4).map { (ror(t[$0], 7) ^ ror(t[$0], 18) ^ (t[$0] >> 3)) &+ d[$0] })
        default:  // vsha256su1
            let d = words(a), n = words(b), m = words(c)
            let t0 = [n[1], n[2], n[3], m[0]]
            func sigma(_ x: UInt32) -> UInt32 { ror(x, 17) ^ ror(x, 19) ^ (x >> 10) }
            var r = [UInt32](repeating: 0, count: 4)
            for e in 0..<2 { r[e] = sigma(m[e + 2]) &+ d[e] &+ t0[e] }
            for e in 2..<4 { r[e] = sigma(r[e - 2]) &+ d[e] &+ t0[e] }
            return vector(r)
        }
    }
}
