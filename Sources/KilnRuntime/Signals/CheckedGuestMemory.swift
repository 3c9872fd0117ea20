#if canImport(Glibc)
import Glibc
#endif
import KilnIR

/// Guest memory that checks every access against the guest memory map before making it, so
/// a bad access becomes a precise `GuestMemoryFault` (the interpreter then knows the exact
/// guest pc and register state) instead of a host SIGSEGV inside Kiln. Used while the guest
/// handles SIGSEGV or SIGBUS, and to replay a block whose translated code faulted.
struct CheckedGuestMemory: GuestMemory {
    let addressSpace: GuestAddressSpace
    private var host = HostGuestMemory()
    /// The last mapping that passed, to skip the lookup for runs of nearby accesses.
    private var readable: (start: UInt64, end: UInt64) = (0, 0)
    private var writable: (start: UInt64, end: UInt64) = (0, 0)

    init(addressSpace: GuestAddressSpace) { self.addressSpace = addressSpace }

    /// Whether the last fault was on an unmapped address (SEGV_MAPERR) rather than a
    /// protection violation (SEGV_ACCERR).
    func isUnmapped(_ address: UInt64) -> Bool { addressSpace.mapping(containing: address) == nil }

    private mutating func check(_ address: UInt64, _ size: Int, write: Bool) throws(GuestMemoryFault) {
        let end = address &+ UInt64(size)
        let cached = write ? writable : readable
        if address >= cached.start && end <= cached.end && end > address { return }
        guard end > address, let m = addressSpace.mapping(containing: address),
              addressSpace.isAccessible(address, end, protection: write ? PROT_WRITE : PROT_READ) else {
            throw GuestMemoryFault(address: address, size: size, isWrite: write)
        }
        if write { writable = (m.start, m.end) } else { readable = (m.start, m.end) }
    }

    mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        try check(address, size, write: false)
        return try host.read(address, size: size)
    }

    mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        try check(address, size, write: true)
        try host.write(address, size: size, value)
    }

    mutating func compareAndSwap(_ address: UInt64, size: Int, expected: UInt64, new: UInt64) throws(GuestMemoryFault) -> UInt64 {
        try check(address, size, write: true)
        return try host.compareAndSwap(address, size: size, expected: expected, new: new)
    }

    mutating func compareAndSwapPair(_ address: UInt64, expected: V128, new: V128) throws(GuestMemoryFault) -> V128 {
        try check(address, 16, write: true)
        return try host.compareAndSwapPair(address, expected: expected, new: new)
    }
}
