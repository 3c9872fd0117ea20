/// x86-64 instruction-set extensions a translation may use. The set a translation actually used
/// travels with its code and enters the cache key (DESIGN.md invariant 3). Bit positions and
/// names match KilnCache's `HostFeatures` so the translator can pass the raw value through.
public struct X64Features: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let sse3 = X64Features(rawValue: 1 << 0)
    public static let ssse3 = X64Features(rawValue: 1 << 1)
    public static let sse41 = X64Features(rawValue: 1 << 2)
    public static let sse42 = X64Features(rawValue: 1 << 3)
    public static let popcnt = X64Features(rawValue: 1 << 4)
    public static let lzcnt = X64Features(rawValue: 1 << 5)
    public static let bmi1 = X64Features(rawValue: 1 << 6)
    public static let bmi2 = X64Features(rawValue: 1 << 7)
    public static let avx = X64Features(rawValue: 1 << 8)
    public static let avx2 = X64Features(rawValue: 1 << 9)
    public static let cmpxchg16b = X64Features(rawValue: 1 << 17)
    /// LAHF/SAHF in 64-bit mode (CPUID LAHF-LM); Kiln parks guest flags with them.
    public static let lahfsahf = X64Features(rawValue: 1 << 21)

    /// Each feature with its /proc/cpuinfo flag name.
    public static let names: [(feature: X64Features, name: String)] = [
        (.sse3, "pni"), (.ssse3, "ssse3"), (.sse41, "sse4_1"), (.sse42, "sse4_2"),
        (.popcnt, "popcnt"), (.lzcnt, "abm"), (.bmi1, "bmi1"), (.bmi2, "bmi2"),
        (.avx, "avx"), (.avx2, "avx2"), (.cmpxchg16b, "cx16"), (.lahfsahf, "lahf_lm"),
    ]

    /// Names of the features in the set, in table order.
    public var names: [String] { Self.names.filter { contains($0.feature) }.map(\.name) }
}

/// How an instruction form lays out its operands in the encoding.
public enum X64Encoding: UInt8, Sendable {
    /// Opcode bytes only.
    case none
    /// One r/m operand; ModRM.reg holds the form's digit.
    case m
    /// r/m operand and an 8-bit immediate.
    case mImm8
    /// r/m operand and a 32-bit (16-bit for word forms) immediate.
    case mImm32
    /// Destination r/m, source in ModRM.reg.
    case mr
    /// Destination in ModRM.reg, source r/m.
    case rm
    /// `rm` with an 8-bit immediate.
    case rmImm8
    /// `rm` with a 32-bit immediate.
    case rmImm32
    /// `mr` with an 8-bit immediate.
    case mrImm8
    /// Register in the low three opcode bits.
    case o
    /// `o` with a 32-bit immediate.
    case oImm32
    /// `o` with a 64-bit immediate.
    case oImm64
    /// 8-bit pc-relative displacement.
    case rel8
    /// 32-bit pc-relative displacement.
    case rel32
    /// VEX: destination ModRM.reg, first source VEX.vvvv, second source r/m.
    case vexRVM
    /// VEX: destination ModRM.reg, first source r/m, second source VEX.vvvv.
    case vexRMV
    /// VEX: destination VEX.vvvv, source r/m, ModRM.reg the digit.
    case vexVM
    /// VEX: destination ModRM.reg, source r/m, 8-bit immediate.
    case vexRMImm8
}

/// The kind of register an operand field names.
public enum X64RegisterClass: UInt8, Sendable {
    case none, gpr8, gpr16, gpr32, gpr64, xmm
    /// Only a memory operand is allowed (r/m fields).
    case memory
    /// Only an XMM register is allowed (r/m fields).
    case xmmRegister
}

/// The opcode map: which escape bytes precede the opcode.
public enum X64OpcodeMap: UInt8, Sendable {
    case primary = 0, map0F = 1, map0F38 = 2, map0F3A = 3
}

/// One x86-64 instruction form: everything needed to encode it, one table line each.
public struct X64Form: Sendable {
    public let op: X64Op
    /// Mnemonic as llvm-objdump prints it (AT&T suffix-free, Intel syntax). Held as a
    /// `StaticString` so that a form holds no reference: the assembler copies one per
    /// instruction, and a copy is then a plain load without retain and release.
    public let mnemonicText: StaticString
    public let encoding: X64Encoding
    /// Class of the ModRM.reg / opcode / VEX destination register field.
    public let regClass: X64RegisterClass
    /// Class of the r/m field (`.memory` when only memory is legal).
    public let rmClass: X64RegisterClass
    /// Mandatory prefix 0x66, 0xF2, 0xF3, or 0.
    public let prefix: UInt8
    /// Operand-size override (0x66) for 16-bit GPR operands, emitted before `prefix`.
    public let operandSize16: Bool
    public let map: X64OpcodeMap
    public let opcode: UInt8
    /// ModRM.reg extension (/digit), or nil when ModRM.reg names a register.
    public let digit: UInt8?
    public let rexW: Bool
    /// Byte-register operands: registers 4...7 mean spl/bpl/sil/dil, which needs a REX prefix.
    public let byteRegisters: Bool
    public let lock: Bool
    /// The condition code is added to the opcode (Jcc, SETcc, CMOVcc).
    public let conditional: Bool
    public let feature: X64Features

    public init(_ op: X64Op, _ mnemonic: StaticString, _ encoding: X64Encoding, reg: X64RegisterClass, rm: X64RegisterClass,
                prefix: UInt8 = 0, operandSize16: Bool = false, map: X64OpcodeMap, opcode: UInt8, digit: UInt8? = nil,
                rexW: Bool = false, byteRegisters: Bool = false, lock: Bool = false, conditional: Bool = false,
                feature: X64Features = []) {
        self.op = op; self.mnemonicText = mnemonic; self.encoding = encoding
        self.regClass = reg; self.rmClass = rm; self.prefix = prefix; self.operandSize16 = operandSize16
        self.map = map; self.opcode = opcode; self.digit = digit; self.rexW = rexW
        self.byteRegisters = byteRegisters; self.lock = lock; self.conditional = conditional
        self.feature = feature
    }

    /// Mnemonic as llvm-objdump prints it.
    public var mnemonic: String { mnemonicText.description }

    /// Whether the form has a VEX prefix.
    @inlinable public var isVEX: Bool { encoding.rawValue >= X64Encoding.vexRVM.rawValue }
}

/// GPR width of a table line: selects REX.W, the 0x66 override and byte-register rules.
public enum X64Width: Sendable {
    case b, w, d, q
    @usableFromInline var gprClass: X64RegisterClass {
        switch self { case .b: return .gpr8; case .w: return .gpr16; case .d: return .gpr32; case .q: return .gpr64 }
    }
}

extension X64Form {
    /// A general-purpose form whose register and r/m operands both have width `width`.
    static func gpr(_ op: X64Op, _ mnemonic: StaticString, _ encoding: X64Encoding, _ width: X64Width, _ map: X64OpcodeMap, _ opcode: UInt8,
                    digit: UInt8? = nil, rm: X64RegisterClass? = nil, reg: X64RegisterClass? = nil, prefix: UInt8 = 0,
                    lock: Bool = false, conditional: Bool = false, feature: X64Features = []) -> X64Form {
        let hasReg = digit == nil && encoding != .none && encoding != .rel8 && encoding != .rel32
        let hasRM = ![.none, .o, .oImm32, .oImm64, .rel8, .rel32].contains(encoding)
        return X64Form(op, mnemonic, encoding, reg: hasReg ? (reg ?? width.gprClass) : .none,
                       rm: hasRM ? (rm ?? width.gprClass) : .none, prefix: prefix, operandSize16: width == .w, map: map,
                       opcode: opcode, digit: digit, rexW: width == .q, byteRegisters: width == .b || rm == .gpr8,
                       lock: lock, conditional: conditional, feature: feature)
    }

    /// An SSE form: XMM register operands, `gpr` names the width of a general-register operand
    /// (REX.W for 64-bit), `rm`/`reg` override the operand classes.
    static func sse(_ op: X64Op, _ mnemonic: StaticString, _ encoding: X64Encoding, _ prefix: UInt8, _ map: X64OpcodeMap, _ opcode: UInt8,
                    digit: UInt8? = nil, reg: X64RegisterClass = .xmm, rm: X64RegisterClass = .xmm, rexW: Bool = false,
                    feature: X64Features = []) -> X64Form {
        X64Form(op, mnemonic, encoding, reg: digit == nil ? reg : .none, rm: rm, prefix: prefix, map: map, opcode: opcode,
                digit: digit, rexW: rexW, byteRegisters: reg == .gpr8 || rm == .gpr8, feature: feature)
    }

    /// A VEX-encoded general-purpose form (BMI1/BMI2): `prefix` is the VEX.pp prefix.
    static func vex(_ op: X64Op, _ mnemonic: StaticString, _ encoding: X64Encoding, _ width: X64Width, _ prefix: UInt8, _ map: X64OpcodeMap,
                    _ opcode: UInt8, digit: UInt8? = nil, feature: X64Features) -> X64Form {
        X64Form(op, mnemonic, encoding, reg: width.gprClass, rm: width.gprClass, prefix: prefix, map: map, opcode: opcode,
                digit: digit, rexW: width == .q, feature: feature)
    }
}

import KilnHost

extension X64Features {
    /// The running host's features, from /proc/cpuinfo (empty when it cannot be read).
    public static let host: X64Features = {
        var result: X64Features = []
        for (feature, name) in names where HostCPU.flags.contains(name) { result.insert(feature) }
        return result
    }()
}
