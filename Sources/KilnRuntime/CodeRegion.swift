/// A file-backed executable guest mapping: the unit translation caches attach to. The
/// region's base is the load bias of the file (virtual address minus ELF p_vaddr), so guest
/// addresses inside it are `base + offset` with offsets that do not depend on where it loaded.
public struct CodeRegion: Equatable, Sendable, CustomStringConvertible {
    /// Host path of the file (the rootfs path for rootfs files).
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    /// File offset of the mapping's first byte.
    public var fileOffset: UInt64
    /// Mapping start address and size in bytes.
    public var start: UInt64
    public var size: UInt64
    /// Load bias: guest address minus ELF virtual address (start - file offset for non-ELF files).
    public var base: UInt64

    public var end: UInt64 { start + size }

    /// The file offset of guest address `address` inside this region.
    public func fileOffset(of address: UInt64) -> UInt64 { fileOffset + (address - start) }

    public var description: String {
        "\(hex(start))-\(hex(end)) \(path) offset \(hex(fileOffset)) base \(hex(base)) dev \(device) inode \(inode)"
    }
}

@inline(__always) func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }
