import Foundation
import Testing
@testable import KilnX64

/// Representative operands: every form is encoded with a register r/m (when legal) and a
/// memory r/m, rotating through registers and addressing cases so that the table as a whole
/// covers r8-r15, byte registers that need REX, rsp/r12 (SIB), rbp/r13 (forced disp8),
/// disp8 versus disp32, index scaling and RIP-relative operands.
private let registerPairs: [(UInt8, UInt8)] = [(0, 3), (9, 2), (6, 15), (12, 13), (7, 5), (4, 8), (14, 1), (11, 10)]
private let memoryOperands: [X64Memory] = [
    X64Memory(base: .rsp, disp: 8),
    X64Memory(base: .rbp),
    X64Memory(base: .r12, disp: 0x1234),
    X64Memory(base: .r13, index: .r14, scale: 8, disp: 16),
    X64Memory(base: .rax, index: .rcx, scale: 2, disp: -128),
    X64Memory(ripDisp: 0x100),
    X64Memory(base: .r8, index: .r15, scale: 4, disp: 0x7fff_ffff),
    X64Memory(base: .rdi, index: .rbp, scale: 1, disp: 127),
    X64Memory(base: .r15, disp: 264),
]

private struct Sample {
    var op: X64Op
    var reg: UInt8 = 0
    var rm: X64RM = .reg(0)
    var vvvv: UInt8 = 0
    var imm: Int64 = 0
    var cc: X64Condition = .o
}

private func samples(for form: X64Form, index: Int) -> [Sample] {
    let (r1, r2) = registerPairs[index % registerPairs.count]
    var imm: Int64
    switch form.encoding {
    case .mImm8, .rmImm8, .mrImm8, .vexRMImm8: imm = form.map == .primary ? -3 : 5
    case .mImm32, .rmImm32, .oImm32: imm = form.operandSize16 ? 0x1234 : 0x1234_5678
    case .oImm64: imm = 0x1234_5678_9abc_def0
    case .rel8: imm = 0x10
    case .rel32: imm = 0x100
    default: imm = 0
    }
    var out: [Sample] = []
    let conditions: [X64Condition] = form.conditional ? X64Condition.allCases : [.o]
    for (n, cc) in conditions.enumerated() {
        let regOnly = form.rmClass == .xmmRegister
        let memOnly = form.rmClass == .memory
        let hasRM = form.rmClass != .none
        let (a, b) = registerPairs[(index + n) % registerPairs.count]
        let reg = form.conditional ? a : r1
        if !memOnly {
            out.append(Sample(op: form.op, reg: reg, rm: .reg(form.conditional ? b : r2), vvvv: (r1 &+ 5) & 15, imm: imm, cc: cc))
        }
        if hasRM && !regOnly && (!form.conditional || n < 2) {
            let mem = memoryOperands[(index + n) % memoryOperands.count]
            out.append(Sample(op: form.op, reg: reg, rm: .mem(mem), vvvv: (r2 &+ 3) & 15, imm: imm, cc: cc))
        }
    }
    return out
}

@Suite struct AssemblerTests {
    @Test func tableHasOneLinePerOp() {
        let table = X64Form.table
        #expect(table.count == X64Op.allCases.count)
        for (i, form) in table.enumerated() { #expect(Int(form.op.rawValue) == i, "\(form.op)") }
    }

    /// Every form, encoded with representative operands, disassembles (llvm-objdump) to its
    /// own mnemonic at exactly the instruction boundaries we emitted; the text is golden.
    @Test func everyFormDisassemblesAsGolden() throws {
        var asm = X64Assembler()
        var starts: [(op: X64Op, offset: Int)] = []
        for (i, form) in X64Form.table.enumerated() {
            for s in samples(for: form, index: i) {
                starts.append((s.op, asm.offset))
                asm.emit(s.op, reg: s.reg, rm: s.rm, vvvv: s.vvvv, imm: s.imm, cc: s.cc)
            }
        }
        let code = asm.bytes
        let lines = try X64Disassembler.disassemble(code)
        #expect(lines.map(\.offset) == starts.map(\.offset), "instruction boundaries differ from the encoder's")
        var text = ""
        for (n, start) in starts.enumerated() {
            let end = n + 1 < starts.count ? starts[n + 1].offset : code.count
            let hex = code[start.offset..<end].map { String(format: "%02x", $0) }.joined(separator: " ")
            let line = lines.first(where: { $0.offset == start.offset })?.text ?? "<missing>"
            let form = X64Form.table[Int(start.op.rawValue)]
            let mnemonic = line.split(separator: " ").first { $0 != "lock" }.map(String.init) ?? ""
            // SSE compares print their predicate immediate inside the mnemonic (cmpnltss).
            let sameMnemonic = mnemonic.hasPrefix(form.mnemonic)
                || (form.mnemonic.hasPrefix("cmp") && mnemonic.hasPrefix("cmp") && mnemonic.hasSuffix(form.mnemonic.suffix(2)))
            #expect(sameMnemonic && !line.contains("bad") && !line.contains("unknown"),
                    "\(start.op): \(hex) disassembles as \(line)")
            text += "\(start.op)\t\(hex)\t\(line)\n"
        }
        let golden = try Golden.check("encodings.txt", text)
        #expect(text == golden, "encodings differ from Golden/encodings.txt (KILN_UPDATE_GOLDEN=1 rewrites)")
    }

    @Test func labelsResolveForwardAndBackward() throws {
        var asm = X64Assembler()
        let top = asm.newLabel(), done = asm.newLabel()
        asm.bind(top)
        asm.emit(.add64mi8, rm: .gpr(.rax), imm: 1)
        asm.jump(.e, to: done)
        asm.shortJump(nil, to: top)
        asm.bind(done)
        asm.emit(.ret)
        let resolved = asm.resolveLabels()
        #expect(resolved)
        let lines = try X64Disassembler.disassemble(asm.bytes).map(\.text)
        #expect(lines == ["add rax, 0x1", "je 0xc <.text+0xc>", "jmp 0x0 <.text>", "ret"])
    }

    @Test func featuresAccumulate() {
        var asm = X64Assembler()
        asm.emit(.add64rm, reg: 0, rm: .reg(1))
        #expect(asm.features.isEmpty)
        asm.emit(.popcnt64rm, reg: 0, rm: .reg(1))
        asm.emit(.shlx64, reg: 0, rm: .reg(1), vvvv: 2)
        #expect(asm.features == [.popcnt, .bmi2])
    }
}
