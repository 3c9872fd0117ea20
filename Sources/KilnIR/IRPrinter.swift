/// Renders IR as text, one instruction a line. The form is stable: golden tests compare it.
///
/// ```
/// block +0x1000 length=8 addressing=region
///   guest +0x1000 8b020020
///   %1:i64 = readReg x1
///   %3:i64 = add %1, %2
///   writeReg x0, %3
///   exit jump +0x1008
/// ```
/// Region offsets print as `+0x...`, absolute addresses (anonymous code) as `0x...`.
public enum IRPrinter {
    public static func print(_ block: IRBlock) -> String {
        var out = ""
        let region = block.addressing == .region
        func address(_ x: UInt64) -> String { (region ? "+0x" : "0x") + String(x, radix: 16) }
        out += "block \(address(block.startOffset)) length=\(block.guestLength) addressing=\(region ? "region" : "absolute")\n"
        for (i, inst) in block.instructions.enumerated() {
            out += "  "
            if inst.op == .guestInstruction {
                out += "guest \(address(inst.imm)) \(hex32(inst.a.index))\n"
                continue
            }
            if inst.type != .void { out += "%\(i):\(inst.type.name) = " }
            out += inst.op.name
            let operands = [inst.a, inst.b, inst.c].filter { !$0.isNone }.map { "%\($0.index)" }
            var attributes: [String] = []
            switch inst.op {
            case .const:
                attributes.append("0x" + String(inst.imm, radix: 16))
            case .regionAddress:
                attributes.append(address(inst.imm))
            case .readReg, .writeReg:
                attributes.append(IRGuestRegister(rawValue: inst.aux).name)
            case .readSystem:
                attributes.append(IRSystemRegister(rawValue: inst.aux)?.name ?? "sys\(inst.aux)")
            case .icmp:
                attributes.append(IRComparison(rawValue: inst.aux).map { "\($0)" } ?? "?")
            case .condition:
                attributes.append(IRCondition(rawValue: inst.aux).map { "\($0)" } ?? "?")
            case .byteSwap, .zeroBlock:
                attributes.append("size=\(inst.imm)")
            case .crc32:
                attributes.append("bytes=\(1 << Int(inst.aux & 3))\(inst.aux & 16 != 0 ? " castagnoli" : "")")
            case .load, .store, .loadExclusive, .storeExclusive, .atomicRMW, .compareAndSwap:
                let m = IRMemoryAccess(rawValue: inst.aux)
                var s = "size=\(m.size)"
                if m.signExtend { s += " sext" }
                if m.order != .plain { s += " \(m.order)" }
                if inst.op == .atomicRMW { s += " \(m.atomic)" }
                attributes.append(s)
            case .exitIf:
                attributes.append(address(inst.imm))
            case .fence:
                attributes.append(IRFence(rawValue: inst.aux).map { "\($0)" } ?? "?")
            case .fcmp:
                if inst.aux & 1 != 0 { attributes.append("signaling") }
            case .floatToInt, .intToFloat, .fround:
                var s = ""
                if inst.op != .intToFloat { s += "\(IRRounding(rawValue: inst.aux & 15).map { "\($0)" } ?? "?")" }
                if inst.aux & 16 != 0 { s += (s.isEmpty ? "" : " ") + "unsigned" }
                if inst.aux & 32 != 0 { s += (s.isEmpty ? "" : " ") + "exact" }
                if inst.imm != 0 { s += (s.isEmpty ? "" : " ") + "fbits=\(inst.imm)" }
                if !s.isEmpty { attributes.append(s) }
            default:
                if inst.op.rawValue >= IROp.vpack.rawValue && inst.op != .vpack && inst.op != .vclearHigh && inst.op != .exitIf {
                    var s = IRElement(rawValue: inst.aux).name
                    if inst.aux >> 8 != 0 { s += " mode=\(inst.aux >> 8)" }
                    if inst.imm != 0 { s += " imm=\(inst.imm)" }
                    attributes.append(s)
                }
            }
            // Registers read better first: "writeReg x0, %3".
            let all = inst.op == .writeReg ? attributes + operands : operands + attributes
            if !all.isEmpty { out += " " + all.joined(separator: ", ") }
            out += "\n"
        }
        let e = block.exit
        out += "  exit \(e.kind)"
        switch e.kind {
        case .jump: out += " \(address(e.target))"
        case .branch: out += " %\(e.value.index), \(address(e.target)), \(address(e.next))"
        case .call: out += " \(address(e.target)), return \(address(e.next))"
        case .indirectJump, .ret: out += " %\(e.value.index)"
        case .indirectCall: out += " %\(e.value.index), return \(address(e.next))"
        case .syscall: out += " #\(e.info), next \(address(e.next))"
        case .trap: out += " \(e.trap) at \(address(e.target)), info 0x\(String(e.info, radix: 16))"
        }
        out += "\n"
        return out
    }

    static func hex32(_ x: UInt32) -> String {
        let s = String(x, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
