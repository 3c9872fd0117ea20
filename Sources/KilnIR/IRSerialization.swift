/// Errors reading serialized IR.
public enum IRDecodingError: Error, Equatable, Sendable {
    case badMagic
    case unsupportedVersion(UInt16)
    case truncated
    case badField(String)
    case invalid(IRVerificationError)
}

/// The versioned binary form of IR blocks (the IR cache format). Little-endian, fixed-width,
/// no padding bytes left uninitialised, so the same block always gives the same bytes.
///
/// ```
/// magic "KIR\0" | version u16 | addressing u8 | 0 u8 | startOffset u64 | guestLength u32 | count u32
/// count x (op u8 | type u8 | aux u16 | a u32 | b u32 | c u32 | imm u64)
/// exit: kind u8 | trap u8 | 0 u16 | value u32 | target u64 | next u64 | info u32
/// ```
public enum IRFormat {
    public static let magic: [UInt8] = [0x4b, 0x49, 0x52, 0x00]
    /// Bumped whenever the meaning of any encoded field changes.
    public static let version: UInt16 = 1

    public static func serialize(_ block: IRBlock, into out: inout [UInt8]) {
        out.append(contentsOf: magic)
        append(&out, UInt64(version), 2)
        out.append(block.addressing.rawValue)
        out.append(0)
        append(&out, block.startOffset, 8)
        append(&out, UInt64(block.guestLength), 4)
        append(&out, UInt64(block.instructions.count), 4)
        for inst in block.instructions {
            out.append(inst.op.rawValue)
            out.append(inst.type.rawValue)
            append(&out, UInt64(inst.aux), 2)
            append(&out, UInt64(inst.a.index), 4)
            append(&out, UInt64(inst.b.index), 4)
            append(&out, UInt64(inst.c.index), 4)
            append(&out, inst.imm, 8)
        }
        let e = block.exit
        out.append(e.kind.rawValue)
        out.append(e.trap.rawValue)
        append(&out, 0, 2)
        append(&out, UInt64(e.value.index), 4)
        append(&out, e.target, 8)
        append(&out, e.next, 8)
        append(&out, UInt64(e.info), 4)
    }

    public static func serialize(_ block: IRBlock) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(24 + block.instructions.count * 24 + 32)
        serialize(block, into: &out)
        return out
    }

    /// Decodes one block starting at `offset`, advancing it, and verifies the result.
    public static func deserialize(_ bytes: [UInt8], offset: inout Int) throws(IRDecodingError) -> IRBlock {
        var reader = Reader(bytes: bytes, position: offset)
        guard try reader.bytes(4) == magic else { throw .badMagic }
        let version = UInt16(try reader.read(2))
        guard version == self.version else { throw .unsupportedVersion(version) }
        guard let addressing = IRAddressing(rawValue: UInt8(try reader.read(1))) else { throw .badField("addressing") }
        guard try reader.read(1) == 0 else { throw .badField("reserved") }
        var block = IRBlock(addressing: addressing, startOffset: try reader.read(8), guestLength: UInt32(try reader.read(4)))
        let count = Int(try reader.read(4))
        guard count <= (bytes.count - reader.position) / 24 else { throw .truncated }
        block.instructions.reserveCapacity(count)
        for _ in 0..<count {
            guard let op = IROp(rawValue: UInt8(try reader.read(1))) else { throw .badField("op") }
            guard let type = IRType(rawValue: UInt8(try reader.read(1))) else { throw .badField("type") }
            let aux = UInt16(try reader.read(2))
            let a = IRValue(UInt32(try reader.read(4))), b = IRValue(UInt32(try reader.read(4))), c = IRValue(UInt32(try reader.read(4)))
            block.instructions.append(IRInst(op: op, type: type, aux: aux, a: a, b: b, c: c, imm: try reader.read(8)))
        }
        guard let kind = IRExitKind(rawValue: UInt8(try reader.read(1))) else { throw .badField("exit kind") }
        guard let trap = IRTrapKind(rawValue: UInt8(try reader.read(1))) else { throw .badField("trap kind") }
        guard try reader.read(2) == 0 else { throw .badField("reserved") }
        let value = IRValue(UInt32(try reader.read(4)))
        block.exit = IRExit(kind: kind, trap: trap, value: value, target: try reader.read(8), next: try reader.read(8), info: UInt32(try reader.read(4)))
        do { try IRVerifier.verify(block) } catch { throw .invalid(error) }
        offset = reader.position
        return block
    }

    static func append(_ out: inout [UInt8], _ value: UInt64, _ count: Int) {
        for i in 0..<count { out.append(UInt8(truncatingIfNeeded: value >> UInt64(i * 8))) }
    }

    struct Reader {
        let bytes: [UInt8]
        var position: Int
        mutating func read(_ count: Int) throws(IRDecodingError) -> UInt64 {
            guard position + count <= bytes.count else { throw .truncated }
            var v: UInt64 = 0
            for i in 0..<count { v |= UInt64(bytes[position + i]) << UInt64(i * 8) }
            position += count
            return v
        }
        mutating func bytes(_ count: Int) throws(IRDecodingError) -> [UInt8] {
            guard position + count <= bytes.count else { throw .truncated }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }
    }
}
