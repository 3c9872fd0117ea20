/// The type of an IR value.
///
/// Integers carry no signedness: operations say how they interpret bits. Integer values are
/// held zero-extended to 64 bits; `v128` is a 128-bit vector register image.
public enum IRType: UInt8, Sendable, CaseIterable {
    /// No value: the instruction is executed for its effect.
    case void = 0
    case i1, i8, i16, i32, i64
    case f32, f64
    case v128

    /// Width in bits (0 for void).
    @inlinable public var bits: Int {
        switch self {
        case .void: return 0
        case .i1: return 1
        case .i8: return 8
        case .i16: return 16
        case .i32, .f32: return 32
        case .i64, .f64: return 64
        case .v128: return 128
        }
    }

    @inlinable public var isInteger: Bool { self.rawValue >= IRType.i1.rawValue && self.rawValue <= IRType.i64.rawValue }
    @inlinable public var isFloat: Bool { self == .f32 || self == .f64 }

    /// The integer type with `bits` bits (8, 16, 32 or 64).
    @inlinable public static func integer(bits: Int) -> IRType {
        switch bits {
        case 1: return .i1
        case 8: return .i8
        case 16: return .i16
        case 32: return .i32
        default: return .i64
        }
    }

    /// Mask of the bits an integer of this type occupies in its 64-bit holder.
    @inlinable public var mask: UInt64 {
        switch self {
        case .i1: return 1
        case .i8: return 0xff
        case .i16: return 0xffff
        case .i32, .f32: return 0xffff_ffff
        default: return ~0
        }
    }

    /// The name used by the text form.
    public var name: String {
        switch self {
        case .void: return "void"
        case .i1: return "i1"
        case .i8: return "i8"
        case .i16: return "i16"
        case .i32: return "i32"
        case .i64: return "i64"
        case .f32: return "f32"
        case .f64: return "f64"
        case .v128: return "v128"
        }
    }
}

/// An SSA value: the index of the instruction that defines it within its block.
public struct IRValue: Hashable, Sendable, Comparable {
    public var index: UInt32
    @inlinable public init(_ index: UInt32) { self.index = index }
    @inlinable public init(_ index: Int) { self.index = UInt32(truncatingIfNeeded: index) }
    /// The absent operand.
    public static let none = IRValue(UInt32.max)
    @inlinable public var isNone: Bool { index == UInt32.max }
    @inlinable public static func < (a: IRValue, b: IRValue) -> Bool { a.index < b.index }
}
