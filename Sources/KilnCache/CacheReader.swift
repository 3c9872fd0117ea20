#if canImport(Glibc)
import Glibc
#endif

/// The guest bytes of (part of) a region as the runtime sees them: `bytes` holds region
/// offsets `offset ..< offset + bytes.count` (a mapping need not begin at the region base,
/// which may even be address 0).
public struct GuestRegion: @unchecked Sendable {
    public var bytes: UnsafeRawBufferPointer
    public var offset: UInt64
    public init(bytes: UnsafeRawBufferPointer, offset: UInt64 = 0) {
        self.bytes = bytes
        self.offset = offset
    }
}

/// A validated translation ready to use.
public struct CacheEntry: @unchecked Sendable {
    public var index: Int
    public var guestOffset: UInt64
    public var guestLength: UInt32
    public var flags: CacheEntryFlags
    /// The entry's host code inside the mapped code section.
    public var code: UnsafeRawBufferPointer
    /// Offset of `code` from the start of the code section.
    public var codeOffset: UInt64
    /// The entry's table: first slot in the table area and slot count.
    public var tableOffset: UInt32
    public var tableSlots: UInt32
    public var initializers: [CacheSlotInitializer]
    public var ir: UnsafeRawBufferPointer
    public var guestHash: UInt64
}

/// An entry that passed `CacheFileView.checkEntry`: its record's fields, its initialisers
/// left in the slots section (`slotStart ..< slotStart + slotRecords`).
public struct CheckedCacheEntry: Sendable {
    public var guestOffset: UInt64
    public var guestHash: UInt64
    public var guestLength: UInt32
    public var flags: CacheEntryFlags
    public var codeOffset: UInt64
    public var codeLength: UInt32
    public var tableOffset: UInt32
    public var tableSlots: UInt32
    public var slotStart: UInt32
    public var slotRecords: UInt32
}

/// The decoded header of a cache file.
public struct CacheFileHeader: Sendable {
    public var formatVersion: UInt32
    public var headerSize: UInt32
    public var fileSize: UInt64
    public var configuration: TranslationConfiguration
    public var configurationHash: UInt64
    public var identity: ContentIdentity
    public var entryCount: UInt64
    /// Size of the per-process table area, in 8-byte slots.
    public var tableSlots: UInt64
    public var sections: [CacheSection]

    public func section(_ kind: CacheSectionKind) -> CacheSection? { sections.first { $0.kind == kind } }
}

/// A validated view of cache file bytes. `attach` checks the header, section table and
/// section hashes (no per-entry work); each entry is checked by `validateEntry` before use.
/// Nothing read from the bytes is trusted without a bounds check.
public struct CacheFileView: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    public let header: CacheFileHeader
    let entries: UnsafeRawBufferPointer
    let slots: UnsafeRawBufferPointer
    let ir: UnsafeRawBufferPointer
    /// The pages section's per-page first entries (page count + 1 of them).
    let pageFirstEntries: UnsafeRawBufferPointer
    /// The guest page (offset >> 12) of the first entry.
    let firstGuestPage: UInt64
    /// The guest-order section's (guest offset, entry index) pairs by ascending guest offset.
    let guestOrder: UnsafeRawBufferPointer
    /// How many entries are hot: entries 0 ..< hotEntryCount (records are in code order).
    public let hotEntryCount: Int
    public let code: UnsafeRawBufferPointer
    /// Offset of the code section in the file (page-aligned).
    public let codeFileOffset: UInt64
    public var entryCount: Int { entries.count / CacheFormat.entryRecordSize }
    var slotRecordCount: Int { slots.count / CacheFormat.slotRecordSize }
    /// Offset of the per-process table area from the start of the code section.
    public var tableAreaOffset: Int { CacheTableLayout.tableAreaOffset(codeLength: code.count) }

    /// Validates `bytes` as a cache file. With `expectedKey`, the file must be for exactly that
    /// key; `hostFeatures` are the features this host has (the file's must be a subset).
    /// `checkSectionHashes: false` (the runtime) skips reading the sections: every entry's own
    /// hash is checked on its first use instead. The small pages section is always checked
    /// whole, hash and order: lookups rely on it.
    public static func attach(_ bytes: UnsafeRawBufferPointer, expectedKey: CacheKey?,
                              hostFeatures: HostFeatures, checkSectionHashes: Bool = true) -> Result<CacheFileView, CacheRejection> {
        do {
            let header = try parseHeader(bytes)
            guard header.configuration.hostFeatures.isSubset(of: hostFeatures) else {
                let missing = header.configuration.hostFeatures.subtracting(hostFeatures)
                return .failure(CacheRejection(.hostFeatures, "built for host features this host lacks: \(missing.names.joined(separator: " "))"))
            }
            if let key = expectedKey {
                if header.identity != key.identity {
                    return .failure(CacheRejection(.keyMismatch, "file is for region \(header.identity.contentHash), expected \(key.identity.contentHash)"))
                }
                if header.configuration != key.configuration {
                    return .failure(CacheRejection(.keyMismatch, "file configuration \(hex64(header.configurationHash)) differs from \(hex64(key.configurationHash))"))
                }
            }
            func slice(_ kind: CacheSectionKind) -> UnsafeRawBufferPointer {
                guard let s = header.section(kind) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
                return UnsafeRawBufferPointer(rebasing: bytes[Int(s.offset)..<Int(s.offset + s.length)])
            }
            for section in header.sections where checkSectionHashes {
                let hash = XXH3.hash64(slice(section.kind))
                guard hash == section.hash else {
                    throw CacheRejection(.corruptSection, "\(section.kind.name) section hash \(hex64(hash)) != recorded \(hex64(section.hash))")
                }
            }
            let pages = slice(.pages)
            if !checkSectionHashes, let section = header.section(.pages), XXH3.hash64(pages) != section.hash {
                throw CacheRejection(.corruptSection, "pages section hash mismatch")
            }
            let firstPage = try checkPageIndex(pages, entryCount: header.entryCount)
            let order = slice(.guestOrder)
            guard u64(order, 0) <= header.entryCount else { throw CacheRejection(.corruptHeader, "guest-order section: \(u64(order, 0)) hot entries of \(header.entryCount)") }
            let codeOffset = header.section(.code)?.offset ?? 0
            return .success(CacheFileView(bytes: bytes, header: header, entries: slice(.entries), slots: slice(.slots),
                                          ir: slice(.ir), pageFirstEntries: UnsafeRawBufferPointer(rebasing: pages[CacheFormat.pageIndexHeaderSize...]),
                                          firstGuestPage: firstPage, guestOrder: UnsafeRawBufferPointer(rebasing: order[CacheFormat.guestOrderHeaderSize...]),
                                          hotEntryCount: Int(u64(order, 0)), code: slice(.code), codeFileOffset: codeOffset))
        } catch let rejection as CacheRejection {
            return .failure(rejection)
        } catch {
            return .failure(CacheRejection(.corruptHeader, "\(error)"))
        }
    }

    private init(bytes: UnsafeRawBufferPointer, header: CacheFileHeader, entries: UnsafeRawBufferPointer,
                 slots: UnsafeRawBufferPointer, ir: UnsafeRawBufferPointer, pageFirstEntries: UnsafeRawBufferPointer,
                 firstGuestPage: UInt64, guestOrder: UnsafeRawBufferPointer, hotEntryCount: Int, code: UnsafeRawBufferPointer, codeFileOffset: UInt64) {
        self.bytes = bytes
        self.header = header
        self.entries = entries
        self.slots = slots
        self.ir = ir
        self.pageFirstEntries = pageFirstEntries
        self.firstGuestPage = firstGuestPage
        self.guestOrder = guestOrder
        self.hotEntryCount = hotEntryCount
        self.code = code
        self.codeFileOffset = codeFileOffset
    }

    /// Checks the pages section's shape (its count matches its length, first entries ascend
    /// from 0 to the entry count) and returns its first page. Entries are not read: a page
    /// index that disagrees with them only makes lookups miss, never serve a wrong entry.
    static func checkPageIndex(_ pages: UnsafeRawBufferPointer, entryCount: UInt64) throws -> UInt64 {
        guard pages.count >= CacheFormat.pageIndexHeaderSize + 4 else { throw CacheRejection(.corruptHeader, "pages section of \(pages.count) bytes") }
        let first = u64(pages, 0), count = u64(pages, 8)
        guard count <= CacheFormat.maximumIndexedPages, UInt64(pages.count) == UInt64(CacheFormat.pageIndexHeaderSize) + 4 * (count + 1) else {
            throw CacheRejection(.corruptHeader, "pages section of \(pages.count) bytes for \(count) pages")
        }
        var previous: UInt32 = 0
        for i in 0...Int(count) {
            let index = u32(pages, CacheFormat.pageIndexHeaderSize + 4 * i)
            guard index >= previous, UInt64(index) <= entryCount else {
                throw CacheRejection(.corruptSection, "pages section: page \(i)'s first entry \(index) out of order")
            }
            previous = index
        }
        guard u32(pages, CacheFormat.pageIndexHeaderSize) == 0, UInt64(previous) == entryCount else {
            throw CacheRejection(.corruptSection, "pages section does not span the \(entryCount) entries")
        }
        return first
    }

    static func u32(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt32 { UInt32(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    static func u64(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt64 { UInt64(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }

    /// Decodes and checks the header and section table.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer) throws -> CacheFileHeader {
        let magic = CacheFormat.magic
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            if bytes.count < magic.count, bytes.elementsEqual(magic.prefix(bytes.count)) {
                throw CacheRejection(.truncated, "file of \(bytes.count) bytes ends inside the magic")
            }
            throw CacheRejection(.corruptHeader, "bad magic (not a Kiln cache file)")
        }
        guard bytes.count >= CacheFormat.versionOffset + 4 else { throw CacheRejection(.truncated, "file ends inside the header") }
        let version = u32(bytes, CacheFormat.versionOffset)
        guard version == CacheFormat.version else {
            throw CacheRejection(.formatVersion, "format version \(version), this Kiln reads \(CacheFormat.version)")
        }
        guard bytes.count >= CacheFormat.fixedHeaderSize else {
            throw CacheRejection(.truncated, "file of \(bytes.count) bytes is shorter than the \(CacheFormat.fixedHeaderSize)-byte header")
        }
        let headerSize = u32(bytes, CacheFormat.headerSizeOffset)
        let fileSize = u64(bytes, CacheFormat.fileSizeOffset)
        let sectionCount = u32(bytes, CacheFormat.sectionCountOffset)
        guard sectionCount >= 4, sectionCount <= UInt32(CacheFormat.maximumSections),
              Int(headerSize) == CacheFormat.headerSize(sectionCount: Int(sectionCount)) else {
            throw CacheRejection(.corruptHeader, "section count \(sectionCount) and header size \(headerSize) disagree")
        }
        guard UInt64(bytes.count) >= UInt64(headerSize) else {
            throw CacheRejection(.truncated, "file of \(bytes.count) bytes is shorter than its \(headerSize)-byte header")
        }
        let headerHash = XXH3.hash64(UnsafeRawBufferPointer(rebasing: bytes[0..<(Int(headerSize) - 8)]))
        guard headerHash == u64(bytes, Int(headerSize) - 8) else {
            throw CacheRejection(.corruptHeader, "header hash mismatch")
        }
        guard fileSize == UInt64(bytes.count) else {
            if fileSize > UInt64(bytes.count) {
                throw CacheRejection(.truncated, "file has \(bytes.count) bytes, header says \(fileSize)")
            }
            throw CacheRejection(.corruptHeader, "file has \(bytes.count) bytes, header says \(fileSize)")
        }
        guard u32(bytes, CacheFormat.flagsOffset) == 0 else { throw CacheRejection(.corruptHeader, "unknown header flags") }
        let configurationBytes = UnsafeRawBufferPointer(rebasing: bytes[CacheFormat.configurationOffset..<(CacheFormat.configurationOffset + TranslationConfiguration.encodedSize)])
        guard let configuration = TranslationConfiguration(encoded: configurationBytes) else {
            throw CacheRejection(.corruptHeader, "unreadable configuration")
        }
        let configurationHash = u64(bytes, CacheFormat.configurationHashOffset)
        guard XXH3.hash64(configurationBytes) == configurationHash else {
            throw CacheRejection(.corruptHeader, "configuration hash mismatch")
        }
        let buildIDLength = Int(bytes[CacheFormat.buildIDLengthOffset])
        guard buildIDLength <= ContentIdentity.maximumBuildIDLength else { throw CacheRejection(.corruptHeader, "build-id length \(buildIDLength)") }
        // Padding is zero, so equal keys always mean equal header bytes.
        guard bytes[(CacheFormat.buildIDLengthOffset + 1)..<CacheFormat.buildIDOffset].allSatisfy({ $0 == 0 }),
              bytes[(CacheFormat.buildIDOffset + buildIDLength)..<CacheFormat.entryCountOffset].allSatisfy({ $0 == 0 }) else { throw CacheRejection(.corruptHeader, "nonzero header padding") }
        let identity = ContentIdentity(
            buildID: Array(bytes[CacheFormat.buildIDOffset..<(CacheFormat.buildIDOffset + buildIDLength)]),
            contentHash: XXH128Hash(low64: u64(bytes, CacheFormat.contentHashOffset), high64: u64(bytes, CacheFormat.contentHashOffset + 8)))
        let entryCount = u64(bytes, CacheFormat.entryCountOffset)
        let tableSlots = u64(bytes, CacheFormat.tableSlotsOffset)
        guard tableSlots <= UInt64(UInt32.max) else { throw CacheRejection(.corruptHeader, "table of \(tableSlots) slots") }

        var sections: [CacheSection] = []
        var previousEnd = UInt64(headerSize)
        var previousKind: UInt32 = 0
        for i in 0..<Int(sectionCount) {
            let o = CacheFormat.fixedHeaderSize + i * CacheFormat.sectionRecordSize
            let rawKind = u32(bytes, o)
            guard let kind = CacheSectionKind(rawValue: rawKind), rawKind > previousKind, u32(bytes, o + 4) == 0 else {
                throw CacheRejection(.corruptHeader, "section \(i): unknown, repeated or out-of-order kind \(rawKind)")
            }
            previousKind = rawKind
            let offset = u64(bytes, o + 8), length = u64(bytes, o + 16)
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow, offset >= previousEnd, end <= fileSize else {
                throw CacheRejection(.corruptHeader, "\(kind.name) section [\(offset), +\(length)) overlaps another or leaves the file")
            }
            let alignment = UInt64(kind == .code ? CacheFormat.pageSize : 8)
            guard offset % alignment == 0 else { throw CacheRejection(.corruptHeader, "\(kind.name) section offset \(offset) not \(alignment)-aligned") }
            previousEnd = end
            sections.append(CacheSection(kind: kind, offset: offset, length: length, hash: u64(bytes, o + 24)))
        }
        // Bytes between sections carry no hash; requiring zeros there means no byte of a file
        // can change unnoticed.
        var gapStart = UInt64(headerSize)
        for section in sections + [CacheSection(kind: .code, offset: fileSize, length: 0, hash: 0)] {
            guard bytes[Int(gapStart)..<Int(section.offset)].allSatisfy({ $0 == 0 }) else {
                throw CacheRejection(.corruptSection, "nonzero bytes between sections at [\(gapStart), \(section.offset))")
            }
            gapStart = section.offset + section.length
        }
        guard let entries = sections.first(where: { $0.kind == .entries }),
              let slotSection = sections.first(where: { $0.kind == .slots }),
              sections.contains(where: { $0.kind == .pages }),
              let guestOrder = sections.first(where: { $0.kind == .guestOrder }),
              sections.contains(where: { $0.kind == .code }) else {
            throw CacheRejection(.corruptHeader, "entries, slots, pages, guest-order or code section missing")
        }
        let (guestOrderBytes, tooMany) = entryCount.multipliedReportingOverflow(by: UInt64(CacheFormat.guestOrderRecordSize))
        guard !tooMany, guestOrder.length == UInt64(CacheFormat.guestOrderHeaderSize) + guestOrderBytes else {
            throw CacheRejection(.corruptHeader, "guest-order section of \(guestOrder.length) bytes for \(entryCount) entries")
        }
        let (expectedEntryBytes, overflow) = entryCount.multipliedReportingOverflow(by: UInt64(CacheFormat.entryRecordSize))
        guard !overflow, expectedEntryBytes == entries.length else {
            throw CacheRejection(.corruptHeader, "entry count \(entryCount) does not fill the \(entries.length)-byte entries section")
        }
        guard slotSection.length % UInt64(CacheFormat.slotRecordSize) == 0 else {
            throw CacheRejection(.corruptHeader, "slots section length \(slotSection.length) is not a whole number of records")
        }
        return CacheFileHeader(formatVersion: version, headerSize: headerSize, fileSize: fileSize, configuration: configuration,
                               configurationHash: configurationHash, identity: identity, entryCount: entryCount,
                               tableSlots: tableSlots, sections: sections)
    }

    /// The guest offset of entry `i` (no checks beyond the index range).
    @inline(__always) public func guestOffset(ofEntry i: Int) -> UInt64 {
        CacheFileView.u64(entries, i &* CacheFormat.entryRecordSize)
    }

    /// The code offset of entry `i` (valid once the entry passed `validateEntry`).
    @inline(__always) public func codeOffset(ofEntry i: Int) -> UInt64 {
        CacheFileView.u64(entries, i &* CacheFormat.entryRecordSize &+ 16)
    }

    /// The guest length of entry `i` (valid once the entry passed `validateEntry`).
    @inline(__always) public func guestLength(ofEntry i: Int) -> UInt32 {
        CacheFileView.u32(entries, i &* CacheFormat.entryRecordSize &+ 32)
    }

    /// The index of the entry for `guestOffset`: the pages section bounds the guest-order
    /// pairs of its guest page, and the search starts where the offset's place in the page
    /// predicts (blocks spread fairly evenly over a page), walking adjacent pairs to the exact
    /// one. The entry's own record must agree, so a damaged guest order only makes a lookup
    /// miss, never serve another entry.
    public func entryIndex(forGuestOffset target: UInt64) -> Int? {
        let page = (target >> CacheFormat.guestPageShift) &- firstGuestPage
        guard target >> CacheFormat.guestPageShift >= firstGuestPage, page < UInt64(pageFirstEntries.count / 4 - 1),
              target <= UInt64(UInt32.max) else { return nil }
        let lower = Int(CacheFileView.u32(pageFirstEntries, Int(page) &* 4))
        let upper = min(Int(CacheFileView.u32(pageFirstEntries, Int(page) &* 4 &+ 4)), entryCount)
        guard lower < upper else { return nil }
        @inline(__always) func offset(at position: Int) -> UInt64 {
            UInt64(CacheFileView.u32(guestOrder, position &* CacheFormat.guestOrderRecordSize))
        }
        let pageMask = (UInt64(1) << CacheFormat.guestPageShift) - 1
        let within = Int(((target & pageMask) &* UInt64(upper - lower)) >> CacheFormat.guestPageShift)
        var position = lower + min(within, upper - lower - 1)
        while position > lower, offset(at: position) > target { position -= 1 }
        while position < upper - 1, offset(at: position) < target { position += 1 }
        guard offset(at: position) == target else { return nil }
        let index = Int(CacheFileView.u32(guestOrder, position &* CacheFormat.guestOrderRecordSize &+ 4))
        return index < entryCount && guestOffset(ofEntry: index) == target ? index : nil
    }

    /// Checks entry `i`'s records against the sections and, when `guest` is given and
    /// `checkGuestBytes` is set, its guest bytes; returns it ready to use. Without `guest` only
    /// the file's own consistency is checked (`kiln cache verify` without a region).
    public func validateEntry(_ i: Int, guest: GuestRegion?, checkGuestBytes: Bool = true) -> Result<CacheEntry, CacheRejection> {
        switch checkEntry(i, guest: guest, checkGuestBytes: checkGuestBytes) {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(let checked):
            var records: [CacheSlotInitializer] = []
            records.reserveCapacity(Int(checked.slotRecords))
            for r in 0..<Int(checked.slotRecords) { records.append(slotInitializer(Int(checked.slotStart) + r)) }
            let o = i * CacheFormat.entryRecordSize
            let irOffset = CacheFileView.u64(entries, o + 24)
            let irLength = CacheFileView.u32(entries, o + 48)
            return .success(CacheEntry(
                index: i, guestOffset: checked.guestOffset, guestLength: checked.guestLength, flags: checked.flags,
                code: UnsafeRawBufferPointer(rebasing: code[Int(checked.codeOffset)..<Int(checked.codeOffset + UInt64(checked.codeLength))]),
                codeOffset: checked.codeOffset, tableOffset: checked.tableOffset, tableSlots: checked.tableSlots, initializers: records,
                ir: irLength == 0 ? UnsafeRawBufferPointer(start: nil, count: 0)
                    : UnsafeRawBufferPointer(rebasing: ir[Int(irOffset)..<Int(irOffset + UInt64(irLength))]),
                guestHash: checked.guestHash))
        }
    }

    /// Slot initialiser record `record` of the slots section, decoded without checks: only for
    /// records of an entry that passed `checkEntry`.
    @inline(__always) public func slotInitializer(_ record: Int) -> CacheSlotInitializer {
        let ro = record &* CacheFormat.slotRecordSize
        return CacheSlotInitializer(kind: CacheSlotKind(rawValue: slots[ro]) ?? .regionAddress, slot: CacheFileView.u32(slots, ro + 4),
                                    target: CacheFileView.u64(slots, ro + 8), addend: UInt64(CacheFileView.u32(slots, ro + 16)))
    }

    /// The entry a link record's exit goes to, when the file holds it (the bake resolved it),
    /// inside the index. Only for records of an entry that passed `checkEntry`, whose hash
    /// covers its slot records.
    @inline(__always) public func linkTargetEntry(_ record: Int) -> Int? {
        let stored = Int(CacheFileView.u32(slots, record &* CacheFormat.slotRecordSize &+ 20))
        return stored > 0 && stored <= entryCount ? stored &- 1 : nil
    }

    /// The checks of `validateEntry` without building the entry (no allocation): the runtime
    /// runs them on every entry's first use, then reads the initialisers with `slotInitializer`.
    /// `code`, when given, is the code section mapped a second time (the same file bytes,
    /// executable): the entry's code is hashed there.
    public func checkEntry(_ i: Int, guest: GuestRegion?, checkGuestBytes: Bool = true,
                           code mappedCode: UnsafeRawBufferPointer? = nil) -> Result<CheckedCacheEntry, CacheRejection> {
        let code = mappedCode.map { $0.count == self.code.count ? $0 : self.code } ?? self.code
        guard i >= 0, i < entryCount else { return .failure(CacheRejection(.corruptSection, "entry \(i) out of range")) }
        let o = i * CacheFormat.entryRecordSize
        let guestOffset = CacheFileView.u64(entries, o)
        let guestHash = CacheFileView.u64(entries, o + 8)
        let codeOffset = CacheFileView.u64(entries, o + 16)
        let irOffset = CacheFileView.u64(entries, o + 24)
        let guestLength = CacheFileView.u32(entries, o + 32)
        let codeLength = CacheFileView.u32(entries, o + 36)
        let slotStart = CacheFileView.u32(entries, o + 40)
        let slotRecords = CacheFileView.u32(entries, o + 44)
        let irLength = CacheFileView.u32(entries, o + 48)
        let flags = CacheEntryFlags(rawValue: CacheFileView.u32(entries, o + 52))
        let tableOffset = CacheFileView.u32(entries, o + 56)
        let tableSlots = CacheFileView.u32(entries, o + 60)
        let entryHash = CacheFileView.u64(entries, o + 64)
        // Built only for a rejection: this runs on every entry's first use.
        var name: String { "entry \(i) (guest 0x\(String(guestOffset, radix: 16)))" }

        func within(_ offset: UInt64, _ length: UInt64, _ limit: Int) -> Bool {
            let (end, overflow) = offset.addingReportingOverflow(length)
            return !overflow && end <= UInt64(limit)
        }
        guard CacheEntryFlags.known.isSuperset(of: flags) else { return .failure(CacheRejection(.corruptSection, "\(name): unknown flags")) }
        guard guestLength > 0 else { return .failure(CacheRejection(.corruptSection, "\(name): empty guest range")) }
        guard codeOffset % UInt64(CacheFormat.codeAlignment) == 0, within(codeOffset, UInt64(codeLength), code.count) else {
            return .failure(CacheRejection(.corruptSection, "\(name): code [\(codeOffset), +\(codeLength)) outside the code section"))
        }
        guard within(UInt64(slotStart), UInt64(slotRecords), slotRecordCount) else {
            return .failure(CacheRejection(.corruptSection, "\(name): slot initialisers [\(slotStart), +\(slotRecords)) outside the section"))
        }
        guard UInt64(tableOffset) + UInt64(tableSlots) <= header.tableSlots else {
            return .failure(CacheRejection(.corruptSection, "\(name): table [\(tableOffset), +\(tableSlots)) outside the \(header.tableSlots)-slot table area"))
        }
        guard irLength == 0 || within(irOffset, UInt64(irLength), ir.count) else {
            return .failure(CacheRejection(.corruptSection, "\(name): IR outside the IR section"))
        }
        // The checks below read the slot records, the code and the guest bytes one after
        // another, and on an entry's first use each is usually a cache miss. One load from
        // each, issued together here, lets the misses overlap.
        var touched = codeLength > 0 ? code[Int(codeOffset)] : 0
        if slotRecords > 0 { touched ^= slots[Int(slotStart) &* CacheFormat.slotRecordSize] }
        if let guest, checkGuestBytes, guestOffset >= guest.offset, guestOffset - guest.offset < UInt64(guest.bytes.count) {
            touched ^= guest.bytes[Int(guestOffset - guest.offset)]
        }
        cacheMissSink = touched
        let recordBytes = UnsafeRawBufferPointer(rebasing: entries[o..<(o + 64)])
        let slotBytes = UnsafeRawBufferPointer(rebasing: slots[(Int(slotStart) * CacheFormat.slotRecordSize)..<((Int(slotStart) + Int(slotRecords)) * CacheFormat.slotRecordSize)])
        let codeBytes = UnsafeRawBufferPointer(rebasing: code[Int(codeOffset)..<Int(codeOffset + UInt64(codeLength))])
        guard CacheEntryHash.hash(record: recordBytes, slots: slotBytes, code: codeBytes) == entryHash else {
            return .failure(CacheRejection(.corruptSection, "\(name): entry hash mismatch (record, slot initialisers or code changed)"))
        }
        for r in 0..<Int(slotRecords) {
            let ro = (Int(slotStart) + r) * CacheFormat.slotRecordSize
            guard let kind = CacheSlotKind(rawValue: slots[ro]), slots[ro + 1] == 0, slots[ro + 2] == 0, slots[ro + 3] == 0 else {
                return .failure(CacheRejection(.corruptSection, "\(name): slot initialiser \(r) has an unknown kind"))
            }
            let slot = CacheFileView.u32(slots, ro + 4)
            let addend = CacheFileView.u32(slots, ro + 16)
            let targetEntry = CacheFileView.u32(slots, ro + 20)
            guard slot < tableSlots else {
                return .failure(CacheRejection(.corruptSection, "\(name): slot initialiser \(r) names slot \(slot) of \(tableSlots)"))
            }
            guard kind != .link || (addend < codeLength && UInt64(targetEntry) <= UInt64(entryCount)) else {
                return .failure(CacheRejection(.corruptSection, "\(name): link stub at \(addend) outside the entry's code, or target entry \(targetEntry) beyond the index"))
            }
            guard kind == .link || (addend == 0 && targetEntry == 0) else {
                return .failure(CacheRejection(.corruptSection, "\(name): slot initialiser \(r) has a nonzero addend or target entry"))
            }
        }
        if let guest, checkGuestBytes {
            guard guestOffset >= guest.offset, within(guestOffset - guest.offset, UInt64(guestLength), guest.bytes.count) else {
                return .failure(CacheRejection(.guestBytesChanged, "\(name): guest range [\(guestOffset), +\(guestLength)) is outside the mapped region"))
            }
            let from = Int(guestOffset - guest.offset)
            let actual = XXH3.hash64(UnsafeRawBufferPointer(rebasing: guest.bytes[from..<(from + Int(guestLength))]))
            guard actual == guestHash else {
                return .failure(CacheRejection(.guestBytesChanged, "\(name): guest bytes hash \(hex64(actual)) != \(hex64(guestHash))"))
            }
        }
        return .success(CheckedCacheEntry(guestOffset: guestOffset, guestHash: guestHash, guestLength: guestLength, flags: flags,
                                          codeOffset: codeOffset, codeLength: codeLength, tableOffset: tableOffset,
                                          tableSlots: tableSlots, slotStart: slotStart, slotRecords: slotRecords))
    }

}

/// Where `checkEntry` stores the bytes it loads only to start their cache misses early (a
/// load whose value went nowhere would be removed by the optimiser).
nonisolated(unsafe) var cacheMissSink: UInt8 = 0
