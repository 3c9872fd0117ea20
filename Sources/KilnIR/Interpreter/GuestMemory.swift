import Synchronization

/// A guest memory access that could not be performed.
public struct GuestMemoryFault: Error, Equatable, Sendable {
    public var address: UInt64
    public var size: Int
    public var isWrite: Bool
    public init(address: UInt64, size: Int, isWrite: Bool) {
        self.address = address; self.size = size; self.isWrite = isWrite
    }
}

/// Guest memory as seen by the reference interpreter. Values are little-endian, `size` is 1, 2,
/// 4 or 8. The interpreter is generic over this protocol so that each memory model is
/// specialized rather than called through an existential.
public protocol GuestMemory {
    mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64
    mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault)
    /// Atomically: if the `size`-byte value at `address` equals `expected`, store `new`.
    /// Returns the value found. The default implementation is not atomic (single-threaded use).
    mutating func compareAndSwap(_ address: UInt64, size: Int, expected: UInt64, new: UInt64) throws(GuestMemoryFault) -> UInt64
    /// As `compareAndSwap` for a 16-byte value (CASP, STXP).
    mutating func compareAndSwapPair(_ address: UInt64, expected: V128, new: V128) throws(GuestMemoryFault) -> V128
}

extension GuestMemory {
    public mutating func compareAndSwap(_ address: UInt64, size: Int, expected: UInt64, new: UInt64) throws(GuestMemoryFault) -> UInt64 {
        let old = try read(address, size: size)
        if old == expected { try write(address, size: size, new) }
        return old
    }

    public mutating func compareAndSwapPair(_ address: UInt64, expected: V128, new: V128) throws(GuestMemoryFault) -> V128 {
        let old = V128(lo: try read(address, size: 8), hi: try read(address &+ 8, size: 8))
        if old == expected {
            try write(address, size: 8, new.lo)
            try write(address &+ 8, size: 8, new.hi)
        }
        return old
    }
}

/// Locked compare-and-swap on host memory (guest address == host address), for the memory
/// models that run guest threads concurrently: the same LOCK CMPXCHG / CMPXCHG16B that
/// translated code uses, so the tiers agree on atomicity.
public enum HostAtomics {
    @inline(__always)
    public static func compareAndSwap(_ p: UnsafeMutableRawPointer, size: Int, expected: UInt64, new: UInt64) -> UInt64 {
        switch size {
        case 1:
            return UInt64(p.assumingMemoryBound(to: Atomic<UInt8>.self).pointee.compareExchange(
                expected: UInt8(truncatingIfNeeded: expected), desired: UInt8(truncatingIfNeeded: new), ordering: .sequentiallyConsistent).original)
        case 2:
            return UInt64(p.assumingMemoryBound(to: Atomic<UInt16>.self).pointee.compareExchange(
                expected: UInt16(truncatingIfNeeded: expected), desired: UInt16(truncatingIfNeeded: new), ordering: .sequentiallyConsistent).original)
        case 4:
            return UInt64(p.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.compareExchange(
                expected: UInt32(truncatingIfNeeded: expected), desired: UInt32(truncatingIfNeeded: new), ordering: .sequentiallyConsistent).original)
        default:
            return p.assumingMemoryBound(to: Atomic<UInt64>.self).pointee.compareExchange(
                expected: expected, desired: new, ordering: .sequentiallyConsistent).original
        }
    }

    @inline(__always)
    public static func compareAndSwapPair(_ p: UnsafeMutableRawPointer, expected: V128, new: V128) -> V128 {
        let old = p.assumingMemoryBound(to: Atomic<WordPair>.self).pointee.compareExchange(
            expected: WordPair(first: UInt(expected.lo), second: UInt(expected.hi)),
            desired: WordPair(first: UInt(new.lo), second: UInt(new.hi)), ordering: .sequentiallyConsistent).original
        return V128(lo: UInt64(old.first), hi: UInt64(old.second))
    }
}

/// Values of system registers that come from the execution environment, not guest state.
public struct IRSystemEnvironment {
    /// CNTFRQ_EL0: counter frequency in Hz.
    public var counterFrequency: UInt64
    /// CTR_EL0: cache type (line sizes for cache maintenance loops).
    public var cacheType: UInt64
    /// DCZID_EL0: DC ZVA block size (log2 words in bits 3...0; bit 4 set prohibits DC ZVA).
    public var zeroBlockID: UInt64
    /// MIDR_EL1 as exposed to EL0 through trapping MRS.
    public var mainID: UInt64
    /// CNTVCT_EL0: the virtual counter, read on demand.
    public var counter: () -> UInt64

    public init(counterFrequency: UInt64 = 1_000_000_000, cacheType: UInt64 = 0x8444_c004,
                zeroBlockID: UInt64 = 4, mainID: UInt64 = 0x410f_d083, counter: @escaping () -> UInt64 = { 0 }) {
        self.counterFrequency = counterFrequency; self.cacheType = cacheType
        self.zeroBlockID = zeroBlockID; self.mainID = mainID; self.counter = counter
    }

    /// DC ZVA block size in bytes.
    public var zeroBlockSize: Int { 4 << Int(zeroBlockID & 15) }
}
