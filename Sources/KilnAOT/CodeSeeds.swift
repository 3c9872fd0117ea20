/// Where an entry point for ahead-of-time translation was found.
public enum SeedSource: Int, CaseIterable, Sendable, Comparable {
    /// The ELF entry point.
    case entry
    /// A defined function (or ifunc resolver) in .symtab or .dynsym.
    case symbol
    /// DT_INIT/DT_FINI and the init, fini and preinit arrays.
    case initFini
    /// A PLT stub.
    case plt
    /// The start of a function described by .eh_frame (from the .eh_frame_hdr table).
    case unwind
    /// The target of a BL.
    case callTarget
    /// An address formed by ADR, or ADRP followed by ADD, that points at code.
    case codePointer
    /// A relocated pointer (R_AARCH64_RELATIVE / IRELATIVE addend) into code: vtables, callbacks.
    case dataPointer
    /// A case of a compiler-generated switch jump table.
    case jumpTable
    /// Reached by following direct branches from other entries.
    case discovered
    /// Recorded by a real run in a codemap.
    case codemap

    public static func < (a: SeedSource, b: SeedSource) -> Bool { a.rawValue < b.rawValue }

    /// Whether code at such an address is typically reached by an indirect branch: a
    /// function's start (called through a pointer or a PLT's BR), an address taken in code or
    /// data, a jump-table case. BL targets, PLT stubs and blocks found by following branches
    /// are reached directly; a codemap says only that the address ran.
    public var reachedIndirectly: Bool {
        switch self {
        case .entry, .symbol, .initFini, .unwind, .codePointer, .dataPointer, .jumpTable: return true
        case .plt, .callTarget, .discovered, .codemap: return false
        }
    }

    /// The name used in reports and JSON.
    public var name: String {
        switch self {
        case .entry: return "entry"
        case .symbol: return "symbol"
        case .initFini: return "init-fini"
        case .plt: return "plt"
        case .unwind: return "unwind"
        case .callTarget: return "call-target"
        case .codePointer: return "code-pointer"
        case .dataPointer: return "data-pointer"
        case .jumpTable: return "jump-table"
        case .discovered: return "discovered"
        case .codemap: return "codemap"
        }
    }
}

/// Entry addresses (ELF virtual addresses, which are region offsets: address minus load bias)
/// with the first source that named each one.
public struct SeedSet: Sendable, Equatable {
    private var firstSource: [UInt64: SeedSource] = [:]

    public init() {}

    /// Adds `address` unless it is already present; returns whether it was new.
    @discardableResult
    public mutating func insert(_ address: UInt64, from source: SeedSource) -> Bool {
        if firstSource[address] != nil { return false }
        firstSource[address] = source
        return true
    }

    public func contains(_ address: UInt64) -> Bool { firstSource[address] != nil }

    public func source(of address: UInt64) -> SeedSource? { firstSource[address] }

    public var count: Int { firstSource.count }

    /// Every address, ascending: the order translation and cache files use (determinism).
    public var addresses: [UInt64] { firstSource.keys.sorted() }

    /// How many addresses each source contributed first, in source order.
    public var countsBySource: [(source: SeedSource, count: Int)] {
        var counts = [Int](repeating: 0, count: SeedSource.allCases.count)
        for source in firstSource.values { counts[source.rawValue] += 1 }
        return SeedSource.allCases.map { ($0, counts[$0.rawValue]) }.filter { $0.count > 0 }
    }
}
