import KilnELF

/// A region's guest bytes as the runtime would see them, built from the ELF file: offsets are
/// virtual addresses relative to the load base (guest address minus load bias), executable
/// segments hold their file bytes and everything else reads as zero. Offline tools use it
/// where the runtime uses the live mapping.
public struct RegionImage: Sendable {
    public let bytes: [UInt8]

    /// Refuses images larger than this (a corrupt p_vaddr could otherwise ask for exabytes).
    public static let maximumSize: UInt64 = 1 << 32

    public init(elf: ELFFile) throws {
        var end: UInt64 = 0
        for segment in elf.programHeaders where segment.isExecutableLoad {
            let (segmentEnd, overflow) = segment.virtualAddress.addingReportingOverflow(segment.fileSize)
            guard !overflow, segmentEnd <= RegionImage.maximumSize else {
                throw ELFError.outOfBounds(what: "executable segment address range", offset: segment.virtualAddress,
                                           length: segment.fileSize, fileSize: RegionImage.maximumSize)
            }
            end = max(end, segmentEnd)
        }
        var image = [UInt8](repeating: 0, count: Int(end))
        for segment in elf.programHeaders where segment.isExecutableLoad {
            let source = try elf.fileBytes(of: segment)
            image.withUnsafeMutableBytes { target in
                if let base = source.baseAddress, source.count > 0 {
                    (target.baseAddress! + Int(segment.virtualAddress)).copyMemory(from: base, byteCount: source.count)
                }
            }
        }
        bytes = image
    }

    /// Runs `body` with the image as a `GuestRegion`.
    public func withGuestRegion<R>(_ body: (GuestRegion) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { try body(GuestRegion(bytes: $0)) }
    }
}
