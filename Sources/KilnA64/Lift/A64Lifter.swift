import KilnIR

/// Why an instruction could not be lifted.
public struct A64LiftError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable {
        /// A valid encoding Kiln does not implement.
        case unimplemented
        /// No instruction has this encoding (or it is reserved / constrained unpredictable).
        case unallocated
        /// A recognized instruction of an excluded family (SVE, SME, MTE, MOPS).
        case excluded
    }
    public var kind: Kind
    /// Mnemonic from the table, or "unallocated".
    public var mnemonic: String
    /// Region offset of the instruction.
    public var offset: UInt64
    public var encoding: UInt32

    public var description: String {
        let hex = String(encoding, radix: 16)
        let word = String(repeating: "0", count: 8 - hex.count) + hex
        return "\(kind) instruction \(mnemonic) (\(word)) at offset 0x\(String(offset, radix: 16))"
    }
}

/// Lifting state for one block: the IR builder plus the guest instruction being lifted.
/// Lift functions read operand fields from the instruction word and emit IR through the
/// helpers below; an exit-producing instruction sets the block's exit and `ended`.
public struct A64Lifter {
    public var builder: IRBuilder
    /// Region offset of the instruction being lifted.
    public var offset: UInt64 = 0
    /// Mnemonic of the table line being lifted (for error reports).
    public var mnemonic: String = ""
    /// Set once the current instruction ended the block.
    public var ended = false
    /// DC ZVA block size in bytes (from the DCZID_EL0 the runtime advertises).
    public var zeroBlockSize: UInt64 = 64

    public init(addressing: IRAddressing = .region, startOffset: UInt64 = 0) {
        builder = IRBuilder(addressing: addressing, startOffset: startOffset)
    }

    // MARK: Errors

    public func unallocated(_ word: UInt32) -> A64LiftError {
        A64LiftError(kind: .unallocated, mnemonic: mnemonic, offset: offset, encoding: word)
    }
    public func unimplemented(_ word: UInt32) -> A64LiftError {
        A64LiftError(kind: .unimplemented, mnemonic: mnemonic, offset: offset, encoding: word)
    }

    // MARK: Values

    @inlinable public mutating func const(_ t: IRType, _ v: UInt64) -> IRValue { builder.const(t, v) }
    @inlinable public mutating func const64(_ v: UInt64) -> IRValue { builder.const(.i64, v) }

    /// Register `n` of width `t` (i32 or i64), where 31 is the zero register.
    @inlinable public mutating func reg(_ n: Int, _ t: IRType) -> IRValue {
        if n == 31 { return builder.const(t, 0) }
        let x = builder.readReg(.x(n))
        return t == .i64 ? x : builder.trunc(x, to: t)
    }

    /// Register `n` of width `t`, where 31 is SP.
    @inlinable public mutating func regOrSP(_ n: Int, _ t: IRType) -> IRValue {
        let x = builder.readReg(n == 31 ? .sp : .x(n))
        return t == .i64 ? x : builder.trunc(x, to: t)
    }

    /// Writes `v` (i32 or i64) to register `n` (31 = zero register: discarded); 32-bit values
    /// are zero-extended as W-register writes are.
    @inlinable public mutating func setReg(_ n: Int, _ v: IRValue) {
        if n == 31 { return }
        builder.writeReg(.x(n), widen(v))
    }

    /// Writes `v` to register `n` where 31 is SP.
    @inlinable public mutating func setRegOrSP(_ n: Int, _ v: IRValue) {
        builder.writeReg(n == 31 ? .sp : .x(n), widen(v))
    }

    @inlinable public mutating func widen(_ v: IRValue) -> IRValue {
        builder.type(of: v) == .i64 ? v : builder.zext(v, to: .i64)
    }

    @inlinable public mutating func nzcv() -> IRValue { builder.readReg(.nzcv) }
    @inlinable public mutating func setNZCV(_ v: IRValue) { builder.writeReg(.nzcv, v) }

    /// The i1 value of condition `cond` (bits 3...0 of an encoding field) on the current flags.
    @inlinable public mutating func condition(_ cond: UInt32) -> IRValue {
        let c = IRCondition(rawValue: UInt16(cond & 15)) ?? .al
        return builder.condition(c, nzcv())
    }

    /// A guest address `delta` bytes from the current instruction, region-relative.
    @inlinable public mutating func pcRelative(_ delta: Int64) -> IRValue {
        builder.regionAddress(offset &+ UInt64(bitPattern: delta))
    }

    @inlinable public func target(_ delta: Int64) -> UInt64 { offset &+ UInt64(bitPattern: delta) }

    /// Ends the block with `exit` after the current instruction.
    @inlinable public mutating func end(_ exit: IRExit) {
        builder.block.exit = exit
        ended = true
    }

    /// Applies an A64 shift (LSL, LSR, ASR, ROR by `amount`) to `v`.
    @inlinable public mutating func shift(_ v: IRValue, type: UInt32, amount: UInt32) -> IRValue {
        if amount == 0 { return v }
        let t = builder.type(of: v)
        let a = builder.const(t, UInt64(amount))
        switch type & 3 {
        case 0: return builder.shl(v, a)
        case 1: return builder.lshr(v, a)
        case 2: return builder.ashr(v, a)
        default: return builder.ror(v, a)
        }
    }

    /// ExtendReg: the low 8/16/32/64 bits of register `m`, zero- or sign-extended to `t` per
    /// `option` (UXTB...SXTX), shifted left by `amount`.
    @inlinable public mutating func extendedReg(_ m: Int, option: UInt32, amount: UInt32, _ t: IRType) -> IRValue {
        let x = reg(m, .i64)
        let bits = 8 << Int(option & 3)
        var v: IRValue
        if bits >= t.bits {
            v = t == .i64 ? x : builder.trunc(x, to: t)
        } else {
            let narrow = builder.trunc(x, to: IRType.integer(bits: bits))
            v = option & 4 != 0 ? builder.sext(narrow, to: t) : builder.zext(narrow, to: t)
        }
        if amount != 0 { v = builder.shl(v, builder.const(t, UInt64(amount))) }
        return v
    }
}

/// Field extraction from an instruction word.
@inline(__always) func bits(_ w: UInt32, _ hi: Int, _ lo: Int) -> UInt32 { (w >> UInt32(lo)) & ((1 << UInt32(hi - lo + 1)) - 1) }
@inline(__always) func bit(_ w: UInt32, _ n: Int) -> Bool { (w >> UInt32(n)) & 1 == 1 }
@inline(__always) func rd(_ w: UInt32) -> Int { Int(w & 31) }
@inline(__always) func rn(_ w: UInt32) -> Int { Int(w >> 5 & 31) }
@inline(__always) func rm(_ w: UInt32) -> Int { Int(w >> 16 & 31) }
@inline(__always) func ra(_ w: UInt32) -> Int { Int(w >> 10 & 31) }
/// Sign-extends the `count`-bit field value `v`.
@inline(__always) func signed(_ v: UInt32, _ count: Int) -> Int64 { Int64(Int32(bitPattern: v << UInt32(32 - count)) >> Int32(32 - count)) }
@inline(__always) func sfType(_ w: UInt32) -> IRType { bit(w, 31) ? .i64 : .i32 }

/// DecodeBitMasks from the A64 pseudocode: (wmask, tmask) for width `m`, or nil if reserved.
func decodeBitMasks(n: UInt32, imms: UInt32, immr: UInt32, immediate: Bool, width m: Int) -> (UInt64, UInt64)? {
    let combined = (n << 6) | (~imms & 0x3f)
    guard combined != 0 else { return nil }
    let len = 31 - combined.leadingZeroBitCount
    guard len >= 1, (1 << len) <= m else { return nil }
    let levels = UInt32((1 << len) - 1)
    if immediate && (imms & levels) == levels { return nil }
    let s = Int(imms & levels), r = Int(immr & levels)
    let diff = (s - r) & Int(levels)
    let esize = 1 << len
    let welem: UInt64 = s + 1 >= 64 ? ~0 : (1 << UInt64(s + 1)) - 1
    let telem: UInt64 = diff + 1 >= 64 ? ~0 : (1 << UInt64(diff + 1)) - 1
    let emask: UInt64 = esize == 64 ? ~0 : (1 << UInt64(esize)) - 1
    let rotated = r == 0 ? welem : ((welem >> UInt64(r)) | (welem << UInt64(esize - r))) & emask
    var wmask: UInt64 = 0, tmask: UInt64 = 0
    var i = 0
    while i < m {
        wmask |= rotated << UInt64(i)
        tmask |= telem << UInt64(i)
        i += esize
    }
    let mmask: UInt64 = m == 64 ? ~0 : (1 << UInt64(m)) - 1
    return (wmask & mmask, tmask & mmask)
}
