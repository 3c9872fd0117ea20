/// One Elf64_Sym.
public struct ELFSymbol: Equatable, Sendable {
    public var name: String
    public var value: UInt64
    public var size: UInt64
    /// st_info: binding in the high nibble, type in the low.
    public var info: UInt8
    public var other: UInt8
    public var sectionIndex: UInt16

    public var type: UInt8 { info & 0xf }
    public var binding: UInt8 { info >> 4 }
    /// STT_FUNC.
    public var isFunction: Bool { type == 2 }
    /// Defined in this file (not SHN_UNDEF).
    public var isDefined: Bool { sectionIndex != 0 }

    static let size: UInt64 = 24
}

extension ELFFile {
    /// The symbols of the first SHT_SYMTAB (`dynamic` false) or SHT_DYNSYM section; empty
    /// when there is none (stripped files have only .dynsym).
    public func symbols(dynamic: Bool = false) throws -> [ELFSymbol] {
        let wanted: UInt32 = dynamic ? 11 : 2
        guard let table = sectionHeaders.first(where: { $0.type == wanted }) else { return [] }
        guard Int(table.link) < sectionHeaders.count else { throw ELFError.badSectionIndex(what: "symbol table sh_link", index: table.link) }
        guard table.size % ELFSymbol.size == 0 else {
            throw ELFTableError.badTableSize(table: table.name, size: table.size, entrySize: ELFSymbol.size)
        }
        let strings = try fileBytes(of: sectionHeaders[Int(table.link)])
        let r = ELFByteReader(try fileBytes(of: table))
        var result: [ELFSymbol] = []
        result.reserveCapacity(Int(table.size / ELFSymbol.size))
        var o: UInt64 = 0
        while o < table.size {
            result.append(ELFSymbol(
                name: try ELFByteReader.string(in: strings, at: try r.u32(o, "st_name")),
                value: try r.u64(o + 8, "st_value"),
                size: try r.u64(o + 16, "st_size"),
                info: try r.u8(o + 4, "st_info"),
                other: try r.u8(o + 5, "st_other"),
                sectionIndex: try r.u16(o + 6, "st_shndx")))
            o += ELFSymbol.size
        }
        return result
    }
}
