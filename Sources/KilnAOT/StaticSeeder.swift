import KilnELF

/// Finds entry points in an ELF file without running it: from its metadata (entry point,
/// symbols, init/fini, PLT, unwind tables, relocated pointers) and from a linear sweep of its
/// code for call targets and formed code pointers. Every seed is an aligned address inside an
/// executable segment; anything else a table names is ignored.
public struct StaticSeeder {
    public let file: ELFFile
    public let image: ExecutableImage

    /// How many instructions after an ADRP its page is still paired with an ADD.
    static let adrpWindow = 16

    public init(file: ELFFile) throws {
        self.file = file
        self.image = try ExecutableImage(file)
    }

    /// All static seeds of the file.
    public func seeds() throws -> SeedSet {
        var seeds = SeedSet()
        addEntry(to: &seeds)
        try addSymbols(to: &seeds)
        try addInitFini(to: &seeds)
        addPLT(to: &seeds)
        try addUnwind(to: &seeds)
        try addRelocatedPointers(to: &seeds)
        try addAbsolutePointers(to: &seeds)
        sweep(into: &seeds)
        return seeds
    }

    private func add(_ address: UInt64, _ source: SeedSource, to seeds: inout SeedSet) {
        if image.containsCode(address) { seeds.insert(address, from: source) }
    }

    func addEntry(to seeds: inout SeedSet) {
        if file.header.entry != 0 { add(file.header.entry, .entry, to: &seeds) }
    }

    func addSymbols(to seeds: inout SeedSet) throws {
        for dynamic in [false, true] {
            for symbol in try file.symbols(dynamic: dynamic) where symbol.isDefined {
                // STT_FUNC, and STT_GNU_IFUNC whose value is the resolver's code.
                if symbol.type == 2 || symbol.type == 10 { add(symbol.value, .symbol, to: &seeds) }
            }
        }
    }

    /// DT_INIT, DT_FINI and the pointer arrays; in position-independent files the array slots
    /// hold zero and the pointers are R_AARCH64_RELATIVE addends, which `addRelocatedPointers`
    /// covers, so here the stored values are read for fixed-address files.
    func addInitFini(to seeds: inout SeedSet) throws {
        var arrays: [(address: UInt64, size: UInt64)] = []
        if let dynamic = try file.dynamicInfo() {
            for tag: Int64 in [12, 13] { if let address = dynamic.value(tag) { add(address, .initFini, to: &seeds) } }
            for (arrayTag, sizeTag): (Int64, Int64) in [(25, 27), (26, 28), (32, 33)] {
                if let address = dynamic.value(arrayTag), let size = dynamic.value(sizeTag) { arrays.append((address, size)) }
            }
        } else {
            for name in [".init_array", ".fini_array", ".preinit_array"] {
                if let section = file.section(named: name) { arrays.append((section.address, section.size)) }
            }
            for name in [".init", ".fini"] {
                if let section = file.section(named: name) { add(section.address, .initFini, to: &seeds) }
            }
        }
        for array in arrays where array.size % 8 == 0 && array.size <= 1 << 20 {
            guard let offset = file.fileOffset(ofVirtualAddress: array.address),
                  let bytes = try? file.bytes(at: offset, count: array.size, what: "init/fini array") else { continue }
            for index in 0 ..< Int(array.size / 8) {
                add(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)), .initFini, to: &seeds)
            }
        }
    }

    /// AArch64 PLT: a 32-byte header (PLT0) then 16-byte stubs; .iplt (static ifuncs) has no header.
    func addPLT(to seeds: inout SeedSet) {
        for (name, header) in [(".plt", UInt64(32)), (".iplt", UInt64(0))] {
            guard let section = file.section(named: name), section.size >= header else { continue }
            if header > 0 { add(section.address, .plt, to: &seeds) }
            var stub = section.address + header
            while stub + 16 <= section.address + section.size {
                add(stub, .plt, to: &seeds)
                stub += 16
            }
        }
    }

    func addUnwind(to seeds: inout SeedSet) throws {
        guard let header = try file.ehFrameHeader() else { return }
        for entry in header.table { add(entry.location, .unwind, to: &seeds) }
    }

    func addRelocatedPointers(to seeds: inout SeedSet) throws {
        for table in try file.relocationTables() {
            for relocation in table.relocations {
                // R_AARCH64_RELATIVE (1027) and R_AARCH64_IRELATIVE (1032): base + addend.
                guard relocation.type == 1027 || relocation.type == 1032, relocation.addend > 0 else { continue }
                add(UInt64(relocation.addend), .dataPointer, to: &seeds)
            }
        }
    }

    /// In a fixed-address executable (ET_EXEC), pointers to code in data need no relocation,
    /// so they are found by value: every aligned 64-bit word of a loaded segment outside the
    /// code ranges that names an instruction in a code range (function pointer tables,
    /// computed-goto label tables). Read-only data counts too: GCC places tables it sees never
    /// written in .rodata, inside the executable segment (CPython's opcode_targets).
    /// Position-independent files carry such pointers as relocations instead.
    func addAbsolutePointers(to seeds: inout SeedSet) throws {
        guard file.header.type == .executable else { return }
        let code = image.codeRanges
        for segment in file.programHeaders where segment.type == ELFSegmentType.load {
            let bytes = try file.fileBytes(of: segment)
            // Alignment is relative to the address, which is what the loader preserves.
            var offset = Int((8 &- (segment.virtualAddress & 7)) & 7)
            var range = 0
            while offset + 8 <= bytes.count {
                let address = segment.virtualAddress &+ UInt64(offset)
                while range < code.count, code[range].upperBound <= address { range += 1 }
                if range < code.count, code[range].lowerBound < address &+ 8 {
                    // Skip the instructions: words there are code, not pointers.
                    let end = code[range].upperBound
                    offset += Int((end &- address + 7) & ~7)
                    continue
                }
                let value = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                add(value, .dataPointer, to: &seeds)
                offset += 8
            }
        }
    }

    /// One pass over every executable segment: BL targets, ADR targets, and ADRP+ADD pairs.
    func sweep(into seeds: inout SeedSet) {
        for segment in image.segments {
            // Per destination register: (page from ADRP, index of that ADRP).
            var pages = [(page: UInt64, at: Int)](repeating: (0, Int.min / 2), count: 32)
            let count = segment.bytes.count / 4
            for index in 0 ..< count {
                let word = UInt32(littleEndian: segment.bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
                let pc = segment.address + UInt64(index * 4)
                if word & 0xFC00_0000 == 0x9400_0000 {                 // BL imm26
                    add(pc &+ A64Immediate.branch26(word), .callTarget, to: &seeds)
                } else if word & 0x9F00_0000 == 0x1000_0000 {          // ADR
                    add(pc &+ A64Immediate.adr21(word), .codePointer, to: &seeds)
                } else if word & 0x9F00_0000 == 0x9000_0000 {          // ADRP
                    pages[Int(word & 31)] = ((pc & ~0xFFF) &+ (A64Immediate.adr21(word) << 12), index)
                } else if word & 0xFFC0_0000 == 0x9100_0000 {          // ADD Xd, Xn, #imm12 (no shift)
                    let source = pages[Int((word >> 5) & 31)]
                    if index - source.at <= Self.adrpWindow {
                        add(source.page &+ UInt64((word >> 10) & 0xFFF), .codePointer, to: &seeds)
                    }
                } else if word & 0xFFFF_FC1F == 0xD61F_0000 {          // BR Xn
                    for target in jumpTableTargets(endingAt: index, in: segment) { add(target, .jumpTable, to: &seeds) }
                }
            }
        }
    }
}

extension StaticSeeder {
    /// Most cases a switch statement's jump table can have before we stop trusting the match.
    static let maxJumpTableEntries = 4096
    /// How far before its ADD the ADRP of a jump table's address may be.
    static let adrpScheduleWindow = 6

    /// The targets of the switch dispatch that ends in the BR at `index`, in the shape GCC and
    /// Clang emit for AArch64:
    ///
    ///     cmp   wI, #N ; b.hi default          bound: N + 1 cases (or b.ls to the dispatch)
    ///     adrp  xT, table ; add xT, xT, #lo    table of byte or halfword offsets (other
    ///                                          instructions may sit between the two)
    ///     ldrb  wE, [xT, wI, uxtw]             (ldrh ... uxtw #1)
    ///     adr   xB, base
    ///     add   xD, xB, wE, sxtb #2            (sxth #2)
    ///     br    xD
    ///
    /// Anything that does not match exactly yields no targets: a missed table costs a JIT
    /// translation at run time, a wrong one would only cost a useless cache entry.
    func jumpTableTargets(endingAt index: Int, in segment: ExecutableImage.Segment) -> [UInt64] {
        func word(_ i: Int) -> UInt32? {
            guard i >= 0, (i + 1) * 4 <= segment.bytes.count else { return nil }
            return UInt32(littleEndian: segment.bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
        }
        func pc(_ i: Int) -> UInt64 { segment.address + UInt64(i * 4) }
        // The page an ADRP of `register` shortly before instruction `i` formed (compilers
        // schedule other instructions between the ADRP and its ADD).
        func pageAddress(before i: Int, register: UInt32) -> UInt64? {
            for back in 1 ... Self.adrpScheduleWindow {
                guard let w = word(i - back) else { return nil }
                if w & 0x9F00_0000 == 0x9000_0000, w & 31 == register {
                    return (pc(i - back) & ~0xFFF) &+ (A64Immediate.adr21(w) << 12)
                }
                if w & 31 == register { return nil }
            }
            return nil
        }
        guard let br = word(index), let addWord = word(index - 1), let adrWord = word(index - 2),
              let loadWord = word(index - 3) else { return [] }
        let target = (br >> 5) & 31
        // add xD, xB, wE, sxtb|sxth #2
        guard addWord & 0xFFE0_1C00 == 0x8B20_0800, addWord & 31 == target else { return [] }
        let option = (addWord >> 13) & 7
        guard option == 0b100 || option == 0b101 else { return [] }
        let entryBytes = option == 0b100 ? 1 : 2
        let entryRegister = (addWord >> 16) & 31, baseRegister = (addWord >> 5) & 31
        // adr xB, base
        guard adrWord & 0x9F00_0000 == 0x1000_0000, adrWord & 31 == baseRegister else { return [] }
        let base = pc(index - 2) &+ A64Immediate.adr21(adrWord)
        // ldrb wE, [xT, wI, uxtw] or ldrh wE, [xT, wI, uxtw #1]
        let expectedLoad: UInt32 = entryBytes == 1 ? 0x3860_4800 : 0x7860_5800
        guard loadWord & 0xFFE0_FC00 == expectedLoad, loadWord & 31 == entryRegister else { return [] }
        let tableRegister = (loadWord >> 5) & 31, indexRegister = (loadWord >> 16) & 31
        // adrp xT / add xT, xT, #lo somewhere in the few instructions before the load.
        var table: UInt64?
        var bound: Int?
        for back in 4 ... 24 {
            guard let w = word(index - back) else { break }
            if table == nil, w & 0xFFC0_0000 == 0x9100_0000, w & 31 == tableRegister, (w >> 5) & 31 == tableRegister,
               let page = pageAddress(before: index - back, register: tableRegister) {
                table = page &+ UInt64((w >> 10) & 0xFFF)
            }
            // cmp wI, #N (SUBS wzr, wI, #N) directly followed by b.hi (to the default) or b.ls
            // (to the dispatch)
            if bound == nil, w & 0xFFC0_001F == 0x7100_001F, (w >> 5) & 31 == indexRegister,
               let branch = word(index - back + 1), branch & 0xFF00_001E == 0x5400_0008 {
                bound = Int((w >> 10) & 0xFFF) + 1
            }
            if table != nil && bound != nil { break }
        }
        guard let table, let bound, bound <= Self.maxJumpTableEntries,
              let offset = file.fileOffset(ofVirtualAddress: table),
              let entries = try? file.bytes(at: offset, count: UInt64(bound * entryBytes), what: "jump table") else { return [] }
        return (0 ..< bound).map { i in
            let delta = entryBytes == 1 ? Int64(Int8(bitPattern: entries[i]))
                : Int64(Int16(bitPattern: UInt16(entries[2 * i]) | UInt16(entries[2 * i + 1]) << 8))
            return base &+ UInt64(bitPattern: delta << 2)
        }
    }
}

/// Immediate fields of the few A64 encodings the seeder reads directly.
enum A64Immediate {
    /// B/BL imm26, scaled by 4 and sign-extended.
    @inline(__always) static func branch26(_ word: UInt32) -> UInt64 {
        UInt64(bitPattern: Int64(Int32(bitPattern: word << 6) >> 4))
    }

    /// ADR/ADRP immhi:immlo, sign-extended (unscaled).
    @inline(__always) static func adr21(_ word: UInt32) -> UInt64 {
        let raw = ((word >> 5) & 0x7FFFF) << 2 | (word >> 29) & 3
        return UInt64(bitPattern: Int64(Int32(bitPattern: raw << 11) >> 11))
    }
}
