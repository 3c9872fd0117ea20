#if canImport(Glibc)
import Glibc
#endif

/// Errors of the executable-memory layer, with the failing call's errno.
public enum CodeBufferError: Error, Equatable, Sendable {
    case mapFailed(errno: Int32)
    case protectFailed(errno: Int32)
    case full
}

/// Executable memory with W^X: one shared memory object mapped twice, read+execute where code
/// runs and read+write where the runtime writes code and tables; no mapping is ever writable
/// and executable. Each unit gets its code pages followed by its table pages, so RIP-relative
/// table references resolve to a layout-fixed distance. Two whole-buffer mappings (rather than
/// per-unit protections) keep installing free of system calls and keep the process's count of
/// kernel mappings constant however many units are installed.
public final class CodeBuffer {
    public static let pageSize = 4096
    /// Where code runs (read+execute).
    public let base: UnsafeMutableRawPointer
    /// The same bytes, read+write: code and tables are written here.
    public let writable: UnsafeMutableRawPointer
    public let capacity: Int
    public private(set) var used = 0

    public init(capacity requested: Int) throws(CodeBufferError) {
        let size = (requested + Self.pageSize - 1) & ~(Self.pageSize - 1)
        let fd = try Self.sharedMemory(size: size)
        defer { close(fd) }
        guard let x = mmap(nil, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_NORESERVE, fd, 0), x != MAP_FAILED else {
            throw .mapFailed(errno: errno)
        }
        guard let w = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0), w != MAP_FAILED else {
            let error = errno
            munmap(x, size)
            throw .mapFailed(errno: error)
        }
        base = x
        writable = w
        capacity = size
    }

    /// A new memfd of `size` bytes.
    static func sharedMemory(size: Int) throws(CodeBufferError) -> Int32 {
        // memfd_create(2) is not in Swift's Glibc module: found at run time.
        guard let symbol = dlsym(nil, "memfd_create") else { throw .mapFailed(errno: ENOSYS) }
        let memfdCreate = unsafeBitCast(symbol, to: (@convention(c) (UnsafePointer<CChar>, UInt32) -> Int32).self)
        let fd = memfdCreate("kiln-code", 1 /* MFD_CLOEXEC */)
        guard fd >= 0 else { throw .mapFailed(errno: errno) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            let error = errno
            close(fd)
            throw .mapFailed(errno: error)
        }
        return fd
    }

    /// Gives this process its own buffer at the same addresses, keeping the code before
    /// `mark` (which no process changes any more) and dropping the rest. A forked child must
    /// call it before installing anything: the shared mappings would otherwise let parent and
    /// child overwrite each other's code and links. (Copying the units too would race with
    /// the parent, which may be linking them.)
    public func separate(keeping mark: Int) throws(CodeBufferError) {
        let fd = try Self.sharedMemory(size: capacity)
        defer { close(fd) }
        guard let copy = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0), copy != MAP_FAILED else {
            throw .mapFailed(errno: errno)
        }
        copy.copyMemory(from: writable, byteCount: min(mark, used))
        munmap(copy, capacity)
        guard let x = mmap(base, capacity, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0), x == base,
              let w = mmap(writable, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0), w == writable else {
            throw .mapFailed(errno: errno)
        }
        used = min(mark, used)
    }

    /// The writable alias of `address` in the executable mapping (e.g. a link slot that an
    /// exit reported).
    public func writableAddress(of address: UInt) -> UInt {
        address &- UInt(bitPattern: base) &+ UInt(bitPattern: writable)
    }

    deinit { munmap(base, capacity); munmap(writable, capacity) }

    @inline(__always) static func pages(_ n: Int) -> Int { (n + pageSize - 1) & ~(pageSize - 1) }

    /// Offset of the unit table from the start of a unit whose code is `codeSize` bytes.
    public static func tableDistance(codeSize: Int) -> Int { pages(max(codeSize, 1)) }

    /// Copies `translation` in, resolves its table relocations and returns the installed
    /// unit. The table starts with `regionBase`; every link slot points at its own stub
    /// (unlinked).
    public func install(_ translation: X64Translation, regionBase: UInt64) throws(CodeBufferError) -> X64InstalledUnit {
        let codePages = Self.tableDistance(codeSize: translation.code.count)
        let tablePages = Self.pages(max(translation.tableEntries, 1) * 8)
        guard used + codePages + tablePages <= capacity else { throw .full }
        let start = base + used, target = writable + used
        translation.code.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        for r in translation.relocations {
            let displacement = Int32(truncatingIfNeeded: codePages + Int(r.tableEntry) * 8 - Int(r.instructionEnd))
            target.storeBytes(of: displacement.littleEndian, toByteOffset: Int(r.fieldOffset), as: Int32.self)
        }
        let table = (target + codePages).bindMemory(to: UInt64.self, capacity: tablePages / 8)
        table[X64ABI.UnitTable.regionBase] = regionBase
        for slot in translation.linkSlots {
            table[Int(slot.tableEntry)] = UInt64(UInt(bitPattern: start + Int(slot.stubOffset)))
        }
        used += codePages + tablePages
        return X64InstalledUnit(code: UnsafeRawPointer(start), table: table, linkSlots: translation.linkSlots)
    }

    /// Installs raw position-dependent host code with no table (the entry trampoline).
    public func install(code: [UInt8]) throws(CodeBufferError) -> UnsafeRawPointer {
        let size = Self.pages(code.count)
        guard used + size <= capacity else { throw .full }
        let start = base + used
        code.withUnsafeBytes { (writable + used).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        used += size
        return UnsafeRawPointer(start)
    }

    /// Drops every unit installed after `mark` (a value of `used`); their pages are released
    /// (they read as zeros until reused).
    public func reset(to mark: Int) {
        guard mark < used else { return }
        madvise(writable + mark, used - mark, MADV_REMOVE)
        used = mark
    }
}

/// A translation placed in a code buffer.
public struct X64InstalledUnit {
    public let code: UnsafeRawPointer
    /// The unit's table (its writable alias): region base, then link slots.
    public let table: UnsafeMutablePointer<UInt64>
    public let linkSlots: [X64LinkSlot]

    /// Chains link slot `n` to host code `target` (a block entry).
    public func link(_ n: Int, to target: UnsafeRawPointer) {
        table[Int(linkSlots[n].tableEntry)] = UInt64(UInt(bitPattern: target))
    }

    /// Points link slot `n` back at its stub, so the exit returns to the dispatcher.
    public func unlink(_ n: Int) {
        table[Int(linkSlots[n].tableEntry)] = UInt64(UInt(bitPattern: code + Int(linkSlots[n].stubOffset)))
    }
}
