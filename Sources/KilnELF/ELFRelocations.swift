/// One Elf64_Rela.
public struct ELFRelocation: Equatable, Sendable {
    public var offset: UInt64
    public var info: UInt64
    public var addend: Int64
    /// Symbol index (high 32 bits of r_info).
    public var symbolIndex: UInt32 { UInt32(info >> 32) }
    /// Relocation type (low 32 bits), e.g. R_AARCH64_RELATIVE = 1027.
    public var type: UInt32 { UInt32(truncatingIfNeeded: info) }

    static let size: UInt64 = 24
}

/// The relocations of one SHT_RELA section.
public struct ELFRelocationTable: Equatable, Sendable {
    public var sectionName: String
    public var relocations: [ELFRelocation]
}

extension ELFFile {
    /// Every SHT_RELA section's relocations (.rela.dyn, .rela.plt, or .rela.text in objects).
    public func relocationTables() throws -> [ELFRelocationTable] {
        try sectionHeaders.filter { $0.type == 4 }.map { section in
            guard section.size % ELFRelocation.size == 0 else {
                throw ELFTableError.badTableSize(table: section.name, size: section.size, entrySize: ELFRelocation.size)
            }
            let r = ELFByteReader(try fileBytes(of: section))
            var list: [ELFRelocation] = []
            list.reserveCapacity(Int(section.size / ELFRelocation.size))
            var o: UInt64 = 0
            while o < section.size {
                list.append(ELFRelocation(offset: try r.u64(o, "r_offset"), info: try r.u64(o + 8, "r_info"),
                                          addend: Int64(bitPattern: try r.u64(o + 16, "r_addend"))))
                o += ELFRelocation.size
            }
            return ELFRelocationTable(sectionName: section.name, relocations: list)
        }
    }
}
