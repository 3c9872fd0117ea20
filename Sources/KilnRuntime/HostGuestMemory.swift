import KilnIR

/// Guest memory for the interpreter: guest address == host address, so an access is a plain
/// load or store. Addresses outside the guest range fault here (with the exact guest pc);
/// unmapped pages inside it raise a host SIGSEGV that `CrashReporter` turns into a guest crash.
struct HostGuestMemory: GuestMemory {
    @inline(__always)
    func check(_ address: UInt64, _ size: Int, write: Bool) throws(GuestMemoryFault) -> UnsafeMutableRawPointer {
        guard address >= GuestLayout.minimumAddress, address < GuestLayout.limit - 16,
              let p = UnsafeMutableRawPointer(bitPattern: UInt(address)) else {
            throw GuestMemoryFault(address: address, size: size, isWrite: write)
        }
        return p
    }

    @inline(__always)
    mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        let p = try check(address, size, write: false)
        switch size {
        case 1: return UInt64(p.load(as: UInt8.self))
        case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
        case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
        default: return p.loadUnaligned(as: UInt64.self)
        }
    }

    @inline(__always)
    mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        let p = try check(address, size, write: true)
        switch size {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
        default: p.storeBytes(of: value, as: UInt64.self)
        }
    }

    /// Locked, as guest threads run concurrently (an exclusive store is a compare-and-swap).
    @inline(__always)
    mutating func compareAndSwap(_ address: UInt64, size: Int, expected: UInt64, new: UInt64) throws(GuestMemoryFault) -> UInt64 {
        HostAtomics.compareAndSwap(try check(address, size, write: true), size: size, expected: expected, new: new)
    }

    @inline(__always)
    mutating func compareAndSwapPair(_ address: UInt64, expected: V128, new: V128) throws(GuestMemoryFault) -> V128 {
        HostAtomics.compareAndSwapPair(try check(address, 16, write: true), expected: expected, new: new)
    }
}
