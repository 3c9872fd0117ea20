/// A general-purpose register, numbered as the hardware encodes it (rax = 0 ... r15 = 15).
/// The operand width is a property of the instruction form, not of the register.
public struct GPR: Hashable, Sendable, Comparable {
    public let number: UInt8
    @inlinable public init(_ number: UInt8) { self.number = number & 15 }
    public static let rax = GPR(0), rcx = GPR(1), rdx = GPR(2), rbx = GPR(3)
    public static let rsp = GPR(4), rbp = GPR(5), rsi = GPR(6), rdi = GPR(7)
    public static let r8 = GPR(8), r9 = GPR(9), r10 = GPR(10), r11 = GPR(11)
    public static let r12 = GPR(12), r13 = GPR(13), r14 = GPR(14), r15 = GPR(15)
    @inlinable public var low3: UInt8 { number & 7 }
    @inlinable public var isExtended: Bool { number >= 8 }
    @inlinable public static func < (a: GPR, b: GPR) -> Bool { a.number < b.number }
}

/// An SSE register xmm0...xmm15.
public struct XMM: Hashable, Sendable {
    public let number: UInt8
    @inlinable public init(_ number: UInt8) { self.number = number & 15 }
}

/// A memory operand `[base + index * scale + disp]`, or `[rip + disp]`.
public struct X64Memory: Hashable, Sendable {
    public enum Base: Hashable, Sendable {
        case register(GPR)
        /// RIP-relative: `disp` counts from the end of the instruction.
        case rip
    }
    public var base: Base
    public var index: GPR?
    /// 1, 2, 4 or 8.
    public var scale: UInt8
    public var disp: Int32

    @inlinable public init(base: GPR, index: GPR? = nil, scale: UInt8 = 1, disp: Int32 = 0) {
        self.base = .register(base); self.index = index; self.scale = scale; self.disp = disp
    }
    @inlinable public init(ripDisp disp: Int32) {
        base = .rip; index = nil; scale = 1; self.disp = disp
    }
}

/// The register-or-memory operand of a ModRM byte (`r/m`): a GPR or XMM number, or memory.
public enum X64RM: Hashable, Sendable {
    case reg(UInt8)
    case mem(X64Memory)

    @inlinable public static func gpr(_ r: GPR) -> X64RM { .reg(r.number) }
    @inlinable public static func xmm(_ r: XMM) -> X64RM { .reg(r.number) }
}

/// x86-64 condition codes in encoding order (the low nibble of Jcc/SETcc/CMOVcc opcodes).
public enum X64Condition: UInt8, Sendable, CaseIterable {
    case o = 0, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g
    /// The opposite condition.
    @inlinable public var inverted: X64Condition { X64Condition(rawValue: rawValue ^ 1)! }
}
