/// The .eh_frame_hdr lookup table (PT_GNU_EH_FRAME): where .eh_frame is and, for each
/// function start, its FDE. Addresses are virtual addresses of the file.
public struct ELFEHFrameHeader: Equatable, Sendable {
    public var ehFrameAddress: UInt64
    /// (initial location, FDE address) pairs, sorted by location as the linker wrote them.
    public var table: [ELFEHFrameEntry]
}

public struct ELFEHFrameEntry: Equatable, Sendable {
    public var location: UInt64
    public var fde: UInt64
}

extension ELFFile {
    /// The .eh_frame_hdr of the file, or nil when it has none.
    public func ehFrameHeader() throws -> ELFEHFrameHeader? {
        guard let segment = programHeaders.first(where: { $0.type == ELFSegmentType.gnuEHFrame }) else { return nil }
        let bytes = try fileBytes(of: segment)
        let r = ELFByteReader(bytes)
        let version = try r.u8(0, "eh_frame_hdr version")
        guard version == 1 else { throw ELFTableError.unsupportedEHFrameHeaderVersion(version) }
        let frameEncoding = try r.u8(1, "eh_frame_ptr_enc")
        let countEncoding = try r.u8(2, "fde_count_enc")
        let tableEncoding = try r.u8(3, "table_enc")
        let base = segment.virtualAddress
        var offset: UInt64 = 4
        func read(_ encoding: UInt8) throws -> UInt64 {
            let start = offset
            let raw: UInt64
            switch encoding & 0x0f {
            case 0x03: raw = UInt64(try r.u32(offset, "udata4")); offset += 4
            case 0x0b: raw = UInt64(bitPattern: Int64(Int32(bitPattern: try r.u32(offset, "sdata4")))); offset += 4
            case 0x04, 0x0c: raw = try r.u64(offset, "data8"); offset += 8
            case 0x02: raw = UInt64(try r.u16(offset, "udata2")); offset += 2
            case 0x0a: raw = UInt64(bitPattern: Int64(Int16(bitPattern: try r.u16(offset, "sdata2")))); offset += 2
            default: throw ELFTableError.unsupportedPointerEncoding(encoding)
            }
            switch encoding & 0x70 {
            case 0x00: return raw
            case 0x10: return base &+ start &+ raw    // pcrel
            case 0x30: return base &+ raw             // datarel: relative to .eh_frame_hdr
            default: throw ELFTableError.unsupportedPointerEncoding(encoding)
            }
        }
        guard frameEncoding != 0xff else { throw ELFTableError.unsupportedPointerEncoding(frameEncoding) }
        let frame = try read(frameEncoding)
        guard countEncoding != 0xff, tableEncoding != 0xff else { return ELFEHFrameHeader(ehFrameAddress: frame, table: []) }
        let count = try read(countEncoding)
        // Each entry takes at least 4 bytes: a count the segment cannot hold is malformed.
        guard count <= UInt64(bytes.count) / 8 else {
            throw ELFError.outOfBounds(what: ".eh_frame_hdr table", offset: segment.offset + offset, length: count * 8, fileSize: UInt64(storage.buffer.count))
        }
        var table: [ELFEHFrameEntry] = []
        table.reserveCapacity(Int(count))
        for _ in 0..<count {
            let location = try read(tableEncoding)
            table.append(ELFEHFrameEntry(location: location, fde: try read(tableEncoding)))
        }
        return ELFEHFrameHeader(ehFrameAddress: frame, table: table)
    }
}
