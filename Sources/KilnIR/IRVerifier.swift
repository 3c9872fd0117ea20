/// A structural or typing error found by `IRVerifier`.
public struct IRVerificationError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Index of the offending instruction, or nil for the exit.
    public var instruction: Int?
    public var message: String
    public var description: String {
        if let instruction { return "IR verification failed at %\(instruction): \(message)" }
        return "IR verification failed at exit: \(message)"
    }
}

/// Checks that a block is well formed: operands defined earlier and of the right types, result
/// types legal for each operation, attributes in range, and a well-typed exit.
public enum IRVerifier {
    public static func verify(_ block: IRBlock) throws(IRVerificationError) {
        let insts = block.instructions
        for (i, inst) in insts.enumerated() {
            func fail(_ m: String) -> IRVerificationError { IRVerificationError(instruction: i, message: "\(inst.op.name): \(m)") }
            func operand(_ v: IRValue, _ name: String) throws(IRVerificationError) -> IRType {
                guard !v.isNone else { throw fail("missing operand \(name)") }
                guard Int(v.index) < i else { throw fail("operand \(name) %\(v.index) not defined before use") }
                let t = insts[Int(v.index)].type
                guard t != .void else { throw fail("operand \(name) %\(v.index) has no value") }
                return t
            }
            func absent(_ vs: IRValue...) throws(IRVerificationError) {
                for v in vs where !v.isNone { throw fail("unexpected operand") }
            }
            let t = inst.type
            switch inst.op {
            case .guestInstruction:
                guard t == .void else { throw fail("must be void") }
                try absent(inst.b, inst.c)
            case .const:
                guard t != .void else { throw fail("needs a type") }
                guard t == .v128 || inst.imm & ~t.mask == 0 else { throw fail("constant wider than \(t.name)") }
                guard t != .v128 else { throw fail("v128 constants are built with vpack") }
                try absent(inst.a, inst.b, inst.c)
            case .regionAddress:
                guard t == .i64 else { throw fail("must be i64") }
                try absent(inst.a, inst.b, inst.c)
            case .readReg:
                let r = IRGuestRegister(rawValue: inst.aux)
                guard r.isValid else { throw fail("bad register \(inst.aux)") }
                guard t == r.type else { throw fail("\(r.name) is \(r.type.name)") }
            case .writeReg:
                let r = IRGuestRegister(rawValue: inst.aux)
                guard r.isValid else { throw fail("bad register \(inst.aux)") }
                guard try operand(inst.a, "a") == r.type, t == .void else { throw fail("\(r.name) takes \(r.type.name)") }
            case .readSystem:
                guard IRSystemRegister(rawValue: inst.aux) != nil, t == .i64 else { throw fail("bad system register read") }
            case .add, .sub, .mul, .udiv, .sdiv, .and, .or, .xor, .shl, .lshr, .ashr, .ror:
                guard t.isInteger, try operand(inst.a, "a") == t, try operand(inst.b, "b") == t else { throw fail("operands must be \(t.name)") }
            case .umulh, .smulh:
                guard t == .i64, try operand(inst.a, "a") == t, try operand(inst.b, "b") == t else { throw fail("operands must be i64") }
            case .adc:
                guard t.isInteger, try operand(inst.a, "a") == t, try operand(inst.b, "b") == t, try operand(inst.c, "c") == .i1 else { throw fail("adc takes two \(t.name) and an i1") }
            case .not, .clz, .cls, .rbit, .popcount, .byteSwap:
                guard t.isInteger, try operand(inst.a, "a") == t else { throw fail("operand must be \(t.name)") }
                if inst.op == .byteSwap, ![2, 4, 8].contains(inst.imm) || Int(inst.imm) * 8 > t.bits { throw fail("bad container size") }
            case .zext, .sext:
                let s = try operand(inst.a, "a")
                guard s.isInteger, t.isInteger, s.bits <= t.bits else { throw fail("cannot extend \(s.name) to \(t.name)") }
            case .trunc:
                let s = try operand(inst.a, "a")
                guard s.isInteger, t.isInteger, s.bits >= t.bits else { throw fail("cannot truncate \(s.name) to \(t.name)") }
            case .select:
                guard try operand(inst.a, "a") == .i1, try operand(inst.b, "b") == t, try operand(inst.c, "c") == t else { throw fail("select takes i1, \(t.name), \(t.name)") }
            case .icmp:
                let s = try operand(inst.a, "a")
                guard t == .i1, s.isInteger, try operand(inst.b, "b") == s, IRComparison(rawValue: inst.aux) != nil else { throw fail("bad compare") }
            case .crc32:
                let dataBits = 8 << Int(inst.aux & 3)
                guard t == .i32, try operand(inst.a, "a") == .i32, try operand(inst.b, "b") == IRType.integer(bits: dataBits) else { throw fail("crc32 takes i32 and i\(dataBits)") }
            case .bitcast:
                let s = try operand(inst.a, "a")
                guard s.bits == t.bits, t != .i1 else { throw fail("cannot bitcast \(s.name) to \(t.name)") }
            case .nzcvAdd, .nzcvSub:
                let s = try operand(inst.a, "a")
                guard t == .i32, s == .i32 || s == .i64, try operand(inst.b, "b") == s else { throw fail("flags of i32/i64 operands") }
            case .nzcvAdc:
                let s = try operand(inst.a, "a")
                guard t == .i32, s == .i32 || s == .i64, try operand(inst.b, "b") == s, try operand(inst.c, "c") == .i1 else { throw fail("flags of i32/i64 operands and an i1 carry") }
            case .nzcvLogic:
                let s = try operand(inst.a, "a")
                guard t == .i32, s == .i32 || s == .i64 else { throw fail("flags of an i32/i64 result") }
            case .condition:
                guard t == .i1, try operand(inst.a, "a") == .i32, inst.aux < 16 else { throw fail("condition of i32 flags") }
            case .load, .loadExclusive:
                let m = IRMemoryAccess(rawValue: inst.aux)
                guard try operand(inst.a, "a") == .i64 else { throw fail("address must be i64") }
                guard m.sizeLog2 <= 4 else { throw fail("bad size") }
                if m.sizeLog2 == 4 { guard t == .v128 else { throw fail("16-byte access gives v128") } }
                else if t.isInteger { guard t.bits >= m.size * 8 else { throw fail("result narrower than access") } }
                else { guard t.bits == m.size * 8, !m.signExtend else { throw fail("float load size mismatch") } }
            case .store:
                let m = IRMemoryAccess(rawValue: inst.aux)
                guard t == .void, try operand(inst.a, "a") == .i64 else { throw fail("address must be i64") }
                let v = try operand(inst.b, "b")
                guard m.sizeLog2 <= 4, v.bits >= m.size * 8 else { throw fail("value narrower than access") }
            case .storeExclusive:
                let m = IRMemoryAccess(rawValue: inst.aux)
                guard t == .i32, try operand(inst.a, "a") == .i64 else { throw fail("address must be i64, result i32") }
                let v = try operand(inst.b, "b")
                guard m.sizeLog2 <= 4, v.bits >= m.size * 8 else { throw fail("value narrower than access") }
            case .clearExclusive:
                guard t == .void else { throw fail("must be void") }
            case .atomicRMW:
                let m = IRMemoryAccess(rawValue: inst.aux)
                guard try operand(inst.a, "a") == .i64, m.sizeLog2 <= 3, t.isInteger, t.bits >= m.size * 8, try operand(inst.b, "b") == t else { throw fail("atomic takes an address and a \(t.name)") }
            case .compareAndSwap:
                let m = IRMemoryAccess(rawValue: inst.aux)
                guard try operand(inst.a, "a") == .i64, m.sizeLog2 <= 4, try operand(inst.b, "b") == t, try operand(inst.c, "c") == t else { throw fail("cas takes an address and two \(t.name)") }
                guard m.sizeLog2 == 4 ? t == .v128 : (t.isInteger && t.bits >= m.size * 8) else { throw fail("cas type/size mismatch") }
            case .exitIf:
                guard t == .void, try operand(inst.a, "a") == .i1 else { throw fail("side exit takes an i1 condition") }
                try absent(inst.b, inst.c)
            case .fence:
                guard t == .void, IRFence(rawValue: inst.aux) != nil else { throw fail("bad fence") }
            case .zeroBlock:
                guard t == .void, try operand(inst.a, "a") == .i64, inst.imm.nonzeroBitCount == 1, inst.imm >= 8, inst.imm <= 2048 else { throw fail("zeroBlock takes an address and a power-of-two size of 8...2048") }
            // Half precision (FEAT_FP16) arithmetic operates on i16 bit patterns.
            case .fadd, .fsub, .fmul, .fdiv, .fmax, .fmin, .fmaxnm, .fminnm, .fmulx:
                guard t.isFloat || t == .i16, try operand(inst.a, "a") == t, try operand(inst.b, "b") == t else { throw fail("operands must be \(t.name)") }
            case .frecps, .frsqrts:
                guard t.isFloat, try operand(inst.a, "a") == t, try operand(inst.b, "b") == t else { throw fail("operands must be \(t.name)") }
            case .fsqrt, .fneg, .fabs:
                guard t.isFloat || t == .i16, try operand(inst.a, "a") == t else { throw fail("operand must be \(t.name)") }
            case .frecpe, .frsqrte, .frecpx:
                guard t.isFloat, try operand(inst.a, "a") == t else { throw fail("operand must be \(t.name)") }
            case .fround:
                guard t.isFloat || t == .i16, try operand(inst.a, "a") == t, IRRounding(rawValue: inst.aux & 15) != nil else { throw fail("bad fround") }
            case .fmadd:
                guard t.isFloat || t == .i16, try operand(inst.a, "a") == t, try operand(inst.b, "b") == t, try operand(inst.c, "c") == t else { throw fail("operands must be \(t.name)") }
            case .fcmp:
                let s = try operand(inst.a, "a")
                guard t == .i32, s.isFloat || s == .i16, try operand(inst.b, "b") == s else { throw fail("fcmp of two floats gives i32") }
            case .fconvert:
                let s = try operand(inst.a, "a")
                guard (s.isFloat || s == .i16), (t.isFloat || t == .i16), s != t else { throw fail("fconvert between f16 (i16), f32, f64") }
            case .floatToInt:
                let s = try operand(inst.a, "a")
                guard s.isFloat || s == .i16, t == .i32 || t == .i64, IRRounding(rawValue: inst.aux & 15) != nil, inst.imm <= 64 else { throw fail("bad floatToInt") }
            case .intToFloat:
                let s = try operand(inst.a, "a")
                guard s == .i32 || s == .i64, t.isFloat || t == .i16, inst.imm <= 64 else { throw fail("bad intToFloat") }
            case .vpack:
                guard t == .v128, try operand(inst.a, "a") == .i64, try operand(inst.b, "b") == .i64 else { throw fail("vpack takes two i64") }
            case .vextract:
                let e = IRElement(rawValue: inst.aux)
                guard try operand(inst.a, "a") == .v128, t.isInteger || t.isFloat, inst.imm < UInt64(e.lanes), t.bits >= e.bits else { throw fail("bad lane extract") }
            case .vinsert:
                let e = IRElement(rawValue: inst.aux)
                guard t == .v128, try operand(inst.a, "a") == .v128, try operand(inst.b, "b").bits >= e.bits, inst.imm < UInt64(e.lanes) else { throw fail("bad lane insert") }
            case .vsplat:
                let e = IRElement(rawValue: inst.aux)
                guard t == .v128, try operand(inst.a, "a").bits >= e.bits else { throw fail("bad splat") }
            case .vaddv, .vumaxv, .vuminv, .vsmaxv, .vsminv:
                guard t == .i64, try operand(inst.a, "a") == .v128 else { throw fail("reduction of v128 gives i64") }
            default:
                // Remaining vector operations: v128 in, v128 out, one to three operands, and an
                // immediate (shift, half, byte offset, container) small enough to be meaningful.
                guard t == .v128, try operand(inst.a, "a") == .v128 else { throw fail("vector operation takes v128") }
                guard inst.imm <= 128 else { throw fail("immediate out of range") }
                if inst.op == .vrev {
                    let bytes = IRElement(rawValue: inst.aux).bits / 8
                    guard [2, 4, 8].contains(inst.imm), Int(inst.imm) > bytes else { throw fail("bad reverse container") }
                }
                if inst.op == .vext { guard inst.imm < 16 else { throw fail("EXT offset out of range") } }
                if inst.op == .vsrshrImm || inst.op == .vurshrImm {
                    guard inst.imm >= 1, Int(inst.imm) <= IRElement(rawValue: inst.aux).bits else { throw fail("bad rounding shift") }
                }
                if !inst.b.isNone { guard try operand(inst.b, "b") == .v128 else { throw fail("operand b must be v128") } }
                if !inst.c.isNone { guard try operand(inst.c, "c") == .v128 else { throw fail("operand c must be v128") } }
            }
        }
        let exit = block.exit
        func exitFail(_ m: String) -> IRVerificationError { IRVerificationError(instruction: nil, message: m) }
        switch exit.kind {
        case .branch:
            guard Int(exit.value.index) < insts.count, !exit.value.isNone, insts[Int(exit.value.index)].type == .i1 else { throw exitFail("branch needs an i1 condition") }
        case .indirectJump, .indirectCall, .ret:
            guard Int(exit.value.index) < insts.count, !exit.value.isNone, insts[Int(exit.value.index)].type == .i64 else { throw exitFail("indirect exit needs an i64 address") }
        case .jump, .call, .syscall, .trap:
            guard exit.value.isNone else { throw exitFail("unexpected exit operand") }
        }
    }
}
