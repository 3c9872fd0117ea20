import KilnIR

/// The instruction families the coverage report distinguishes.
public enum A64Group: UInt8, Sendable, CaseIterable {
    case dataProcessing, branch, system, loadStore, atomic, floatingPoint, simd
    /// Excluded families: recognized so they are reported, never lifted.
    case sve, sme, mte, mops

    public var isExcluded: Bool { rawValue >= A64Group.sve.rawValue }
}

/// Lifts one decoded instruction into the lifter's block.
public typealias A64LiftFunction = (inout A64Lifter, UInt32) throws(A64LiftError) -> Void

/// One line of the instruction table: which encodings match, what they are called, and how
/// they are lifted (nil: recognized but not implemented yet). The lift function also decodes
/// the operand fields, so it names the operand form.
public struct A64Encoding: @unchecked Sendable {
    public let mask: UInt32
    public let value: UInt32
    public let mnemonic: String
    public let group: A64Group
    public let lift: A64LiftFunction?

    /// `pattern` lists bits 31...0: `0` and `1` must match, any other letter is an operand
    /// field; `_` and spaces separate fields for reading and are ignored.
    public init(_ pattern: StaticString, _ mnemonic: String, _ group: A64Group, _ lift: A64LiftFunction?) {
        var mask: UInt32 = 0, value: UInt32 = 0, count = 0
        pattern.withUTF8Buffer { buffer in
            for byte in buffer where byte != UInt8(ascii: "_") && byte != UInt8(ascii: " ") {
                mask <<= 1; value <<= 1; count += 1
                if byte == UInt8(ascii: "0") { mask |= 1 }
                else if byte == UInt8(ascii: "1") { mask |= 1; value |= 1 }
            }
        }
        precondition(count == 32, "A64 table pattern for \(mnemonic) has \(count) bits")
        self.mask = mask
        self.value = value
        self.mnemonic = mnemonic
        self.group = group
        self.lift = lift
    }

    @inlinable public func matches(_ word: UInt32) -> Bool { word & mask == value }
}
