/// Why an ELF file could not be read. Every check on file-supplied offsets and sizes reports
/// one of these instead of trapping.
public enum ELFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened, stat'ed or mapped (`errno` value).
    case io(path: String, errno: Int32)
    /// Fewer than the 4 bytes "\x7fELF" at offset 0.
    case badMagic
    /// EI_CLASS is not ELFCLASS64.
    case unsupportedClass(UInt8)
    /// EI_DATA is not ELFDATA2LSB.
    case unsupportedEncoding(UInt8)
    /// EI_VERSION or e_version is not EV_CURRENT.
    case unsupportedVersion(UInt32)
    /// e_machine is neither EM_AARCH64 nor EM_X86_64.
    case unsupportedMachine(UInt16)
    /// A table entry size (e_ehsize, e_phentsize, e_shentsize) is smaller than the structure.
    case badEntrySize(table: String, size: UInt16)
    /// A structure or range lies (partly) outside the file.
    case outOfBounds(what: String, offset: UInt64, length: UInt64, fileSize: UInt64)
    /// A section index (e_shstrndx, sh_link) names no section.
    case badSectionIndex(what: String, index: UInt32)
    /// A string table offset that does not start a NUL-terminated string inside the table.
    case badString(offset: UInt32)
    /// A note whose sizes run past the end of its segment or section.
    case badNote(offset: UInt64)

    public var description: String {
        switch self {
        case let .io(path, errno): return "cannot read \(path): errno \(errno)"
        case .badMagic: return "not an ELF file (bad magic)"
        case let .unsupportedClass(c): return "unsupported ELF class \(c) (need ELFCLASS64)"
        case let .unsupportedEncoding(e): return "unsupported data encoding \(e) (need little-endian)"
        case let .unsupportedVersion(v): return "unsupported ELF version \(v)"
        case let .unsupportedMachine(m): return "unsupported machine \(m) (need EM_AARCH64 or EM_X86_64)"
        case let .badEntrySize(table, size): return "\(table) entry size \(size) is too small"
        case let .outOfBounds(what, offset, length, fileSize):
            return "\(what) at offset \(offset) length \(length) exceeds file size \(fileSize)"
        case let .badSectionIndex(what, index): return "\(what) names section \(index), which does not exist"
        case let .badString(offset): return "string table offset \(offset) is invalid"
        case let .badNote(offset): return "malformed note at offset \(offset)"
        }
    }
}
