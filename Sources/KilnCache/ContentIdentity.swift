import KilnELF

/// What a code region is, independent of its path: the ELF's GNU build-id (empty when it has
/// none) and a 128-bit hash over its executable segments.
public struct ContentIdentity: Hashable, Sendable {
    /// The NT_GNU_BUILD_ID descriptor, or empty.
    public var buildID: [UInt8]
    /// XXH3-128 over, for each PT_LOAD segment with PF_X in program-header order, its
    /// p_vaddr, p_filesz and the XXH3-128 of its file bytes (see `compute(for:)`).
    public var contentHash: XXH128Hash

    /// Build-ids longer than this are refused, so the identity always fits the cache header.
    public static let maximumBuildIDLength = 64

    public init(buildID: [UInt8], contentHash: XXH128Hash) {
        self.buildID = buildID
        self.contentHash = contentHash
    }

    /// The build-id as lowercase hex (empty when there is none).
    public var buildIDHex: String { buildID.map { hexByte($0) }.joined() }

    /// Computes the identity of a parsed ELF file.
    public static func compute(for elf: ELFFile) throws -> ContentIdentity {
        let buildID = try elf.buildID() ?? []
        guard buildID.count <= maximumBuildIDLength else {
            throw ContentIdentityError.buildIDTooLong(buildID.count)
        }
        // Each segment is hashed on its own and the results combined with the segment's place,
        // so moving code between segments or addresses changes the identity too.
        var summary: [UInt8] = []
        var segments = 0
        for segment in elf.programHeaders where segment.isExecutableLoad {
            let bytes = try elf.fileBytes(of: segment)
            let hash = XXH3.hash128(bytes)
            summary.appendLittleEndian(segment.virtualAddress)
            summary.appendLittleEndian(segment.fileSize)
            summary.appendLittleEndian(hash.low64)
            summary.appendLittleEndian(hash.high64)
            segments += 1
        }
        guard segments > 0 else { throw ContentIdentityError.noExecutableSegment }
        return ContentIdentity(buildID: buildID, contentHash: XXH3.hash128(summary))
    }
}

/// Why a file has no content identity.
public enum ContentIdentityError: Error, Equatable, Sendable, CustomStringConvertible {
    case noExecutableSegment
    case buildIDTooLong(Int)
    case elf(ELFError)
    case io(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .noExecutableSegment: return "the ELF file has no executable PT_LOAD segment"
        case let .buildIDTooLong(n): return "build-id of \(n) bytes exceeds \(ContentIdentity.maximumBuildIDLength)"
        case let .elf(error): return error.description
        case let .io(path, errno): return "cannot read \(path): \(errnoDescription(errno))"
        }
    }
}

@inline(__always) func hexByte(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

extension Array where Element == UInt8 {
    @inline(__always) mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
