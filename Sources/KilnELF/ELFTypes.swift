/// e_machine values Kiln reads.
public struct ELFMachine: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let x86_64 = ELFMachine(rawValue: 62)
    public static let aarch64 = ELFMachine(rawValue: 183)
}

/// e_type values.
public struct ELFFileType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let relocatable = ELFFileType(rawValue: 1)
    public static let executable = ELFFileType(rawValue: 2)
    public static let sharedObject = ELFFileType(rawValue: 3)
    public static let core = ELFFileType(rawValue: 4)
}

/// The ELF64 file header (Elf64_Ehdr), with extended numbering (PN_XNUM, SHN_XINDEX)
/// already resolved into `programHeaderCount`, `sectionHeaderCount` and `sectionNameTableIndex`.
public struct ELFHeader: Equatable, Sendable {
    public var osABI: UInt8
    public var abiVersion: UInt8
    public var type: ELFFileType
    public var machine: ELFMachine
    public var version: UInt32
    public var entry: UInt64
    public var programHeaderOffset: UInt64
    public var sectionHeaderOffset: UInt64
    public var flags: UInt32
    public var headerSize: UInt16
    public var programHeaderEntrySize: UInt16
    public var programHeaderCount: UInt32
    public var sectionHeaderEntrySize: UInt16
    public var sectionHeaderCount: UInt64
    public var sectionNameTableIndex: UInt32

    public static let size = 64
}

/// p_type values.
public enum ELFSegmentType {
    public static let null: UInt32 = 0
    public static let load: UInt32 = 1
    public static let dynamic: UInt32 = 2
    public static let interpreter: UInt32 = 3
    public static let note: UInt32 = 4
    public static let programHeader: UInt32 = 6
    public static let tls: UInt32 = 7
    public static let gnuEHFrame: UInt32 = 0x6474_E550
    public static let gnuStack: UInt32 = 0x6474_E551
    public static let gnuRelro: UInt32 = 0x6474_E552
    public static let gnuProperty: UInt32 = 0x6474_E553
}

/// p_flags bits.
public struct ELFSegmentFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let execute = ELFSegmentFlags(rawValue: 1)
    public static let write = ELFSegmentFlags(rawValue: 2)
    public static let read = ELFSegmentFlags(rawValue: 4)
}

/// One program header (Elf64_Phdr).
public struct ELFProgramHeader: Equatable, Sendable {
    public var type: UInt32
    public var flags: ELFSegmentFlags
    public var offset: UInt64
    public var virtualAddress: UInt64
    public var physicalAddress: UInt64
    public var fileSize: UInt64
    public var memorySize: UInt64
    public var alignment: UInt64

    public static let size = 56

    /// A PT_LOAD segment with PF_X: code a guest can run.
    public var isExecutableLoad: Bool { type == ELFSegmentType.load && flags.contains(.execute) }
}

/// sh_type values.
public enum ELFSectionType {
    public static let null: UInt32 = 0
    public static let progbits: UInt32 = 1
    public static let symtab: UInt32 = 2
    public static let strtab: UInt32 = 3
    public static let rela: UInt32 = 4
    public static let hash: UInt32 = 5
    public static let dynamic: UInt32 = 6
    public static let note: UInt32 = 7
    public static let nobits: UInt32 = 8
    public static let rel: UInt32 = 9
    public static let dynsym: UInt32 = 11
}

/// One section header (Elf64_Shdr) with its name resolved from the section name table.
public struct ELFSectionHeader: Equatable, Sendable {
    public var name: String
    public var nameOffset: UInt32
    public var type: UInt32
    public var flags: UInt64
    public var address: UInt64
    public var offset: UInt64
    public var size: UInt64
    public var link: UInt32
    public var info: UInt32
    public var addressAlignment: UInt64
    public var entrySize: UInt64

    public static let size = 64

    /// Whether the section occupies bytes in the file (everything but SHT_NOBITS and SHT_NULL).
    public var hasFileBytes: Bool { type != ELFSectionType.nobits && type != ELFSectionType.null }
}

/// One entry of a note segment or section (Elf64_Nhdr plus its name and descriptor).
public struct ELFNote: Equatable, Sendable {
    public var name: String
    public var type: UInt32
    public var descriptor: [UInt8]

    /// NT_GNU_BUILD_ID.
    public static let gnuBuildIDType: UInt32 = 3
}
