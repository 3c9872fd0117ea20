/// Cache file format v1; docs/CACHE-FORMAT.md is the normative description. All integers are
/// little-endian; every offset is from the start of the file.
public enum CacheFormat {
    public static let magic: [UInt8] = Array("KILNCACH".utf8)
    public static let version: UInt32 = 1
    public static let pageSize = 4096

    /// Fixed part of the header; the section table follows, then the 8-byte header hash.
    public static let fixedHeaderSize = 176
    public static let sectionRecordSize = 32
    public static let entryRecordSize = 56
    public static let relocationRecordSize = 24
    /// Host code of each entry starts on this boundary inside the code section.
    public static let codeAlignment = 16
    /// Bytes between entries' code: int3, so a stray jump traps.
    public static let codePadding: UInt8 = 0xCC
    /// Sanity bound on section and entry counts, far above anything a real region produces.
    public static let maximumSections = 8

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

    static func headerSize(sectionCount: Int) -> Int { fixedHeaderSize + sectionRecordSize * sectionCount + 8 }
}

/// The kinds of section, in the order they appear in the table and in the file.
public enum CacheSectionKind: UInt32, CaseIterable, Sendable {
    /// Entry records sorted by guest offset.
    case entries = 1
    /// Relocation records, each entry's a contiguous run.
    case relocations = 2
    /// Serialized IR, for verify mode and re-optimisation (optional).
    case ir = 3
    /// Host code, page-aligned and last, so it maps read-only and executable on its own.
    case code = 4

    public var name: String {
        switch self {
        case .entries: return "entries"
        case .relocations: return "relocations"
        case .ir: return "ir"
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

/// What a relocation's per-process table slot must hold. Cached code is never patched: each
/// relocation names a slot (its index in the file's relocation array) in a writable table the
/// runtime places beside the mapped code, and the code reads the slot.
public enum CacheRelocationKind: UInt8, CaseIterable, Sendable {
    /// slot = region base + target + addend (a guest address inside the region).
    case regionAddress = 1
    /// slot = address of runtime helper number `target`.
    case helper = 2
    /// slot = host code for the guest block at region offset `target` once linked, else the
    /// dispatcher's entry (block linking without patching shared code).
    case link = 3

    public var name: String {
        switch self {
        case .regionAddress: return "region-address"
        case .helper: return "helper"
        case .link: return "link"
        }
    }
}

/// One relocation record.
public struct CacheRelocation: Hashable, Sendable {
    public var kind: CacheRelocationKind
    /// Offset, in the entry's code, of the instruction that reads the slot.
    public var codeOffset: UInt32
    public var target: UInt64
    public var addend: Int64

    public init(kind: CacheRelocationKind, codeOffset: UInt32, target: UInt64, addend: Int64 = 0) {
        self.kind = kind
        self.codeOffset = codeOffset
        self.target = target
        self.addend = addend
    }
}

/// Entry flag bits.
public struct CacheEntryFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The translation ends in a direct exit that falls through to the next guest block.
    public static let fallsThrough = CacheEntryFlags(rawValue: 1 << 0)
    public static let known: CacheEntryFlags = [.fallsThrough]
}

/// One translation to store: the guest bytes it came from and its opaque payloads.
public struct CacheEntryInput: Sendable {
    /// Offset of the first guest instruction from the region base.
    public var guestOffset: UInt64
    public var guestLength: UInt32
    /// XXH3-64 of the guest bytes `guestOffset ..< guestOffset + guestLength`.
    public var guestHash: UInt64
    public var code: [UInt8]
    public var relocations: [CacheRelocation]
    public var ir: [UInt8]
    public var flags: CacheEntryFlags

    public init(guestOffset: UInt64, guestLength: UInt32, guestHash: UInt64, code: [UInt8],
                relocations: [CacheRelocation] = [], ir: [UInt8] = [], flags: CacheEntryFlags = []) {
        self.guestOffset = guestOffset
        self.guestLength = guestLength
        self.guestHash = guestHash
        self.code = code
        self.relocations = relocations
        self.ir = ir
        self.flags = flags
    }
}

/// Why a set of entries cannot be written.
public enum CacheBuildError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicateGuestOffset(UInt64)
    case emptyGuestRange(UInt64)
    case relocationOutsideCode(guestOffset: UInt64, codeOffset: UInt32)
    case tooLarge(String)
    case unknownFlags(UInt32)

    public var description: String {
        switch self {
        case let .duplicateGuestOffset(o): return "two entries at guest offset 0x\(String(o, radix: 16))"
        case let .emptyGuestRange(o): return "entry at 0x\(String(o, radix: 16)) covers no guest bytes"
        case let .relocationOutsideCode(g, c): return "entry 0x\(String(g, radix: 16)): relocation at code offset \(c) outside its code"
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
        var entryBytes: [UInt8] = []
        var relocationBytes: [UInt8] = []
        var irBytes: [UInt8] = []
        var codeBytes: [UInt8] = []
        var relocationCount: UInt64 = 0
        var previous: UInt64?
        for entry in entries {
            if entry.guestOffset == previous { throw CacheBuildError.duplicateGuestOffset(entry.guestOffset) }
            previous = entry.guestOffset
            guard entry.guestLength > 0, entry.guestOffset.addingReportingOverflow(UInt64(entry.guestLength)).overflow == false else {
                throw CacheBuildError.emptyGuestRange(entry.guestOffset)
            }
            guard CacheEntryFlags.known.isSuperset(of: entry.flags) else { throw CacheBuildError.unknownFlags(entry.flags.rawValue) }
            while codeBytes.count % CacheFormat.codeAlignment != 0 { codeBytes.append(CacheFormat.codePadding) }
            guard entry.code.count <= Int(UInt32.max), entry.ir.count <= Int(UInt32.max),
                  entry.relocations.count <= Int(UInt32.max), relocationCount <= UInt64(UInt32.max) else {
                throw CacheBuildError.tooLarge("entry 0x\(String(entry.guestOffset, radix: 16))")
            }
            entryBytes.appendLittleEndian(entry.guestOffset)
            entryBytes.appendLittleEndian(entry.guestHash)
            entryBytes.appendLittleEndian(UInt64(codeBytes.count))
            entryBytes.appendLittleEndian(UInt64(irBytes.count))
            entryBytes.appendLittleEndian(entry.guestLength)
            entryBytes.appendLittleEndian(UInt32(entry.code.count))
            entryBytes.appendLittleEndian(UInt32(relocationCount))
            entryBytes.appendLittleEndian(UInt32(entry.relocations.count))
            entryBytes.appendLittleEndian(UInt32(entry.ir.count))
            entryBytes.appendLittleEndian(entry.flags.rawValue)
            for relocation in entry.relocations {
                guard relocation.codeOffset < UInt32(entry.code.count) else {
                    throw CacheBuildError.relocationOutsideCode(guestOffset: entry.guestOffset, codeOffset: relocation.codeOffset)
                }
                relocationBytes.append(relocation.kind.rawValue)
                relocationBytes += [0, 0, 0]
                relocationBytes.appendLittleEndian(relocation.codeOffset)
                relocationBytes.appendLittleEndian(relocation.target)
                relocationBytes.appendLittleEndian(relocation.addend)
            }
            relocationCount += UInt64(entry.relocations.count)
            codeBytes += entry.code
            irBytes += entry.ir
        }
        guard relocationCount <= UInt64(UInt32.max) else { throw CacheBuildError.tooLarge("relocation count") }

        var payloads: [(CacheSectionKind, [UInt8])] = [(.entries, entryBytes), (.relocations, relocationBytes)]
        if !irBytes.isEmpty { payloads.append((.ir, irBytes)) }
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
}
