/// Dynamic section tags Kiln reads (elf.h DT_*).
public enum ELFDynamicTag {
    public static let null: Int64 = 0, needed: Int64 = 1, pltRelSize: Int64 = 2, stringTable: Int64 = 5
    public static let symbolTable: Int64 = 6, rela: Int64 = 7, relaSize: Int64 = 8, stringTableSize: Int64 = 10
    public static let soname: Int64 = 14, rpath: Int64 = 15, textRelocations: Int64 = 22, jumpRelocations: Int64 = 23
    public static let flags: Int64 = 30, runpath: Int64 = 29
    /// DT_FLAGS bit DF_TEXTREL.
    public static let flagTextRelocations: UInt64 = 0x4
}

/// One (d_tag, d_val) pair of the dynamic section.
public struct ELFDynamicEntry: Equatable, Sendable {
    public var tag: Int64
    public var value: UInt64
}

/// What the dynamic section says about a file's dependencies and loading.
public struct ELFDynamicInfo: Equatable, Sendable {
    public var entries: [ELFDynamicEntry]
    /// DT_NEEDED names, in order.
    public var needed: [String]
    /// DT_RUNPATH and DT_RPATH, split at ':'.
    public var runpath: [String]
    public var rpath: [String]
    public var soname: String?
    /// DT_TEXTREL present or DF_TEXTREL set: the loader writes into executable pages.
    public var hasTextRelocations: Bool

    /// The first value of `tag`.
    public func value(_ tag: Int64) -> UInt64? { entries.first { $0.tag == tag }?.value }
}

extension ELFFile {
    /// The dynamic section (from PT_DYNAMIC), or nil for static files.
    public func dynamicInfo() throws -> ELFDynamicInfo? {
        guard let segment = programHeaders.first(where: { $0.type == ELFSegmentType.dynamic }) else { return nil }
        let table = try fileBytes(of: segment)
        let r = ELFByteReader(table)
        var entries: [ELFDynamicEntry] = []
        var offset: UInt64 = 0
        while offset + 16 <= UInt64(table.count) {
            let tag = Int64(bitPattern: try r.u64(offset, "d_tag"))
            if tag == ELFDynamicTag.null { break }
            entries.append(ELFDynamicEntry(tag: tag, value: try r.u64(offset + 8, "d_val")))
            offset += 16
        }
        let stringRefs: Set<Int64> = [ELFDynamicTag.needed, ELFDynamicTag.rpath, ELFDynamicTag.runpath, ELFDynamicTag.soname]
        var strings: UnsafeRawBufferPointer?
        if entries.contains(where: { stringRefs.contains($0.tag) }) {
            guard let address = entries.first(where: { $0.tag == ELFDynamicTag.stringTable })?.value,
                  let size = entries.first(where: { $0.tag == ELFDynamicTag.stringTableSize })?.value else {
                throw ELFTableError.missingStringTable
            }
            guard let fileOffset = fileOffset(ofVirtualAddress: address) else {
                throw ELFTableError.unmappedAddress(what: "DT_STRTAB", address: address)
            }
            strings = try bytes(at: fileOffset, count: size, what: "dynamic string table")
        }
        func string(_ value: UInt64) throws -> String {
            guard let strings, value <= UInt64(UInt32.max) else { throw ELFError.badString(offset: UInt32(truncatingIfNeeded: value)) }
            return try ELFByteReader.string(in: strings, at: UInt32(value))
        }
        var info = ELFDynamicInfo(entries: entries, needed: [], runpath: [], rpath: [], soname: nil, hasTextRelocations: false)
        for e in entries {
            switch e.tag {
            case ELFDynamicTag.needed: info.needed.append(try string(e.value))
            case ELFDynamicTag.runpath: info.runpath += try string(e.value).split(separator: ":").map(String.init)
            case ELFDynamicTag.rpath: info.rpath += try string(e.value).split(separator: ":").map(String.init)
            case ELFDynamicTag.soname: info.soname = try string(e.value)
            case ELFDynamicTag.textRelocations: info.hasTextRelocations = true
            case ELFDynamicTag.flags: if e.value & ELFDynamicTag.flagTextRelocations != 0 { info.hasTextRelocations = true }
            default: break
            }
        }
        return info
    }
}
