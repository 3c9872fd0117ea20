/// Why a dynamic section, symbol table, relocation table or .eh_frame_hdr could not be read.
/// (Header-level problems are `ELFError`s.)
public enum ELFTableError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A table's entry size or total size does not fit its structure.
    case badTableSize(table: String, size: UInt64, entrySize: UInt64)
    /// A virtual address that no PT_LOAD segment maps from the file.
    case unmappedAddress(what: String, address: UInt64)
    /// A dynamic-section tag needs a string table the file does not declare.
    case missingStringTable
    /// .eh_frame_hdr with a version other than 1.
    case unsupportedEHFrameHeaderVersion(UInt8)
    /// A DWARF pointer encoding this reader does not decode.
    case unsupportedPointerEncoding(UInt8)

    public var description: String {
        switch self {
        case let .badTableSize(table, size, entrySize): return "\(table): size \(size) is not a multiple of entry size \(entrySize)"
        case let .unmappedAddress(what, address): return "\(what) at 0x\(String(address, radix: 16)) is not in any loaded segment"
        case .missingStringTable: return "dynamic section has string references but no DT_STRTAB/DT_STRSZ"
        case let .unsupportedEHFrameHeaderVersion(v): return ".eh_frame_hdr version \(v) is not supported"
        case let .unsupportedPointerEncoding(e): return "DWARF pointer encoding 0x\(String(e, radix: 16)) is not supported"
        }
    }
}
