import KilnELF

/// The code of an ELF file, by virtual address: the bytes of its executable segments, and the
/// ranges inside them that hold instructions.
///
/// Linkers often place read-only data (string literals, .eh_frame) in the same executable
/// segment as .text. When the file has section headers, only SHF_EXECINSTR sections count as
/// code, so an ADR to a string is not mistaken for a function; without them, whole executable
/// segments do.
public struct ExecutableImage {
    /// One PT_LOAD segment with PF_X and its bytes from the file.
    public struct Segment {
        public var address: UInt64
        public var bytes: UnsafeRawBufferPointer
        public var end: UInt64 { address + UInt64(bytes.count) }
    }

    public let segments: [Segment]
    /// Address ranges holding instructions, sorted and inside `segments`.
    public let codeRanges: [Range<UInt64>]

    /// `file` must outlive the image: the segment bytes point into its storage.
    public init(_ file: ELFFile) throws {
        let segments = try file.programHeaders.filter(\.isExecutableLoad).map {
            Segment(address: $0.virtualAddress, bytes: try file.fileBytes(of: $0))
        }.sorted { $0.address < $1.address }
        self.segments = segments
        let shfExecInstr: UInt64 = 0x4
        let sections = file.sectionHeaders.filter { $0.flags & shfExecInstr != 0 && $0.hasFileBytes && $0.size > 0 }
        let ranges = sections.isEmpty
            ? segments.map { $0.address ..< $0.end }
            : sections.map { $0.address ..< $0.address &+ $0.size }
        codeRanges = ranges.filter { range in
            segments.contains { range.lowerBound >= $0.address && range.upperBound <= $0.end }
        }.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// The segment holding a whole instruction at `address`, if `address` is aligned code.
    @inlinable public func segment(containing address: UInt64) -> Segment? {
        guard containsCode(address) else { return nil }
        return segments.first { address >= $0.address && address + 4 <= $0.end }
    }

    /// Whether `address` is an aligned instruction address inside a code range.
    @inlinable public func containsCode(_ address: UInt64) -> Bool {
        guard address & 3 == 0 else { return false }
        // Binary search: large libraries have few ranges, but this runs per candidate seed.
        var low = 0, high = codeRanges.count
        while low < high {
            let mid = (low + high) / 2
            if codeRanges[mid].upperBound <= address { low = mid + 1 } else { high = mid }
        }
        return low < codeRanges.count && codeRanges[low].contains(address) && address + 4 <= codeRanges[low].upperBound
    }

    /// Total bytes of code.
    public var codeByteCount: UInt64 { codeRanges.reduce(0) { $0 + UInt64($1.count) } }
}
