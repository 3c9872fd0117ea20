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
/// and executable. Units are packed densely: code grows up from the start of the buffer
/// (16-byte aligned units), unit tables grow down from its end, and each RIP-relative table
/// reference is resolved at install to the distance between the two. Keeping tables (written
/// by chaining) off the code pages means a link never stores to a page that holds code, and
/// packing means a small block costs its bytes rather than two pages. Two whole-buffer mappings
/// (rather than per-unit protections) keep installing free of system calls and keep the
/// process's count of kernel mappings constant however many units are installed.
public final class CodeBuffer {
    public static let pageSize = 4096
    /// Alignment of each unit's code (a fetch block of the host's decoders).
    public static let codeAlignment = 16
    /// Where code runs (read+execute).
    public let base: UnsafeMutableRawPointer
    /// The same bytes, read+write: code and tables are written here.
    public let writable: UnsafeMutableRawPointer
    public let capacity: Int
    /// Bytes of code from the start of the buffer, bytes of tables from its end.
    public private(set) var mark = Mark(code: 0, tables: 0)
    /// Bytes in use (code and tables).
    public var used: Int { mark.code + mark.tables }
    /// Bytes from each end whose pages are already mapped in both views (see `populate`).
    private var populated = Mark(code: 0, tables: 0)
    /// How far ahead of the fill level pages are mapped at once: as much as is in use, from
    /// 16 KiB to 256 KiB. A run whose code comes from caches translates little, and mapping
    /// 256 KiB ahead in both views (4 × 64 pages) was 5% of a run of a program that exits at once.
    static let populateChunk = 256 << 10
    static let minimumPopulateChunk = 16 << 10

    /// A fill level of the buffer, to return to with `reset(to:)`.
    public struct Mark: Equatable, Sendable {
        public var code: Int
        public var tables: Int
    }

    /// Maps `requested` bytes (rounded up to pages). Table displacements are 32-bit, so the
    /// capacity is at most 2 GiB.
    public init(capacity requested: Int) throws(CodeBufferError) {
        let size = (requested + Self.pageSize - 1) & ~(Self.pageSize - 1)
        guard size > 0, size <= Int(Int32.max) else { throw .mapFailed(errno: EINVAL) }
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

    /// Gives this process its own buffer at the same addresses, keeping what was installed
    /// before `kept` (which no process changes any more) and dropping the rest. A forked child
    /// must call it before installing anything: the shared mappings would otherwise let parent
    /// and child overwrite each other's code and links. (Copying the units too would race with
    /// the parent, which may be linking them.)
    public func separate(keeping kept: Mark) throws(CodeBufferError) {
        let fd = try Self.sharedMemory(size: capacity)
        defer { close(fd) }
        guard let copy = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0), copy != MAP_FAILED else {
            throw .mapFailed(errno: errno)
        }
        let code = min(kept.code, mark.code), tables = min(kept.tables, mark.tables)
        copy.copyMemory(from: writable, byteCount: code)
        (copy + capacity - tables).copyMemory(from: writable + capacity - tables, byteCount: tables)
        munmap(copy, capacity)
        guard let x = mmap(base, capacity, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0), x == base,
              let w = mmap(writable, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0), w == writable else {
            throw .mapFailed(errno: errno)
        }
        mark = Mark(code: code, tables: tables)
        populated = Mark(code: min(populated.code, Self.pages(code)), tables: min(populated.tables, Self.pages(tables)))
    }

    /// The writable alias of `address` in the executable mapping (e.g. a link slot that an
    /// exit reported).
    public func writableAddress(of address: UInt) -> UInt {
        address &- UInt(bitPattern: base) &+ UInt(bitPattern: writable)
    }

    deinit { munmap(base, capacity); munmap(writable, capacity) }

    @inline(__always) static func pages(_ n: Int) -> Int { (n + pageSize - 1) & ~(pageSize - 1) }

    /// Bytes the code of a unit takes in the code area (its size rounded up to the alignment).
    @inline(__always) static func codeExtent(_ size: Int) -> Int { (size + codeAlignment - 1) & ~(codeAlignment - 1) }

    /// Copies `translation` in, resolves its table relocations and returns the installed
    /// unit. The table starts with `regionBase`; every link slot points at its own stub
    /// (unlinked).
    public func install(_ translation: X64Translation, regionBase: UInt64) throws(CodeBufferError) -> X64InstalledUnit {
        let codeSize = Self.codeExtent(translation.code.count)
        let tableSize = max(translation.tableEntries, 1) * 8
        guard used + codeSize + tableSize <= capacity else { throw .full }
        let codeOffset = mark.code, tableOffset = capacity - mark.tables - tableSize
        if mark.code + codeSize > populated.code || mark.tables + tableSize > populated.tables { populate(codeSize, tableSize) }
        let start = base + codeOffset, target = writable + codeOffset
        translation.code.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        for r in translation.relocations {
            let displacement = Int32(truncatingIfNeeded: tableOffset + Int(r.tableEntry) * 8 - codeOffset - Int(r.instructionEnd))
            target.storeBytes(of: displacement.littleEndian, toByteOffset: Int(r.fieldOffset), as: Int32.self)
        }
        let table = (writable + tableOffset).bindMemory(to: UInt64.self, capacity: tableSize / 8)
        table[X64ABI.UnitTable.regionBase] = regionBase
        for slot in translation.linkSlots {
            table[Int(slot.tableEntry)] = UInt64(UInt(bitPattern: start + Int(slot.stubOffset)))
        }
        mark.code += codeSize
        mark.tables += tableSize
        return X64InstalledUnit(code: UnsafeRawPointer(start), table: table, linkSlots: translation.linkSlots)
    }

    /// Maps the pages the next unit needs, and those of the following chunk (see `populateChunk`),
    /// in both views at once. Otherwise each new page faults twice (written through one view,
    /// then executed or read through the other): with tens of thousands of blocks translated
    /// at start-up, those faults cost more than the copying. Without MADV_POPULATE_* (Linux
    /// < 5.14) the call fails and pages fault in as before.
    private func populate(_ codeSize: Int, _ tableSize: Int) {
        if mark.code + codeSize > populated.code {
            let from = populated.code
            let ahead = min(Self.populateChunk, max(Self.minimumPopulateChunk, mark.code))
            let to = min(Self.pages(mark.code + codeSize + ahead), capacity - Self.pages(populated.tables))
            if from < to {
                _ = madvise(writable + from, to - from, 23 /* MADV_POPULATE_WRITE */)
                _ = madvise(base + from, to - from, 22 /* MADV_POPULATE_READ */)
                populated.code = to
            }
        }
        if mark.tables + tableSize > populated.tables {
            let from = populated.tables
            let ahead = min(Self.populateChunk, max(Self.minimumPopulateChunk, mark.tables))
            let to = min(Self.pages(mark.tables + tableSize + ahead), capacity - populated.code)
            if from < to {
                _ = madvise(writable + capacity - to, to - from, 23 /* MADV_POPULATE_WRITE */)
                _ = madvise(base + capacity - to, to - from, 22 /* MADV_POPULATE_READ */)
                populated.tables = to
            }
        }
    }

    /// Installs raw position-dependent host code with no table (the entry trampoline).
    public func install(code: [UInt8]) throws(CodeBufferError) -> UnsafeRawPointer {
        let size = Self.codeExtent(code.count)
        guard used + size <= capacity else { throw .full }
        let start = base + mark.code
        code.withUnsafeBytes { (writable + mark.code).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        mark.code += size
        return UnsafeRawPointer(start)
    }

    /// Drops every unit installed after `kept` (an earlier `mark`); their whole pages are
    /// released (they read as zeros until reused).
    public func reset(to kept: Mark) {
        let codeFrom = Self.pages(kept.code), codeTo = Self.pages(mark.code)
        if codeFrom < codeTo { madvise(writable + codeFrom, codeTo - codeFrom, MADV_REMOVE) }
        let tablesFrom = capacity - Self.pages(mark.tables), tablesTo = capacity - Self.pages(kept.tables)
        if tablesFrom < tablesTo { madvise(writable + tablesFrom, tablesTo - tablesFrom, MADV_REMOVE) }
        mark = Mark(code: min(kept.code, mark.code), tables: min(kept.tables, mark.tables))
        populated = Mark(code: min(populated.code, codeFrom), tables: min(populated.tables, Self.pages(kept.tables)))
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
