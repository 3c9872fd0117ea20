/// A 128-bit vector register image.
public struct V128: Hashable, Sendable {
    public var lo: UInt64
    public var hi: UInt64
    @inlinable public init(lo: UInt64 = 0, hi: UInt64 = 0) { self.lo = lo; self.hi = hi }
    public static let zero = V128()

    /// Lane `index` of `bits` width (8, 16, 32 or 64), zero-extended.
    @inlinable public func lane(_ index: Int, bits: Int) -> UInt64 {
        let bit = index * bits
        let word = bit < 64 ? lo : hi
        let shift = bit & 63
        return bits == 64 ? word : (word >> UInt64(shift)) & ((1 << UInt64(bits)) - 1)
    }

    @inlinable public mutating func setLane(_ index: Int, bits: Int, _ value: UInt64) {
        let bit = index * bits
        let shift = UInt64(bit & 63)
        let mask: UInt64 = bits == 64 ? ~0 : ((1 << UInt64(bits)) - 1) << shift
        let v = (value << shift) & mask
        if bit < 64 { lo = (lo & ~mask) | v } else { hi = (hi & ~mask) | v }
    }
}

/// The guest CPU state in a fixed memory layout, so that translated code can address every
/// field at a constant offset from one base pointer. The offsets are part of Kiln's translation
/// ABI.
///
/// Layout (bytes): x0...x30 at 0, sp 248, pc 256, nzcv 264 (u32 in the parked form below),
/// fpcr 268, fpsr 272, tpidr_el0 280, v0...v31 at 288 (16 bytes each, low half first),
/// exclusive monitor: address 800, value 808 (16 bytes), size 824 (u32, 0 = no reservation).
public final class GuestCPUState {
    public static let xOffset = 0
    public static let spOffset = 248
    public static let pcOffset = 256
    public static let nzcvOffset = 264
    public static let fpcrOffset = 268
    public static let fpsrOffset = 272
    public static let tpidrOffset = 280
    public static let vOffset = 288
    public static let exclusiveAddressOffset = 800
    public static let exclusiveValueOffset = 808
    public static let exclusiveSizeOffset = 824
    public static let size = 832

    /// Base of the state block (16-byte aligned, `size` bytes).
    public let base: UnsafeMutableRawPointer

    public init() {
        base = UnsafeMutableRawPointer.allocate(byteCount: Self.size, alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
    }

    deinit { base.deallocate() }

    @inlinable public func x(_ n: Int) -> UInt64 { base.load(fromByteOffset: n * 8, as: UInt64.self) }
    @inlinable public func setX(_ n: Int, _ v: UInt64) { base.storeBytes(of: v, toByteOffset: n * 8, as: UInt64.self) }
    @inlinable public var sp: UInt64 {
        get { base.load(fromByteOffset: Self.spOffset, as: UInt64.self) }
        set { base.storeBytes(of: newValue, toByteOffset: Self.spOffset, as: UInt64.self) }
    }
    @inlinable public var pc: UInt64 {
        get { base.load(fromByteOffset: Self.pcOffset, as: UInt64.self) }
        set { base.storeBytes(of: newValue, toByteOffset: Self.pcOffset, as: UInt64.self) }
    }
    /// NZCV in A64 layout (N Z C V in bits 31...28). Stored parked (`parkedNZCV`).
    @inlinable public var nzcv: UInt32 {
        get { Self.a64NZCV(parked: base.load(fromByteOffset: Self.nzcvOffset, as: UInt32.self)) }
        set { base.storeBytes(of: Self.parkedNZCV(newValue), toByteOffset: Self.nzcvOffset, as: UInt32.self) }
    }

    /// NZCV as translated code keeps it, so that a block stores the flags it leaves without
    /// converting them and the next block's B.cond restores them with SAHF: what LAHF + SETO
    /// leave in AX, with A64 C in CF — N = bit 15 (SF), Z = bit 14 (ZF), C = bit 8 (CF),
    /// V = bit 0 (OF, AL is 0 or 1). Other bits (AF, PF, bit 9) carry no meaning.
    @inlinable public static func parkedNZCV(_ a64: UInt32) -> UInt32 {
        (a64 >> 16 & 0xC000) | (a64 >> 21 & 0x100) | (a64 >> 28 & 1) | 0x200
    }

    /// A64 layout of a parked NZCV word.
    @inlinable public static func a64NZCV(parked: UInt32) -> UInt32 {
        (parked & 0xC000) << 16 | (parked & 0x100) << 21 | (parked & 1) << 28
    }
    @inlinable public var fpcr: UInt32 {
        get { base.load(fromByteOffset: Self.fpcrOffset, as: UInt32.self) }
        set { base.storeBytes(of: newValue, toByteOffset: Self.fpcrOffset, as: UInt32.self) }
    }
    @inlinable public var fpsr: UInt32 {
        get { base.load(fromByteOffset: Self.fpsrOffset, as: UInt32.self) }
        set { base.storeBytes(of: newValue, toByteOffset: Self.fpsrOffset, as: UInt32.self) }
    }
    @inlinable public var tpidr: UInt64 {
        get { base.load(fromByteOffset: Self.tpidrOffset, as: UInt64.self) }
        set { base.storeBytes(of: newValue, toByteOffset: Self.tpidrOffset, as: UInt64.self) }
    }
    @inlinable public func v(_ n: Int) -> V128 {
        V128(lo: base.load(fromByteOffset: Self.vOffset + n * 16, as: UInt64.self),
             hi: base.load(fromByteOffset: Self.vOffset + n * 16 + 8, as: UInt64.self))
    }
    @inlinable public func setV(_ n: Int, _ v: V128) {
        base.storeBytes(of: v.lo, toByteOffset: Self.vOffset + n * 16, as: UInt64.self)
        base.storeBytes(of: v.hi, toByteOffset: Self.vOffset + n * 16 + 8, as: UInt64.self)
    }
    /// Exclusive monitor: reserved address, value seen and size in bytes (0 = none).
    @inlinable public var exclusiveAddress: UInt64 {
        get { base.load(fromByteOffset: Self.exclusiveAddressOffset, as: UInt64.self) }
        set { base.storeBytes(of: newValue, toByteOffset: Self.exclusiveAddressOffset, as: UInt64.self) }
    }
    @inlinable public var exclusiveValue: V128 {
        get { V128(lo: base.load(fromByteOffset: Self.exclusiveValueOffset, as: UInt64.self),
                   hi: base.load(fromByteOffset: Self.exclusiveValueOffset + 8, as: UInt64.self)) }
        set {
            base.storeBytes(of: newValue.lo, toByteOffset: Self.exclusiveValueOffset, as: UInt64.self)
            base.storeBytes(of: newValue.hi, toByteOffset: Self.exclusiveValueOffset + 8, as: UInt64.self)
        }
    }
    @inlinable public var exclusiveSize: UInt32 {
        get { base.load(fromByteOffset: Self.exclusiveSizeOffset, as: UInt32.self) }
        set { base.storeBytes(of: newValue, toByteOffset: Self.exclusiveSizeOffset, as: UInt32.self) }
    }

    /// Byte offset of an IR guest register in this layout.
    @inlinable public static func offset(of r: IRGuestRegister) -> Int {
        switch r.rawValue {
        case 0...31: return Int(r.rawValue) * 8
        case 32: return nzcvOffset
        case 33: return fpcrOffset
        case 34: return fpsrOffset
        case 35: return tpidrOffset
        default: return vOffset + (Int(r.rawValue) - 36) * 16
        }
    }

    /// Reads register `r` as a 128-bit holder (integers zero-extended).
    @inlinable public func read(_ r: IRGuestRegister) -> V128 {
        let off = Self.offset(of: r)
        switch r.type {
        case .v128: return V128(lo: base.load(fromByteOffset: off, as: UInt64.self), hi: base.load(fromByteOffset: off + 8, as: UInt64.self))
        case .i32:
            let word = base.load(fromByteOffset: off, as: UInt32.self)
            return V128(lo: UInt64(r == .nzcv ? Self.a64NZCV(parked: word) : word))
        default: return V128(lo: base.load(fromByteOffset: off, as: UInt64.self))
        }
    }

    @inlinable public func write(_ r: IRGuestRegister, _ v: V128) {
        let off = Self.offset(of: r)
        switch r.type {
        case .v128:
            base.storeBytes(of: v.lo, toByteOffset: off, as: UInt64.self)
            base.storeBytes(of: v.hi, toByteOffset: off + 8, as: UInt64.self)
        case .i32:
            let word = UInt32(truncatingIfNeeded: v.lo)
            base.storeBytes(of: r == .nzcv ? Self.parkedNZCV(word) : word, toByteOffset: off, as: UInt32.self)
        default: base.storeBytes(of: v.lo, toByteOffset: off, as: UInt64.self)
        }
    }
}
