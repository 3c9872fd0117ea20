#if canImport(Glibc)
import Glibc
#endif
import KilnELF

/// One guest mapping, page-aligned. File-backed mappings remember their file so that
/// executable ones can be reported as code regions.
public struct GuestMapping: Equatable, Sendable {
    public var start: UInt64
    public var end: UInt64
    /// PROT_* bits.
    public var protection: Int32
    /// File identity, or nil for anonymous memory.
    public var file: MappedFile?
    /// File offset of `start` (file mappings).
    public var fileOffset: UInt64
    /// Load bias of the file (see `CodeRegion.base`), 0 for anonymous memory.
    public var base: UInt64
    /// MAP_SHARED: writes through any other shared mapping of the same file bytes show here.
    public var isShared = false

    public var isExecutable: Bool { protection & PROT_EXEC != 0 }
}

/// The file behind a guest mapping.
public struct MappedFile: Equatable, Sendable {
    public var path: String
    public var device: UInt64
    public var inode: UInt64
}

/// The guest's memory map: every guest mapping, kept sorted and page-granular, and the calls
/// that change it (mmap, munmap, mprotect, mremap, brk). All host mappings are placed by this
/// type inside `GuestLayout`'s range; see there for how they stay clear of Kiln's own.
public final class GuestAddressSpace {
    public private(set) var mappings: [GuestMapping] = []
    /// Start of the program break area and the current break.
    public private(set) var brkStart: UInt64 = 0
    public private(set) var brkCurrent: UInt64 = 0
    /// Called with `[start, end)` whenever code there may have changed or gone away (once per
    /// alias: see `invalidateCode`).
    var invalidate: (UInt64, UInt64) -> Void = { _, _ in }
    /// Called with `[start, end)` after every successful mprotect there (the host protection
    /// of those pages is the guest's again).
    var protectionChanged: (UInt64, UInt64) -> Void = { _, _ in }
    /// Guest threads map and look up concurrently: every public operation holds this.
    let lock = HostMutex()

    public init() {}

    /// File-backed executable mappings: the hook translation caches attach to.
    public var codeRegions: [CodeRegion] {
        lock.lock(); defer { lock.unlock() }
        return mappings.compactMap { m in
            guard m.isExecutable, let f = m.file else { return nil }
            return CodeRegion(path: f.path, device: f.device, inode: f.inode, fileOffset: m.fileOffset,
                              start: m.start, size: m.end - m.start, base: m.base)
        }
    }

    /// The mapping containing `address`.
    public func mapping(containing address: UInt64) -> GuestMapping? {
        lock.lock(); defer { lock.unlock() }
        var lo = 0, hi = mappings.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if mappings[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo < mappings.count, mappings[lo].start <= address else { return nil }
        return mappings[lo]
    }

    // MARK: invalidation

    /// Reports that the guest bytes at `[start, end)` may have changed or gone away, and with
    /// them the same file bytes seen through every other shared mapping (a memfd or MAP_SHARED
    /// file mapped once writable and once executable: a JIT writes one view, runs the other).
    /// Only ranges mapped executable now can hold translations (translation needs execute, and
    /// removing it invalidates: `wasExecutable`), so the others are not reported: most mmap and
    /// munmap calls then cost no invalidation, which every thread would have to process.
    func invalidateCode(_ start: UInt64, _ end: UInt64, wasExecutable: Bool = false) {
        guard start < end else { return }
        lock.lock(); defer { lock.unlock() }
        if wasExecutable || hasExecutableMapping(start, end) { invalidate(start, end) }
        for alias in aliases(of: start, end) where hasExecutableMapping(alias.start, alias.end) {
            invalidate(alias.start, alias.end)
        }
    }

    private func hasExecutableMapping(_ start: UInt64, _ end: UInt64) -> Bool {
        mappings.contains { $0.isExecutable && $0.start < end && $0.end > start }
    }

    /// Guest ranges outside `[start, end)` that show the same bytes as some shared file mapping
    /// inside it.
    func aliases(of start: UInt64, _ end: UInt64) -> [(start: UInt64, end: UInt64)] {
        var result: [(start: UInt64, end: UInt64)] = []
        for m in mappings where m.isShared && m.start < end && m.end > start {
            guard let file = m.file else { continue }
            let s = max(m.start, start), e = min(m.end, end)
            let fileStart = m.fileOffset + (s - m.start), fileEnd = fileStart + (e - s)
            for other in mappings where other.isShared && other.file == file && (other.end <= start || other.start >= end) {
                let otherFileEnd = other.fileOffset + (other.end - other.start)
                let lo = max(fileStart, other.fileOffset), hi = min(fileEnd, otherFileEnd)
                if lo < hi { result.append((other.start + (lo - other.fileOffset), other.start + (hi - other.fileOffset))) }
            }
        }
        return result
    }

    // MARK: bookkeeping

    /// Removes `[start, end)` from the list, splitting mappings that straddle its edges.
    private func carve(_ start: UInt64, _ end: UInt64) {
        var result: [GuestMapping] = []
        result.reserveCapacity(mappings.count + 1)
        for m in mappings {
            if m.end <= start || m.start >= end { result.append(m); continue }
            if m.start < start {
                var left = m; left.end = start; result.append(left)
            }
            if m.end > end {
                var right = m
                right.fileOffset += end - m.start
                right.start = end
                result.append(right)
            }
        }
        mappings = result
    }

    private func record(_ mapping: GuestMapping) {
        carve(mapping.start, mapping.end)
        let index = mappings.firstIndex { $0.start >= mapping.end } ?? mappings.count
        mappings.insert(mapping, at: index)
    }

    /// Whether no guest mapping overlaps `[start, end)`.
    func isFree(_ start: UInt64, _ end: UInt64) -> Bool {
        !mappings.contains { $0.start < end && $0.end > start }
    }

    /// Whether guest mappings cover all of `[start, end)`.
    func isCovered(_ start: UInt64, _ end: UInt64) -> Bool {
        var cursor = start
        for m in mappings where m.end > cursor && m.start < end {
            if m.start > cursor { return false }
            cursor = m.end
            if cursor >= end { return true }
        }
        return cursor >= end
    }

    /// Whether `[start, end)` is mapped with every bit of `protection`.
    func isAccessible(_ start: UInt64, _ end: UInt64, protection: Int32) -> Bool {
        lock.lock(); defer { lock.unlock() }
        var cursor = start
        for m in mappings where m.end > cursor && m.start < end {
            if m.start > cursor || m.protection & protection != protection { return false }
            cursor = m.end
            if cursor >= end { return true }
        }
        return cursor >= end
    }

    /// Whether `[start, end)` is mapped writable (a signal frame's destination).
    func isWritable(_ start: UInt64, _ end: UInt64) -> Bool { isAccessible(start, end, protection: PROT_WRITE) }

    /// The highest free gap of `length` bytes below `top` and at or above `bottom`.
    private func freeRange(_ length: UInt64, below top: UInt64, above bottom: UInt64) -> UInt64? {
        var gapEnd = top
        for m in mappings.reversed() {
            if m.start >= gapEnd { continue }
            if m.end <= gapEnd, gapEnd - m.end >= length, gapEnd - length >= bottom { return gapEnd - length }
            gapEnd = min(gapEnd, m.start)
            if gapEnd < bottom { return nil }
        }
        return gapEnd >= bottom && gapEnd - bottom >= length ? gapEnd - length : nil
    }

    /// Maps at a free guest address chosen top-down, retrying below host mappings it meets.
    private func mapAnywhere(_ length: UInt64, _ prot: Int32, _ flags: Int32, _ fd: Int32, _ offset: UInt64) -> Int {
        for (top, bottom) in [(GuestLayout.mmapTop, GuestLayout.mmapBottom), (GuestLayout.mmapBottom, GuestLayout.minimumAddress)] {
            var ceiling = top
            while let start = freeRange(length, below: ceiling, above: bottom) {
                let r = hostMap(start, length, prot, flags | MAP_FIXED_NOREPLACE, fd, offset)
                if r != -Int(EEXIST) { return r }
                ceiling = start
            }
        }
        return -Int(ENOMEM)
    }

    private func hostMap(_ start: UInt64, _ length: UInt64, _ prot: Int32, _ flags: Int32, _ fd: Int32, _ offset: UInt64) -> Int {
        HostSyscall.call(HostNumber.mmap, start, length, UInt64(UInt32(bitPattern: prot)),
                         UInt64(UInt32(bitPattern: flags)), UInt64(bitPattern: Int64(fd)), offset)
    }

    // MARK: the system calls

    /// mmap(2) for the guest; returns the address or -errno.
    public func map(address: UInt64, length: UInt64, protection: Int32, flags: Int32, fd: Int32, offset: UInt64) -> Int {
        lock.lock(); defer { lock.unlock() }
        guard length > 0, offset & (GuestLayout.pageSize - 1) == 0 else { return -Int(EINVAL) }
        let size = GuestLayout.pageUp(length)
        guard size >= length else { return -Int(ENOMEM) }
        let anonymous = flags & MAP_ANONYMOUS != 0
        let hostFlags = flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE)
        let result: Int
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            guard address & (GuestLayout.pageSize - 1) == 0 else { return -Int(EINVAL) }
            guard GuestLayout.contains(address, size) else { return -Int(ENOMEM) }
            if flags & MAP_FIXED_NOREPLACE != 0, !isFree(address, address + size) { return -Int(EEXIST) }
            result = hostMap(address, size, protection, hostFlags | (flags & MAP_FIXED_NOREPLACE != 0 ? MAP_FIXED_NOREPLACE : MAP_FIXED), fd, offset)
        } else if address != 0, address & (GuestLayout.pageSize - 1) == 0, GuestLayout.contains(address, size),
                  isFree(address, address + size),
                  case let r = hostMap(address, size, protection, hostFlags | MAP_FIXED_NOREPLACE, fd, offset), r >= 0 {
            result = r
        } else {
            result = mapAnywhere(size, protection, hostFlags, fd, offset)
        }
        guard result >= 0 else { return result }
        let start = UInt64(result)
        invalidateCode(start, start + size)
        var mapping = GuestMapping(start: start, end: start + size, protection: protection, file: nil, fileOffset: offset, base: 0)
        mapping.isShared = flags & MAP_SHARED != 0 && !anonymous
        if !anonymous { describeFile(&mapping, fd: fd) }
        record(mapping)
        return result
    }

    /// Fills in the file identity and, for ELF files, the load bias of a file mapping.
    private func describeFile(_ mapping: inout GuestMapping, fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return }
        let path = readLink("/proc/self/fd/\(fd)") ?? "fd:\(fd)"
        mapping.file = MappedFile(path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        mapping.base = mapping.start &- mapping.fileOffset
        guard mapping.isExecutable, let bytes = try? ELFBytes(mappingFileDescriptor: fd, path: path),
              let elf = try? ELFFile(storage: bytes) else { return }
        if let segment = elf.programHeaders.first(where: {
            $0.type == ELFSegmentType.load && GuestLayout.pageDown($0.offset) == mapping.fileOffset
        }) {
            mapping.base = mapping.start &- GuestLayout.pageDown(segment.virtualAddress)
        }
    }

    /// Records a mapping the loader made itself.
    func recordLoaded(_ mapping: GuestMapping) {
        lock.lock(); defer { lock.unlock() }
        invalidateCode(mapping.start, mapping.end)
        record(mapping)
    }

    /// munmap(2) for the guest.
    public func unmap(address: UInt64, length: UInt64) -> Int {
        lock.lock(); defer { lock.unlock() }
        guard address & (GuestLayout.pageSize - 1) == 0, length > 0 else { return -Int(EINVAL) }
        let size = GuestLayout.pageUp(length)
        guard GuestLayout.contains(address, size) else { return -Int(EINVAL) }
        let r = HostSyscall.call(HostNumber.munmap, address, size)
        guard r == 0 else { return r }
        invalidateCode(address, address + size)
        carve(address, address + size)
        return 0
    }

    /// mprotect(2) for the guest.
    public func protect(address: UInt64, length: UInt64, protection: Int32) -> Int {
        lock.lock(); defer { lock.unlock() }
        guard address & (GuestLayout.pageSize - 1) == 0 else { return -Int(EINVAL) }
        let size = GuestLayout.pageUp(length)
        guard GuestLayout.contains(address, size) else { return -Int(ENOMEM) }
        guard size > 0 else { return 0 }
        guard isCovered(address, address + size) else { return -Int(ENOMEM) }
        let r = HostSyscall.call(HostNumber.mprotect, address, size, UInt64(UInt32(bitPattern: protection)))
        guard r == 0 else { return r }
        let affected = mappings.filter { $0.start < address + size && $0.end > address }
        // Translations stay valid while their bytes stay executable and no new writer appears.
        let addsWrite = protection & PROT_WRITE != 0 && affected.contains { $0.protection & PROT_WRITE == 0 }
        let removesExec = protection & PROT_EXEC == 0 && affected.contains { $0.isExecutable }
        for var m in affected {
            let cutStart = max(m.start, address), cutEnd = min(m.end, address + size)
            m.fileOffset += cutStart - m.start
            m.start = cutStart; m.end = cutEnd
            m.protection = protection
            record(m)
        }
        if addsWrite || removesExec { invalidateCode(address, address + size, wasExecutable: removesExec) }
        protectionChanged(address, address + size)
        return 0
    }

    /// mremap(2) for the guest: grows in place when the guest range above is free, else moves
    /// to an address this type chooses (never one the host picks).
    public func remap(address: UInt64, oldLength: UInt64, newLength: UInt64, flags: Int32, newAddress: UInt64) -> Int {
        lock.lock(); defer { lock.unlock() }
        let mayMove = flags & mremapMayMove != 0, fixed = flags & mremapFixed != 0
        guard address & (GuestLayout.pageSize - 1) == 0, newLength > 0 else { return -Int(EINVAL) }
        let oldSize = GuestLayout.pageUp(oldLength), newSize = GuestLayout.pageUp(newLength)
        guard GuestLayout.contains(address, oldSize), let original = mapping(containing: address) else { return -Int(EFAULT) }
        var target = address
        if fixed {
            guard mayMove, GuestLayout.contains(newAddress, newSize) else { return -Int(EINVAL) }
            target = newAddress
        } else if newSize > oldSize, !isFree(address + oldSize, address + newSize) || !GuestLayout.contains(address, newSize) {
            guard mayMove else { return -Int(ENOMEM) }
            guard let free = freeRange(newSize, below: GuestLayout.mmapTop, above: GuestLayout.minimumAddress) else { return -Int(ENOMEM) }
            target = free
        }
        let moving = target != address
        let hostFlags = moving ? (mremapMayMove | mremapFixed) : 0
        let r = HostSyscall.call(HostNumber.mremap, address, oldSize, newSize, UInt64(hostFlags), target)
        guard r >= 0 else { return r }
        invalidateCode(address, address + oldSize)
        carve(address, address + oldSize)
        var moved = original
        moved.fileOffset = original.fileOffset + (address - original.start)
        moved.start = UInt64(r); moved.end = UInt64(r) + newSize
        if moved.file != nil { moved.base = original.base &+ (moved.start &- address) }
        invalidateCode(moved.start, moved.end)
        record(moved)
        return r
    }

    /// Sets where the program break starts (just past the main program's image).
    func setBreakStart(_ address: UInt64) {
        brkStart = GuestLayout.pageUp(address)
        brkCurrent = brkStart
    }

    /// brk(2): moves the break, mapping or unmapping whole pages; returns the (new) break.
    public func setBreak(_ requested: UInt64) -> Int {
        lock.lock(); defer { lock.unlock() }
        guard requested >= brkStart, GuestLayout.contains(brkStart, requested - brkStart) else { return Int(brkCurrent) }
        let oldTop = GuestLayout.pageUp(brkCurrent), newTop = GuestLayout.pageUp(requested)
        if newTop > oldTop {
            guard isFree(oldTop, newTop) else { return Int(brkCurrent) }
            let r = hostMap(oldTop, newTop - oldTop, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
            guard r >= 0 else { return Int(brkCurrent) }
            record(GuestMapping(start: oldTop, end: newTop, protection: PROT_READ | PROT_WRITE, file: nil, fileOffset: 0, base: 0))
        } else if newTop < oldTop {
            _ = unmap(address: newTop, length: oldTop - newTop)
        }
        brkCurrent = requested
        return Int(requested)
    }
}

private let mremapMayMove: Int32 = 1, mremapFixed: Int32 = 2

/// The target of symbolic link `path`, or nil.
func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4097)
    let n = readlink(path, &buffer, 4096)
    guard n >= 0 else { return nil }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
