#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of an ELF file, owned for as long as any `ELFFile` refers to them: either a
/// private copy or a read-only memory mapping of the file (unmapped on deinit).
public final class ELFBytes: @unchecked Sendable {
    /// The whole file. Immutable for the lifetime of this object.
    public let buffer: UnsafeRawBufferPointer
    private let mapped: Bool

    /// Copies `bytes` into storage this object owns.
    public init(copying bytes: [UInt8]) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { storage.baseAddress!.copyMemory(from: base, byteCount: source.count) }
        }
        buffer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<bytes.count])
        mapped = false
    }

    /// Maps the file at `path` read-only (an empty file gets an empty buffer).
    public convenience init(mappingFileAt path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ELFError.io(path: path, errno: errno) }
        defer { close(fd) }
        try self.init(mappingFileDescriptor: fd, path: path)
    }

    /// Maps the whole of the open file `fd` read-only; `path` only names it in errors.
    public init(mappingFileDescriptor fd: Int32, path: String) throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ELFError.io(path: path, errno: errno) }
        let size = Int(st.st_size)
        if size == 0 {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 16)
            buffer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<0])
            mapped = false
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw ELFError.io(path: path, errno: errno)
        }
        buffer = UnsafeRawBufferPointer(start: base, count: size)
        mapped = true
    }

    deinit {
        guard let base = buffer.baseAddress else { return }
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), buffer.count)
        } else {
            base.deallocate()
        }
    }
}
