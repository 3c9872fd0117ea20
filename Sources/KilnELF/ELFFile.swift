/// A parsed little-endian ELF64 file (EM_AARCH64 or EM_X86_64): file header, program headers
/// and section headers, read eagerly with every offset and count checked against the file.
/// Later tables (dynamic section, symbols, relocations) are read on demand through
/// `bytes(at:count:)` and `ELFByteReader`.
public struct ELFFile: Sendable {
    /// The storage the headers were read from; kept alive with the value.
    public let storage: ELFBytes
    public let header: ELFHeader
    public let programHeaders: [ELFProgramHeader]
    public let sectionHeaders: [ELFSectionHeader]

    /// Parses a copy of `bytes`.
    public init(bytes: [UInt8]) throws {
        try self.init(storage: ELFBytes(copying: bytes))
    }

    /// Maps and parses the file at `path`.
    public init(contentsOfFile path: String) throws {
        try self.init(storage: ELFBytes(mappingFileAt: path))
    }

    /// Parses bytes already in memory.
    public init(storage: ELFBytes) throws {
        self.storage = storage
        let reader = ELFByteReader(storage.buffer)
        let header = try ELFFile.parseHeader(reader)
        let sections = try ELFFile.parseSectionHeaders(reader, header: header)
        var resolvedHeader = header
        if let first = sections.first {
            // Extended numbering: the real values live in section header 0.
            if header.sectionHeaderCount == 0, header.sectionHeaderOffset != 0 { resolvedHeader.sectionHeaderCount = first.size }
            if header.programHeaderCount == 0xFFFF { resolvedHeader.programHeaderCount = first.info }
            if header.sectionNameTableIndex == 0xFFFF { resolvedHeader.sectionNameTableIndex = first.link }
        }
        let allSections = resolvedHeader.sectionHeaderCount == header.sectionHeaderCount
            ? sections : try ELFFile.parseSectionHeaders(reader, header: resolvedHeader)
        self.header = resolvedHeader
        self.programHeaders = try ELFFile.parseProgramHeaders(reader, header: resolvedHeader)
        self.sectionHeaders = try ELFFile.nameSections(reader, allSections, header: resolvedHeader)
    }

    /// The file's bytes in `offset ..< offset + count`, or `.outOfBounds` naming `what`.
    public func bytes(at offset: UInt64, count: UInt64, what: String = "range") throws -> UnsafeRawBufferPointer {
        try ELFByteReader(storage.buffer).slice(offset, count, what)
    }

    /// The bytes a segment takes from the file (p_offset, p_filesz).
    public func fileBytes(of segment: ELFProgramHeader) throws -> UnsafeRawBufferPointer {
        try bytes(at: segment.offset, count: segment.fileSize, what: "segment")
    }

    /// The bytes of a section (empty for SHT_NOBITS).
    public func fileBytes(of section: ELFSectionHeader) throws -> UnsafeRawBufferPointer {
        guard section.hasFileBytes else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return try bytes(at: section.offset, count: section.size, what: "section \(section.name)")
    }

    /// The PT_LOAD segment whose memory image contains `address`.
    public func loadSegment(containing address: UInt64) -> ELFProgramHeader? {
        programHeaders.first {
            $0.type == ELFSegmentType.load && address >= $0.virtualAddress && address - $0.virtualAddress < $0.memorySize
        }
    }

    /// The file offset holding the byte at virtual `address`, or nil when no PT_LOAD segment
    /// maps it from the file (outside every segment, or in a segment's zero-filled tail).
    public func fileOffset(ofVirtualAddress address: UInt64) -> UInt64? {
        guard let segment = loadSegment(containing: address) else { return nil }
        let delta = address - segment.virtualAddress
        guard delta < segment.fileSize else { return nil }
        let (offset, overflow) = segment.offset.addingReportingOverflow(delta)
        return overflow ? nil : offset
    }

    /// The first section called `name`.
    public func section(named name: String) -> ELFSectionHeader? {
        sectionHeaders.first { $0.name == name }
    }

    /// All notes: from PT_NOTE segments when there are any (what the loader sees), else from
    /// SHT_NOTE sections (relocatable objects).
    public func notes() throws -> [ELFNote] {
        let segments = programHeaders.filter { $0.type == ELFSegmentType.note }
        var notes: [ELFNote] = []
        if !segments.isEmpty {
            for segment in segments {
                notes += try ELFFile.parseNotes(fileBytes(of: segment), fileOffset: segment.offset, alignment: segment.alignment)
            }
        } else {
            for section in sectionHeaders where section.type == ELFSectionType.note {
                notes += try ELFFile.parseNotes(fileBytes(of: section), fileOffset: section.offset, alignment: section.addressAlignment)
            }
        }
        return notes
    }

    /// The GNU build-id (NT_GNU_BUILD_ID in a "GNU" note), if the file has one.
    public func buildID() throws -> [UInt8]? {
        try notes().first { $0.name == "GNU" && $0.type == ELFNote.gnuBuildIDType }?.descriptor
    }

    // MARK: parsing

    static func parseHeader(_ r: ELFByteReader) throws -> ELFHeader {
        guard r.count >= 4, try r.u32(0, "e_ident") == 0x464C_457F else { throw ELFError.badMagic }
        _ = try r.slice(0, UInt64(ELFHeader.size), "ELF header")
        let elfClass = try r.u8(4, "EI_CLASS")
        guard elfClass == 2 else { throw ELFError.unsupportedClass(elfClass) }
        let encoding = try r.u8(5, "EI_DATA")
        guard encoding == 1 else { throw ELFError.unsupportedEncoding(encoding) }
        let identVersion = try r.u8(6, "EI_VERSION")
        guard identVersion == 1 else { throw ELFError.unsupportedVersion(UInt32(identVersion)) }
        let machine = ELFMachine(rawValue: try r.u16(18, "e_machine"))
        guard machine == .aarch64 || machine == .x86_64 else { throw ELFError.unsupportedMachine(machine.rawValue) }
        let version = try r.u32(20, "e_version")
        guard version == 1 else { throw ELFError.unsupportedVersion(version) }
        let header = ELFHeader(
            osABI: try r.u8(7, "EI_OSABI"),
            abiVersion: try r.u8(8, "EI_ABIVERSION"),
            type: ELFFileType(rawValue: try r.u16(16, "e_type")),
            machine: machine,
            version: version,
            entry: try r.u64(24, "e_entry"),
            programHeaderOffset: try r.u64(32, "e_phoff"),
            sectionHeaderOffset: try r.u64(40, "e_shoff"),
            flags: try r.u32(48, "e_flags"),
            headerSize: try r.u16(52, "e_ehsize"),
            programHeaderEntrySize: try r.u16(54, "e_phentsize"),
            programHeaderCount: UInt32(try r.u16(56, "e_phnum")),
            sectionHeaderEntrySize: try r.u16(58, "e_shentsize"),
            sectionHeaderCount: UInt64(try r.u16(60, "e_shnum")),
            sectionNameTableIndex: UInt32(try r.u16(62, "e_shstrndx")))
        guard Int(header.headerSize) >= ELFHeader.size else { throw ELFError.badEntrySize(table: "ELF header", size: header.headerSize) }
        return header
    }

    static func parseProgramHeaders(_ r: ELFByteReader, header: ELFHeader) throws -> [ELFProgramHeader] {
        let count = header.programHeaderCount
        guard count > 0, header.programHeaderOffset != 0 else { return [] }
        let entrySize = UInt64(header.programHeaderEntrySize)
        guard entrySize >= UInt64(ELFProgramHeader.size) else {
            throw ELFError.badEntrySize(table: "program header", size: header.programHeaderEntrySize)
        }
        _ = try r.slice(header.programHeaderOffset, entrySize * UInt64(count), "program header table")
        var result: [ELFProgramHeader] = []
        result.reserveCapacity(Int(count))
        for i in 0..<UInt64(count) {
            let o = header.programHeaderOffset + i * entrySize
            result.append(ELFProgramHeader(
                type: try r.u32(o, "p_type"),
                flags: ELFSegmentFlags(rawValue: try r.u32(o + 4, "p_flags")),
                offset: try r.u64(o + 8, "p_offset"),
                virtualAddress: try r.u64(o + 16, "p_vaddr"),
                physicalAddress: try r.u64(o + 24, "p_paddr"),
                fileSize: try r.u64(o + 32, "p_filesz"),
                memorySize: try r.u64(o + 40, "p_memsz"),
                alignment: try r.u64(o + 48, "p_align")))
        }
        return result
    }

    static func parseSectionHeaders(_ r: ELFByteReader, header: ELFHeader) throws -> [ELFSectionHeader] {
        guard header.sectionHeaderOffset != 0 else { return [] }
        // e_shnum == 0 with a table present means "count in section 0": read that one first.
        let count = header.sectionHeaderCount == 0 ? 1 : header.sectionHeaderCount
        let entrySize = UInt64(header.sectionHeaderEntrySize)
        guard entrySize >= UInt64(ELFSectionHeader.size) else {
            throw ELFError.badEntrySize(table: "section header", size: header.sectionHeaderEntrySize)
        }
        let (total, overflow) = entrySize.multipliedReportingOverflow(by: count)
        guard !overflow else {
            throw ELFError.outOfBounds(what: "section header table", offset: header.sectionHeaderOffset,
                                      length: .max, fileSize: UInt64(r.count))
        }
        _ = try r.slice(header.sectionHeaderOffset, total, "section header table")
        var result: [ELFSectionHeader] = []
        result.reserveCapacity(Int(count))
        for i in 0..<count {
            let o = header.sectionHeaderOffset + i * entrySize
            result.append(ELFSectionHeader(
                name: "",
                nameOffset: try r.u32(o, "sh_name"),
                type: try r.u32(o + 4, "sh_type"),
                flags: try r.u64(o + 8, "sh_flags"),
                address: try r.u64(o + 16, "sh_addr"),
                offset: try r.u64(o + 24, "sh_offset"),
                size: try r.u64(o + 32, "sh_size"),
                link: try r.u32(o + 40, "sh_link"),
                info: try r.u32(o + 44, "sh_info"),
                addressAlignment: try r.u64(o + 48, "sh_addralign"),
                entrySize: try r.u64(o + 56, "sh_entsize")))
        }
        return result
    }

    static func nameSections(_ r: ELFByteReader, _ sections: [ELFSectionHeader], header: ELFHeader) throws -> [ELFSectionHeader] {
        guard !sections.isEmpty, header.sectionNameTableIndex != 0 else { return sections }
        let index = Int(header.sectionNameTableIndex)
        guard index < sections.count else {
            throw ELFError.badSectionIndex(what: "e_shstrndx", index: header.sectionNameTableIndex)
        }
        let table = sections[index]
        let strings = try r.slice(table.offset, table.size, "section name table")
        return try sections.map { section in
            var named = section
            named.name = try ELFByteReader.string(in: strings, at: section.nameOffset)
            return named
        }
    }

    /// Parses the notes in `bytes`; fields are padded to 8 bytes when the container is
    /// 8-aligned (e.g. .note.gnu.property), else to 4. Sizes are 32-bit, so the sums below
    /// cannot overflow 64 bits.
    static func parseNotes(_ bytes: UnsafeRawBufferPointer, fileOffset: UInt64, alignment: UInt64) throws -> [ELFNote] {
        let align: UInt64 = alignment == 8 ? 8 : 4
        let r = ELFByteReader(bytes)
        var notes: [ELFNote] = []
        var offset: UInt64 = 0
        let end = UInt64(bytes.count)
        while offset < end {
            guard end - offset >= 12 else { throw ELFError.badNote(offset: fileOffset + offset) }
            let nameSize = UInt64(try r.u32(offset, "n_namesz"))
            let descSize = UInt64(try r.u32(offset + 4, "n_descsz"))
            let type = try r.u32(offset + 8, "n_type")
            // Padding is relative to the note's start: with 8-byte alignment the descriptor
            // of a "GNU\0" note starts 16 bytes in, not 12 + 4.
            let nameStart = offset + 12
            let descStart = offset + roundUp(12 + nameSize, align)
            let next = roundUp(descStart + descSize, align)
            guard descStart + descSize <= end, nameStart + nameSize <= end else {
                throw ELFError.badNote(offset: fileOffset + offset)
            }
            let nameBytes = try r.slice(nameStart, nameSize, "note name")
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            let descriptor = [UInt8](try r.slice(descStart, descSize, "note descriptor"))
            notes.append(ELFNote(name: name, type: type, descriptor: descriptor))
            offset = next
        }
        return notes
    }
}

@inline(__always) func roundUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    (value + alignment - 1) & ~(alignment - 1)
}

/// Bounds-checked little-endian reads from a byte buffer. Offsets and lengths come from
/// untrusted files, so every read checks for overflow and range.
public struct ELFByteReader {
    public let buffer: UnsafeRawBufferPointer
    public init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    public var count: Int { buffer.count }

    /// `offset ..< offset + length`, or `.outOfBounds(what)`.
    public func slice(_ offset: UInt64, _ length: UInt64, _ what: String) throws -> UnsafeRawBufferPointer {
        let size = UInt64(buffer.count)
        guard offset <= size, length <= size - offset else {
            throw ELFError.outOfBounds(what: what, offset: offset, length: length, fileSize: size)
        }
        if length == 0 { return UnsafeRawBufferPointer(start: buffer.baseAddress.map { $0 + Int(offset) }, count: 0) }
        return UnsafeRawBufferPointer(rebasing: buffer[Int(offset)..<Int(offset + length)])
    }

    public func u8(_ offset: UInt64, _ what: String) throws -> UInt8 {
        try slice(offset, 1, what).load(as: UInt8.self)
    }

    public func u16(_ offset: UInt64, _ what: String) throws -> UInt16 {
        UInt16(littleEndian: try slice(offset, 2, what).loadUnaligned(as: UInt16.self))
    }

    public func u32(_ offset: UInt64, _ what: String) throws -> UInt32 {
        UInt32(littleEndian: try slice(offset, 4, what).loadUnaligned(as: UInt32.self))
    }

    public func u64(_ offset: UInt64, _ what: String) throws -> UInt64 {
        UInt64(littleEndian: try slice(offset, 8, what).loadUnaligned(as: UInt64.self))
    }

    /// The NUL-terminated string at `offset` in a string table.
    public static func string(in table: UnsafeRawBufferPointer, at offset: UInt32) throws -> String {
        let start = Int(offset)
        guard start < table.count else { throw ELFError.badString(offset: offset) }
        let tail = table[start...]
        guard let end = tail.firstIndex(of: 0) else { throw ELFError.badString(offset: offset) }
        return String(decoding: table[start..<end], as: UTF8.self)
    }
}
