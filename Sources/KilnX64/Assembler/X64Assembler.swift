/// A position in emitted code that a later jump can target.
public struct X64Label: Hashable, Sendable {
    public let id: Int32
}

/// Encodes instruction forms from `X64Form.table` into a reusable byte buffer. Emitting does
/// not allocate once the buffer and label storage have grown to their working size.
public struct X64Assembler {
    /// The code bytes, copied on write (see `makeStorageWritable`). Written through a raw
    /// pointer: an instruction is stored with two 8-byte stores rather than byte appends.
    private var storage = X64CodeStorage(capacity: 4096)
    /// Current end of the code.
    public private(set) var offset = 0
    /// A copy of the code emitted so far.
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: storage.base, count: offset)) }
    /// Union of the CPU features of every form emitted since the last `reset`.
    public private(set) var features: X64Features = []
    /// Number of instructions emitted since the last `reset`.
    public private(set) var instructionCount = 0
    /// Offset of the 32-bit displacement of the last instruction with a memory operand
    /// (or of the rel32 field of the last relative jump or call), for fixups and relocations.
    public private(set) var lastDisplacementOffset = -1
    /// Bound label offsets (-1 while unbound) and pending rel32/rel8 fixups.
    private var labelOffsets: [Int] = []
    private var fixups: [(position: Int, label: Int32, size: Int8)] = []
    /// `X64Form.table`, packed, read without the global's once-check and bounds check per
    /// instruction. Lazy: a baked run creates a lowerer but may never translate, and building
    /// the table at every start cost it ~0.1 ms.
    private lazy var forms = X64Form.packedTable

    public init() {}

    /// Clears code, labels and features, keeping storage.
    public mutating func reset() {
        offset = 0
        labelOffsets.removeAll(keepingCapacity: true)
        fixups.removeAll(keepingCapacity: true)
        features = []
        instructionCount = 0
        lastDisplacementOffset = -1
    }

    // MARK: Labels

    public mutating func newLabel() -> X64Label {
        labelOffsets.append(-1)
        return X64Label(id: Int32(labelOffsets.count - 1))
    }

    public mutating func bind(_ label: X64Label) {
        labelOffsets[Int(label.id)] = offset
    }

    /// Jcc or JMP (`cc` nil) to `label` with a 32-bit displacement, resolved by `resolveLabels`.
    public mutating func jump(_ cc: X64Condition?, to label: X64Label) {
        if let cc { emit(.jcc32, cc: cc) } else { emit(.jmp32) }
        fixups.append((offset - 4, label.id, 4))
    }

    /// Short Jcc or JMP to a label no more than 127 bytes ahead.
    public mutating func shortJump(_ cc: X64Condition?, to label: X64Label) {
        if let cc { emit(.jcc8, cc: cc) } else { emit(.jmp8) }
        fixups.append((offset - 1, label.id, 1))
    }

    /// Patches every jump to a label. Returns false if a label is unbound or a short jump
    /// does not reach.
    public mutating func resolveLabels() -> Bool {
        for f in fixups {
            let target = labelOffsets[Int(f.label)]
            guard target >= 0 else { return false }
            let rel = target - (f.position + Int(f.size))
            if f.size == 1 {
                guard rel >= -128 && rel <= 127 else { return false }
                makeStorageWritable()
                storage.base.storeBytes(of: UInt8(truncatingIfNeeded: rel), toByteOffset: f.position, as: UInt8.self)
            } else {
                patch32(at: f.position, Int32(truncatingIfNeeded: rel))
            }
        }
        fixups.removeAll(keepingCapacity: true)
        return true
    }

    /// Overwrites the 32-bit little-endian field at `position`.
    public mutating func patch32(at position: Int, _ value: Int32) {
        precondition(position >= 0 && position + 4 <= offset, "patch outside the code")
        makeStorageWritable()
        storage.base.storeBytes(of: UInt32(bitPattern: value).littleEndian, toByteOffset: position, as: UInt32.self)
    }

    /// Gives this assembler storage of its own (a copy of an assembler shares it until then)
    /// with room for one more instruction.
    @inline(__always) private mutating func makeStorageWritable() {
        if !isKnownUniquelyReferenced(&storage) || storage.capacity - offset < 16 {
            storage = X64CodeStorage(copying: storage, count: offset, capacity: max(storage.capacity, 2 * (offset + 16)))
        }
    }

    // MARK: Encoding

    /// Emits one instruction. The operands' meaning follows the form's `X64Encoding`: `reg` is
    /// the ModRM.reg register (or the opcode register for `o` forms, the destination for
    /// `vexVM`), `rm` the r/m operand, `vvvv` the VEX.vvvv register, `imm` the immediate or
    /// displacement, `cc` the condition of conditional forms.
    public mutating func emit(_ op: X64Op, reg: UInt8 = 0, rm: X64RM = .reg(0), vvvv: UInt8 = 0, imm: Int64 = 0, cc: X64Condition = .o) {
        let form = forms[Int(op.rawValue)]
        features.formUnion(form.feature)
        instructionCount += 1
        var out = EncodedInstruction()
        defer { append(out) }
        let e = form.encoding
        let opcode = form.conditional ? form.opcode &+ cc.rawValue : form.opcode

        if form.lock { out.put(0xF0) }
        if form.isVEX {
            // In VEX forms ModRM.reg is the digit when there is one; `vexVM` puts the
            // destination in vvvv.
            let modReg = form.digit ?? reg
            let v: UInt8 = e == .vexVM ? reg : (e == .vexRMImm8 ? 0 : vvvv)
            emitVEX(&out, form, modReg: modReg, rm: rm, vvvv: v)
            out.put(opcode)
            emitModRM(&out, modReg, rm, immediateSize: e == .vexRMImm8 ? 1 : 0)
            if e == .vexRMImm8 { out.put8(imm) }
            return
        }
        if form.operandSize16 { out.put(0x66) }
        if form.prefix != 0 { out.put(form.prefix) }

        switch e {
        case .none:
            emitREX(&out, form, reg: 0, rm: nil, opcodeReg: nil)
            emitOpcode(&out, form.map, opcode)
        case .o, .oImm32, .oImm64:
            emitREX(&out, form, reg: 0, rm: nil, opcodeReg: reg)
            emitOpcode(&out, form.map, opcode &+ (reg & 7))
            if e == .oImm32 { out.put32(imm) } else if e == .oImm64 { out.put64(imm) }
        case .rel8:
            emitOpcode(&out, form.map, opcode)
            out.put8(imm)
        case .rel32:
            emitOpcode(&out, form.map, opcode)
            lastDisplacementOffset = offset + out.count
            out.put32(imm)
        default:
            let modReg = form.digit ?? reg
            emitREX(&out, form, reg: modReg, rm: rm, opcodeReg: nil)
            emitOpcode(&out, form.map, opcode)
            let immediateSize: Int
            switch e {
            case .mImm8, .rmImm8, .mrImm8: immediateSize = 1
            case .mImm32, .rmImm32: immediateSize = form.operandSize16 ? 2 : 4
            default: immediateSize = 0
            }
            emitModRM(&out, modReg, rm, immediateSize: immediateSize)
            switch immediateSize {
            case 1: out.put8(imm)
            case 2: out.put(UInt8(truncatingIfNeeded: imm)); out.put(UInt8(truncatingIfNeeded: imm >> 8))
            case 4: out.put32(imm)
            default: break
            }
        }
    }

    @inline(__always) private func emitOpcode(_ out: inout EncodedInstruction, _ map: X64OpcodeMap, _ opcode: UInt8) {
        switch map {
        case .primary: break
        case .map0F: out.put(0x0F)
        case .map0F38: out.put(0x0F); out.put(0x38)
        case .map0F3A: out.put(0x0F); out.put(0x3A)
        }
        out.put(opcode)
    }

    private func emitREX(_ out: inout EncodedInstruction, _ form: X64PackedForm, reg: UInt8, rm: X64RM?, opcodeReg: UInt8?) {
        var rex: UInt8 = form.rexW ? 0x08 : 0
        if reg >= 8 { rex |= 0x04 }
        var forced = false
        if form.byteRegisters {
            // spl, bpl, sil, dil need a REX prefix (without one, 4...7 mean ah, ch, dh, bh).
            if form.regIsGPR8 && form.digit == nil && reg >= 4 && reg < 8 { forced = true }
            if case .reg(let r)? = rm, form.rmIsGPR8, r >= 4 && r < 8 { forced = true }
        }
        if let o = opcodeReg, o >= 8 { rex |= 0x01 }
        switch rm {
        case .reg(let r)?: if r >= 8 { rex |= 0x01 }
        case .mem(let m)?:
            if case .register(let b) = m.base, b.isExtended { rex |= 0x01 }
            if let i = m.index, i.isExtended { rex |= 0x02 }
        case nil: break
        }
        if rex != 0 || forced { out.put(0x40 | rex) }
    }

    private func emitVEX(_ out: inout EncodedInstruction, _ form: X64PackedForm, modReg: UInt8, rm: X64RM, vvvv: UInt8) {
        var r = modReg < 8, x = true, b = true
        switch rm {
        case .reg(let n): b = n < 8
        case .mem(let m):
            if case .register(let base) = m.base { b = !base.isExtended }
            if let i = m.index { x = !i.isExtended }
        }
        if modReg >= 8 { r = false }
        let pp: UInt8
        switch form.prefix { case 0x66: pp = 1; case 0xF3: pp = 2; case 0xF2: pp = 3; default: pp = 0 }
        let mmmmm = form.map.rawValue
        let notV = (~vvvv) & 15
        if !form.rexW && x && b && mmmmm == 1 {
            out.put(0xC5)
            out.put((r ? 0x80 : 0) | notV << 3 | pp)
        } else {
            out.put(0xC4)
            out.put((r ? 0x80 : 0) | (x ? 0x40 : 0) | (b ? 0x20 : 0) | mmmmm)
            out.put((form.rexW ? 0x80 : 0) | notV << 3 | pp)
        }
    }

    /// ModRM, SIB and displacement. `immediateSize` bytes follow, which RIP-relative
    /// displacements must account for.
    private mutating func emitModRM(_ out: inout EncodedInstruction, _ reg: UInt8, _ rm: X64RM, immediateSize: Int) {
        let regBits = (reg & 7) << 3
        switch rm {
        case .reg(let r):
            out.put(0xC0 | regBits | (r & 7))
        case .mem(let m):
            switch m.base {
            case .rip:
                out.put(regBits | 5)
                lastDisplacementOffset = offset + out.count
                out.put32(Int64(m.disp))
            case .register(let base):
                let needsSIB = m.index != nil || base.low3 == 4
                // rbp/r13 as base with mod 00 would mean RIP/no base: give them a disp8 of 0.
                let mod: UInt8
                if m.disp == 0 && base.low3 != 5 { mod = 0 }
                else if m.disp >= -128 && m.disp <= 127 { mod = 1 }
                else { mod = 2 }
                out.put(mod << 6 | regBits | (needsSIB ? 4 : base.low3))
                if needsSIB {
                    let scaleBits: UInt8
                    switch m.scale { case 2: scaleBits = 1; case 4: scaleBits = 2; case 8: scaleBits = 3; default: scaleBits = 0 }
                    let indexBits = m.index.map { $0.low3 } ?? 4
                    out.put(scaleBits << 6 | indexBits << 3 | base.low3)
                }
                if mod == 1 { out.put8(Int64(m.disp)) }
                else if mod == 2 { lastDisplacementOffset = offset + out.count; out.put32(Int64(m.disp)) }
            }
        }
    }

    /// Appends one encoded instruction: one capacity and uniqueness check and two stores.
    @inline(__always) private mutating func append(_ instruction: EncodedInstruction) {
        makeStorageWritable()
        storage.base.storeBytes(of: instruction.bytes.0.littleEndian, toByteOffset: offset, as: UInt64.self)
        storage.base.storeBytes(of: instruction.bytes.1.littleEndian, toByteOffset: offset + 8, as: UInt64.self)
        offset += instruction.count
    }
}

/// An assembler's code buffer. Bytes past the code's end are scratch: an instruction is
/// stored as 16 bytes and the end then moves by its length.
final class X64CodeStorage {
    let base: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// New storage of `capacity` bytes holding the first `count` bytes of `other`.
    convenience init(copying other: X64CodeStorage, count: Int, capacity: Int) {
        self.init(capacity: capacity)
        base.copyMemory(from: other.base, byteCount: count)
    }

    deinit { base.deallocate() }
}

/// The bytes of one instruction while it is encoded (x86 instructions are at most 15 bytes),
/// little-endian in two words.
struct EncodedInstruction {
    var bytes: (UInt64, UInt64) = (0, 0)
    var count = 0

    @inline(__always) mutating func put(_ b: UInt8) {
        if count < 8 { bytes.0 |= UInt64(b) << (count * 8) } else { bytes.1 |= UInt64(b) << ((count - 8) * 8) }
        count += 1
    }
    @inline(__always) mutating func put8(_ v: Int64) { put(UInt8(truncatingIfNeeded: v)) }
    @inline(__always) mutating func put32(_ v: Int64) { put(UInt64(UInt32(truncatingIfNeeded: v)), length: 4) }
    @inline(__always) mutating func put64(_ v: Int64) { put(UInt64(bitPattern: v), length: 8) }

    /// Appends the low `length` bytes of `value` (whose other bytes are zero).
    @inline(__always) mutating func put(_ value: UInt64, length: Int) {
        if count >= 8 {
            bytes.1 |= value << ((count - 8) * 8)
        } else {
            bytes.0 |= value << (count * 8)
            if count + length > 8 { bytes.1 |= value >> ((8 - count) * 8) }
        }
        count += length
    }
}
