#if canImport(Glibc)
import Glibc
#endif

/// Errors of the executable-memory layer, with the failing call's errno.
public enum CodeBufferError: Error, Equatable, Sendable {
    case mapFailed(errno: Int32)
    case protectFailed(errno: Int32)
    case full
}

/// Executable memory with W^X: pages are writable while code is written into them, then
/// switched to read+execute; no page is ever writable and executable at once. Each unit gets
/// its code pages followed by its writable table pages, so RIP-relative table references
/// resolve to a layout-fixed distance.
public final class CodeBuffer {
    public static let pageSize = 4096
    public let base: UnsafeMutableRawPointer
    public let capacity: Int
    public private(set) var used = 0

    public init(capacity requested: Int) throws(CodeBufferError) {
        let size = (requested + Self.pageSize - 1) & ~(Self.pageSize - 1)
        guard let p = mmap(nil, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), p != MAP_FAILED else {
            throw .mapFailed(errno: errno)
        }
        base = p
        capacity = size
    }

    deinit { munmap(base, capacity) }

    @inline(__always) static func pages(_ n: Int) -> Int { (n + pageSize - 1) & ~(pageSize - 1) }

    /// Offset of the unit table from the start of a unit whose code is `codeSize` bytes.
    public static func tableDistance(codeSize: Int) -> Int { pages(max(codeSize, 1)) }

    /// Copies `translation` in, resolves its table relocations, makes the code read+execute
    /// and returns the installed unit. The table starts with `regionBase`; every link slot
    /// points at its own stub (unlinked).
    public func install(_ translation: X64Translation, regionBase: UInt64) throws(CodeBufferError) -> X64InstalledUnit {
        let codePages = Self.tableDistance(codeSize: translation.code.count)
        let tablePages = Self.pages(max(translation.tableEntries, 1) * 8)
        guard used + codePages + tablePages <= capacity else { throw .full }
        let start = base + used
        guard mprotect(start, codePages + tablePages, PROT_READ | PROT_WRITE) == 0 else { throw .protectFailed(errno: errno) }
        translation.code.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        for r in translation.relocations {
            let displacement = Int32(truncatingIfNeeded: codePages + Int(r.tableEntry) * 8 - Int(r.instructionEnd))
            start.storeBytes(of: displacement.littleEndian, toByteOffset: Int(r.fieldOffset), as: Int32.self)
        }
        let table = (start + codePages).bindMemory(to: UInt64.self, capacity: tablePages / 8)
        table[X64ABI.UnitTable.regionBase] = regionBase
        for slot in translation.linkSlots {
            table[Int(slot.tableEntry)] = UInt64(UInt(bitPattern: start + Int(slot.stubOffset)))
        }
        guard mprotect(start, codePages, PROT_READ | PROT_EXEC) == 0 else { throw .protectFailed(errno: errno) }
        used += codePages + tablePages
        return X64InstalledUnit(code: UnsafeRawPointer(start), table: table, linkSlots: translation.linkSlots)
    }

    /// Installs raw position-dependent host code with no table (the entry trampoline).
    public func install(code: [UInt8]) throws(CodeBufferError) -> UnsafeRawPointer {
        let size = Self.pages(code.count)
        guard used + size <= capacity else { throw .full }
        let start = base + used
        guard mprotect(start, size, PROT_READ | PROT_WRITE) == 0 else { throw .protectFailed(errno: errno) }
        code.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard mprotect(start, size, PROT_READ | PROT_EXEC) == 0 else { throw .protectFailed(errno: errno) }
        used += size
        return UnsafeRawPointer(start)
    }

    /// Drops every unit installed after `mark` (a value of `used`); their pages become
    /// inaccessible until reused.
    public func reset(to mark: Int) {
        guard mark < used else { return }
        mprotect(base + mark, used - mark, PROT_NONE)
        used = mark
    }
}

/// A translation placed in a code buffer.
public struct X64InstalledUnit {
    public let code: UnsafeRawPointer
    /// The unit's writable table: region base, then link slots.
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
