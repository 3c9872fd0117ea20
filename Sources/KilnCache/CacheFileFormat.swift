/// Cache file format v6; docs/CACHE-FORMAT.md is the normative description. All integers are
/// little-endian; every offset is from the start of the file.
public enum CacheFormat {
    public static let magic: [UInt8] = Array("KILNCACH".utf8)
    public static let version: UInt32 = 6
    public static let pageSize = 4096

    /// Fixed part of the header; the section table follows, then the 8-byte header hash.
    public static let fixedHeaderSize = 184
    public static let sectionRecordSize = 32
    public static let entryRecordSize = 72
    public static let slotRecordSize = 24
    /// Host code of each entry starts on this boundary inside the code section.
    public static let codeAlignment = 16
    /// Bytes between entries' code: int3, so a stray jump traps.
    public static let codePadding: UInt8 = 0xCC
    /// Sanity bound on section and entry counts, far above anything a real region produces.
    public static let maximumSections = 8
    /// The guest page index counts 4 KiB pages.
    public static let guestPageShift: UInt64 = 12
    /// Bytes before the page index's entries: first page (u64), page count (u64).
    public static let pageIndexHeaderSize = 16
    /// Bytes before the guest order's pairs: the hot entry count (u64).
    public static let guestOrderHeaderSize = 8
    /// One guest-order pair: the entry's guest offset (u32), its index (u32).
    public static let guestOrderRecordSize = 8
    /// Regions whose entries span more guest pages than this (16 GiB) cannot be written.
    public static let maximumIndexedPages: UInt64 = 1 << 22

    // Header field offsets.
    static let versionOffset = 8
    static let headerSizeOffset = 12
    static let fileSizeOffset = 16
    static let sectionCountOffset = 24
    static let flagsOffset = 28
    static let configurationOffset = 32
    static let configurationHashOffset = 72
    static let contentHashOffset = 80
    static let buildIDLengthOffset = 96
    static let buildIDOffset = 104
    static let entryCountOffset = 168
    static let tableSlotsOffset = 176

    static func headerSize(sectionCount: Int) -> Int { fixedHeaderSize + sectionRecordSize * sectionCount + 8 }
}

/// The kinds of section, in the order they appear in the table and in the file.
public enum CacheSectionKind: UInt32, CaseIterable, Sendable {
    /// Entry records in code order: hot entries first, each part by guest offset.
    case entries = 1
    /// Table-slot initialisers, each entry's a contiguous run.
    case slots = 2
    /// Serialized IR, for verify mode and re-optimisation (optional).
    case ir = 3
    /// Per guest page, the position of its first entry in the guest order: a lookup searches
    /// one page's entries.
    case pages = 4
    /// (guest offset, entry index) pairs by guest offset, for lookups.
    case guestOrder = 5
    /// Host code, page-aligned and last, so it maps read-only and executable on its own.
    case code = 6

    public var name: String {
        switch self {
        case .entries: return "entries"
        case .slots: return "slots"
        case .ir: return "ir"
        case .pages: return "pages"
        case .guestOrder: return "guest-order"
        case .code: return "code"
        }
    }
}

/// One row of the section table.
public struct CacheSection: Equatable, Sendable {
    public var kind: CacheSectionKind
    public var offset: UInt64
    public var length: UInt64
    /// XXH3-64 of the section's bytes.
    public var hash: UInt64
}

/// What a table slot must hold before an entry first runs. Cached code is never patched: its
/// RIP-relative references were resolved at bake time to slots of a per-process writable table
/// the runtime maps right after the code section, and the runtime fills the slots.
public enum CacheSlotKind: UInt8, CaseIterable, Sendable {
    /// slot = region base + target (a guest address inside the region; invariant 1).
    case regionAddress = 1
    /// slot = address of runtime helper number `target`.
    case helper = 2
    /// A chainable exit: slot = the exit's stub (code section + entry code offset + `addend`)
    /// until chaining stores the host code of the guest block at region offset `target`.
    case link = 3

    public var name: String {
        switch self {
        case .regionAddress: return "region-address"
        case .helper: return "helper"
        case .link: return "link"
        }
    }
}

/// One table-slot initialiser of an entry.
public struct CacheSlotInitializer: Hashable, Sendable {
    public var kind: CacheSlotKind
    /// Slot number inside the entry's table.
    public var slot: UInt32
    public var target: UInt64
    /// For `.link`: offset of the exit's stub in the entry's code. Zero otherwise.
    public var addend: UInt64

    public init(kind: CacheSlotKind, slot: UInt32, target: UInt64, addend: UInt64 = 0) {
        self.kind = kind
        self.slot = slot
        self.target = target
        self.addend = addend
    }
}

/// A 32-bit RIP-relative displacement in an entry's code that must reach one of the entry's
/// table slots. Resolved by `CacheFileBuilder` (and by verify mode, to compare); not stored.
public struct CacheTableReference: Hashable, Sendable {
    /// Offset of the 32-bit field in the entry's code.
    public var fieldOffset: UInt32
    /// Offset of the end of the instruction holding it (RIP at execution).
    public var instructionEnd: UInt32
    /// Slot number inside the entry's table.
    public var slot: UInt32

    public init(fieldOffset: UInt32, instructionEnd: UInt32, slot: UInt32) {
        self.fieldOffset = fieldOffset
        self.instructionEnd = instructionEnd
        self.slot = slot
    }
}

/// The hash each entry record carries over its own record, slot initialisers and resolved
/// code, checked on the entry's first use: the runtime attaches a file without reading its
/// sections (their hashes are checked by `kiln cache verify`), so a corrupt byte is found in
/// the entry that holds it, and only the pages of entries a run uses are ever read.
public enum CacheEntryHash {
    /// XXH3-64 of the code, seeded with the XXH3-64 of the slot records, seeded with the
    /// XXH3-64 of the first 64 record bytes. Chained seeds read each part where it lies: format
    /// v3 copied the three into one buffer first, and that copy was the first touch of the
    /// entry's code (3% of a baked run's samples).
    public static func hash(record: UnsafeRawBufferPointer, slots: UnsafeRawBufferPointer, code: UnsafeRawBufferPointer) -> UInt64 {
        XXH3.hash64(code, seed: XXH3.hash64(slots, seed: XXH3.hash64(record)))
    }

    static func hash(record: ArraySlice<UInt8>, slots: ArraySlice<UInt8>, code: ArraySlice<UInt8>) -> UInt64 {
        record.withUnsafeBytes { r in slots.withUnsafeBytes { s in code.withUnsafeBytes { c in hash(record: r, slots: s, code: c) } } }
    }
}

/// Where the per-process table area sits relative to the code section: right after its last
/// page, so one reservation holds the file's code (read+execute) and the tables (read+write).
public enum CacheTableLayout {
    /// Offset of the table area from the start of the code section.
    public static func tableAreaOffset(codeLength: Int) -> Int {
        (codeLength + CacheFormat.pageSize - 1) / CacheFormat.pageSize * CacheFormat.pageSize
    }

    /// Writes every reference's displacement into `code` (an entry's code placed at
    /// `codeOffset` in the code section, its table at slot `tableOffset` of the table area).
    /// Returns false when a displacement does not fit in 32 bits or a field lies outside `code`.
    public static func resolve(_ code: inout [UInt8], references: [CacheTableReference], codeOffset: Int,
                               tableOffset: Int, tableAreaOffset: Int) -> Bool {
        for r in references {
            let target = tableAreaOffset + (tableOffset + Int(r.slot)) * 8
            let displacement = target - (codeOffset + Int(r.instructionEnd))
            guard let d = Int32(exactly: displacement), Int(r.fieldOffset) + 4 <= code.count else { return false }
            withUnsafeBytes(of: d.littleEndian) { bytes in
                for k in 0..<4 { code[Int(r.fieldOffset) + k] = bytes[k] }
            }
        }
        return true
    }
}

/// Entry flag bits.
public struct CacheEntryFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The translation ends in a direct exit that falls through to the next guest block.
    public static let fallsThrough = CacheEntryFlags(rawValue: 1 << 0)
    /// Its guest address can be reached by an indirect branch (a function's start, an address
    /// taken in code or data, a jump-table case): the runtime enters it in the thread's
    /// indirect-branch table when it prepares the entry's hot chunk, so the first BR or BLR
    /// to it does not leave translated code.
    public static let indirectTarget = CacheEntryFlags(rawValue: 1 << 1)
    public static let known: CacheEntryFlags = [.fallsThrough, .indirectTarget]
}

/// One translation to store: the guest bytes it came from, its code with unresolved table
/// references, its table size and slot initialisers, and optional IR.
public struct CacheEntryInput: Sendable {
    /// Offset of the first guest instruction from the region base.
    public var guestOffset: UInt64
    public var guestLength: UInt32
    /// XXH3-64 of the guest bytes `guestOffset ..< guestOffset + guestLength`.
    public var guestHash: UInt64
    public var code: [UInt8]
    /// Number of 8-byte slots the entry's table needs.
    public var tableSlots: UInt32
    public var references: [CacheTableReference]
    public var initializers: [CacheSlotInitializer]
    public var ir: [UInt8]
    public var flags: CacheEntryFlags
    /// Recorded by a real run (a codemap): placed with the other hot entries at the start of
    /// the code, slots and table area, so a run like it touches few pages.
    public var hot = false

    public init(guestOffset: UInt64, guestLength: UInt32, guestHash: UInt64, code: [UInt8], tableSlots: UInt32 = 0,
                references: [CacheTableReference] = [], initializers: [CacheSlotInitializer] = [],
                ir: [UInt8] = [], flags: CacheEntryFlags = []) {
        self.guestOffset = guestOffset
        self.guestLength = guestLength
        self.guestHash = guestHash
        self.code = code
        self.tableSlots = tableSlots
        self.references = references
        self.initializers = initializers
        self.ir = ir
        self.flags = flags
    }
}

/// Why a set of entries cannot be written.
public enum CacheBuildError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicateGuestOffset(UInt64)
    case emptyGuestRange(UInt64)
    case slotOutsideTable(guestOffset: UInt64, slot: UInt32)
    case stubOutsideCode(guestOffset: UInt64, offset: UInt64)
    case referenceUnresolvable(guestOffset: UInt64)
    case tooLarge(String)
    case unknownFlags(UInt32)

    public var description: String {
        switch self {
        case let .duplicateGuestOffset(o): return "two entries at guest offset 0x\(String(o, radix: 16))"
        case let .emptyGuestRange(o): return "entry at 0x\(String(o, radix: 16)) covers no guest bytes"
        case let .slotOutsideTable(g, n): return "entry 0x\(String(g, radix: 16)): slot \(n) outside its table"
        case let .stubOutsideCode(g, o): return "entry 0x\(String(g, radix: 16)): link stub at \(o) outside its code"
        case let .referenceUnresolvable(g): return "entry 0x\(String(g, radix: 16)): a table reference lies outside its code or beyond 2 GiB"
        case let .tooLarge(what): return "\(what) exceeds the format's 32-bit limit"
        case let .unknownFlags(f): return "unknown entry flags 0x\(String(f, radix: 16))"
        }
    }
}

/// Serializes a key and its entries into the bytes of one cache file. The same inputs give
/// the same bytes, whatever order the entries come in.
public enum CacheFileBuilder {
    public static func build(key: CacheKey, entries input: [CacheEntryInput]) throws -> [UInt8] {
        let entries = input.sorted { $0.guestOffset < $1.guestOffset }
        var previous: UInt64?
        for entry in entries {
            if entry.guestOffset == previous { throw CacheBuildError.duplicateGuestOffset(entry.guestOffset) }
            previous = entry.guestOffset
            guard entry.guestLength > 0, entry.guestOffset.addingReportingOverflow(UInt64(entry.guestLength)).overflow == false else {
                throw CacheBuildError.emptyGuestRange(entry.guestOffset)
            }
            guard CacheEntryFlags.known.isSuperset(of: entry.flags) else { throw CacheBuildError.unknownFlags(entry.flags.rawValue) }
            guard entry.code.count <= Int(UInt32.max), entry.ir.count <= Int(UInt32.max), entry.initializers.count <= Int(UInt32.max) else {
                throw CacheBuildError.tooLarge("entry 0x\(String(entry.guestOffset, radix: 16))")
            }
        }
        guard entries.count < Int(UInt32.max) else { throw CacheBuildError.tooLarge("entry count") }
        guard entries.last.map({ $0.guestOffset <= UInt64(UInt32.max) }) ?? true else { throw CacheBuildError.tooLarge("guest offset") }
        // Hot entries (each part in guest order) come first in the records, code, slots and
        // table area, so a run like the one that recorded them reads a dense prefix of each
        // instead of lines all over the file. The guest-order section serves lookups.
        let placement = entries.indices.filter { entries[$0].hot } + entries.indices.filter { !entries[$0].hot }
        var position = [Int](repeating: 0, count: entries.count)
        for (p, n) in placement.enumerated() { position[n] = p }

        // Pass 1: place code and tables; the table area follows the code's last page.
        var codeOffsets = [Int](repeating: 0, count: entries.count)
        var tableOffsets = [UInt64](repeating: 0, count: entries.count)
        var codeLength = 0
        var tableSlots: UInt64 = 0
        for n in placement {
            guard tableSlots <= UInt64(UInt32.max) else { throw CacheBuildError.tooLarge("table slot count") }
            codeLength = (codeLength + CacheFormat.codeAlignment - 1) / CacheFormat.codeAlignment * CacheFormat.codeAlignment
            codeOffsets[n] = codeLength
            codeLength += entries[n].code.count
            tableOffsets[n] = tableSlots
            tableSlots += UInt64(entries[n].tableSlots)
        }
        guard tableSlots <= UInt64(UInt32.max) else { throw CacheBuildError.tooLarge("table slot count") }
        let tableAreaOffset = CacheTableLayout.tableAreaOffset(codeLength: codeLength)
        let guestOffsets = entries.map(\.guestOffset)
        let pageIndex = try pageIndexBytes(guestOffsets)
        var guestOrder: [UInt8] = []
        guestOrder.reserveCapacity(CacheFormat.guestOrderHeaderSize + CacheFormat.guestOrderRecordSize * entries.count)
        guestOrder.appendLittleEndian(UInt64(entries.count { $0.hot }))
        for (n, entry) in entries.enumerated() {
            guestOrder.appendLittleEndian(UInt32(entry.guestOffset))
            guestOrder.appendLittleEndian(UInt32(position[n]))
        }

        // Pass 2: resolve references and serialize, in placement order.
        var entryBytes: [UInt8] = []
        var slotBytes: [UInt8] = []
        var irBytes: [UInt8] = []
        var codeBytes: [UInt8] = []
        entryBytes.reserveCapacity(CacheFormat.entryRecordSize * entries.count)
        codeBytes.reserveCapacity(codeLength)
        var slotCount: UInt64 = 0
        for n in placement {
            let entry = entries[n]
            while codeBytes.count < codeOffsets[n] { codeBytes.append(CacheFormat.codePadding) }
            guard slotCount + UInt64(entry.initializers.count) <= UInt64(UInt32.max) else { throw CacheBuildError.tooLarge("slot initialiser count") }
            var code = entry.code
            for r in entry.references where r.slot >= entry.tableSlots {
                throw CacheBuildError.slotOutsideTable(guestOffset: entry.guestOffset, slot: r.slot)
            }
            guard CacheTableLayout.resolve(&code, references: entry.references, codeOffset: codeOffsets[n],
                                           tableOffset: Int(tableOffsets[n]), tableAreaOffset: tableAreaOffset) else {
                throw CacheBuildError.referenceUnresolvable(guestOffset: entry.guestOffset)
            }
            var record: [UInt8] = []
            record.reserveCapacity(CacheFormat.entryRecordSize)
            record.appendLittleEndian(entry.guestOffset)
            record.appendLittleEndian(entry.guestHash)
            record.appendLittleEndian(UInt64(codeOffsets[n]))
            record.appendLittleEndian(UInt64(irBytes.count))
            record.appendLittleEndian(entry.guestLength)
            record.appendLittleEndian(UInt32(entry.code.count))
            record.appendLittleEndian(UInt32(slotCount))
            record.appendLittleEndian(UInt32(entry.initializers.count))
            record.appendLittleEndian(UInt32(entry.ir.count))
            record.appendLittleEndian(entry.flags.rawValue)
            record.appendLittleEndian(UInt32(tableOffsets[n]))
            record.appendLittleEndian(entry.tableSlots)
            let slotStart = slotBytes.count
            for initializer in entry.initializers {
                guard initializer.slot < entry.tableSlots else {
                    throw CacheBuildError.slotOutsideTable(guestOffset: entry.guestOffset, slot: initializer.slot)
                }
                if initializer.kind == .link, initializer.addend >= UInt64(entry.code.count) {
                    throw CacheBuildError.stubOutsideCode(guestOffset: entry.guestOffset, offset: initializer.addend)
                }
                slotBytes.append(initializer.kind.rawValue)
                slotBytes += [0, 0, 0]
                slotBytes.appendLittleEndian(initializer.slot)
                slotBytes.appendLittleEndian(initializer.target)
                guard initializer.kind == .link || initializer.addend == 0 else {
                    throw CacheBuildError.stubOutsideCode(guestOffset: entry.guestOffset, offset: initializer.addend)
                }
                slotBytes.appendLittleEndian(UInt32(initializer.addend))
                // The entry a link goes to, when this file holds it: the runtime chains to it
                // without searching the index.
                let target = initializer.kind == .link ? firstIndex(of: initializer.target, in: guestOffsets) : nil
                slotBytes.appendLittleEndian(target.map { UInt32(position[$0] + 1) } ?? 0)
            }
            slotCount += UInt64(entry.initializers.count)
            record.appendLittleEndian(CacheEntryHash.hash(record: record[...], slots: slotBytes[slotStart...], code: code[...]))
            entryBytes += record
            codeBytes += code
            irBytes += entry.ir
        }

        var payloads: [(CacheSectionKind, [UInt8])] = [(.entries, entryBytes), (.slots, slotBytes)]
        if !irBytes.isEmpty { payloads.append((.ir, irBytes)) }
        payloads.append((.pages, pageIndex))
        payloads.append((.guestOrder, guestOrder))
        payloads.append((.code, codeBytes))

        let headerSize = CacheFormat.headerSize(sectionCount: payloads.count)
        var sections: [CacheSection] = []
        var cursor = UInt64(headerSize)
        for (kind, bytes) in payloads {
            let alignment = UInt64(kind == .code ? CacheFormat.pageSize : 8)
            cursor = (cursor + alignment - 1) / alignment * alignment
            sections.append(CacheSection(kind: kind, offset: cursor, length: UInt64(bytes.count), hash: XXH3.hash64(bytes)))
            cursor += UInt64(bytes.count)
        }
        let fileSize = cursor

        var file: [UInt8] = []
        file.reserveCapacity(Int(fileSize))
        file += CacheFormat.magic
        file.appendLittleEndian(CacheFormat.version)
        file.appendLittleEndian(UInt32(headerSize))
        file.appendLittleEndian(fileSize)
        file.appendLittleEndian(UInt32(sections.count))
        file.appendLittleEndian(UInt32(0))
        file += key.configuration.encoded
        file.appendLittleEndian(key.configurationHash)
        file.appendLittleEndian(key.identity.contentHash.low64)
        file.appendLittleEndian(key.identity.contentHash.high64)
        file.append(UInt8(key.identity.buildID.count))
        file += [UInt8](repeating: 0, count: 7)
        file += key.identity.buildID
        file += [UInt8](repeating: 0, count: ContentIdentity.maximumBuildIDLength - key.identity.buildID.count)
        file.appendLittleEndian(UInt64(entries.count))
        file.appendLittleEndian(tableSlots)
        for section in sections {
            file.appendLittleEndian(section.kind.rawValue)
            file.appendLittleEndian(UInt32(0))
            file.appendLittleEndian(section.offset)
            file.appendLittleEndian(section.length)
            file.appendLittleEndian(section.hash)
        }
        file.appendLittleEndian(XXH3.hash64(file))
        for ((_, bytes), section) in zip(payloads, sections) {
            file += [UInt8](repeating: 0, count: Int(section.offset) - file.count)
            file += bytes
        }
        return file
    }

    /// The index of `offset` in the ascending `offsets`, if present.
    static func firstIndex(of offset: UInt64, in offsets: [UInt64]) -> Int? {
        var low = 0, high = offsets.count
        while low < high {
            let mid = (low + high) / 2
            if offsets[mid] < offset { low = mid + 1 } else { high = mid }
        }
        return low < offsets.count && offsets[low] == offset ? low : nil
    }

    /// The pages section for entries at the ascending `offsets`: first page, page count, then
    /// for each page from the first entry's to the last entry's, and once more for the end,
    /// the position in the guest order of the first entry at or after the page's start.
    static func pageIndexBytes(_ offsets: [UInt64]) throws -> [UInt8] {
        let shift = CacheFormat.guestPageShift
        let first = offsets.first.map { $0 >> shift } ?? 0
        let pages = offsets.last.map { ($0 >> shift) - first + 1 } ?? 0
        guard pages <= CacheFormat.maximumIndexedPages else { throw CacheBuildError.tooLarge("guest page count \(pages)") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(CacheFormat.pageIndexHeaderSize + 4 * (Int(pages) + 1))
        bytes.appendLittleEndian(first)
        bytes.appendLittleEndian(pages)
        var index = 0
        for page in 0..<pages {
            let start = (first + page) << shift
            while index < offsets.count, offsets[index] < start { index += 1 }
            bytes.appendLittleEndian(UInt32(index))
        }
        bytes.appendLittleEndian(UInt32(offsets.count))
        return bytes
    }
}
