import KilnIR

/// AES, SHA-1 and SHA-256 instructions.
enum Crypto {
    static func aes(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        guard bits(w, 23, 22) == 0 else { throw l.unallocated(w) }
        let n = l.vreg(rn(w))
        let r: IRValue
        switch bits(w, 16, 12) {
        case 4: r = l.vop(.vaese, .i8, l.vreg(rd(w)), n)
        case 5: r = l.vop(.vaesd, .i8, l.vreg(rd(w)), n)
        case 6: r = l.vop(.vaesmc, .i8, n)
        case 7: r = l.vop(.vaesimc, .i8, n)
        default: throw l.unallocated(w)
        }
        l.builder.writeReg(.v(rd(w)), r)
    }

    static func shaThreeRegister(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        guard bits(w, 23, 22) == 0 else { throw l.unallocated(w) }
        let d = l.vreg(rd(w)), n = l.vreg(rn(w)), m = l.vreg(rm(w))
        let op: IROp
        switch bits(w, 14, 12) {
        case 0: op = .vsha1c
        case 1: op = .vsha1p
        case 2: op = .vsha1m
        case 3: op = .vsha1su0
        case 4: op = .vsha256h
        case 5: op = .vsha256h2
        case 6: op = .vsha256su1
        default: throw l.unallocated(w)
        }
        l.builder.writeReg(.v(rd(w)), l.vop(op, .i32, d, n, m))
    }

    static func shaTwoRegister(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        guard bits(w, 23, 22) == 0 else { throw l.unallocated(w) }
        switch bits(w, 16, 12) {
        case 0:
            // SHA1H: Sd = ROL(Sn, 30).
            let x = l.readFloat(rn(w), .i32)
            l.writeScalar(rd(w), l.builder.ror(x, l.const(.i32, 2)))
        case 1: l.builder.writeReg(.v(rd(w)), l.vop(.vsha1su1, .i32, l.vreg(rd(w)), l.vreg(rn(w))))
        case 2: l.builder.writeReg(.v(rd(w)), l.vop(.vsha256su0, .i32, l.vreg(rd(w)), l.vreg(rn(w))))
        default: throw l.unallocated(w)
        }
    }
}
