import KilnIR

/// Sparse byte memory for interpreter tests: only the listed bytes exist, and any other access
/// is a fault (which a test reports as a failure).
public struct SparseMemory: GuestMemory {
    public var bytes: [UInt64: UInt8]

    public init(bytes: [UInt64: UInt8] = [:]) { self.bytes = bytes }

    public mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<size {
            guard let b = bytes[address &+ UInt64(i)] else { throw GuestMemoryFault(address: address, size: size, isWrite: false) }
            v |= UInt64(b) << UInt64(i * 8)
        }
        return v
    }

    public mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        for i in 0..<size where bytes[address &+ UInt64(i)] == nil {
            throw GuestMemoryFault(address: address, size: size, isWrite: true)
        }
        for i in 0..<size { bytes[address &+ UInt64(i)] = UInt8(truncatingIfNeeded: value >> UInt64(i * 8)) }
    }
}
