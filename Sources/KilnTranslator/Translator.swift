import KilnA64
import KilnCache
import KilnIR
import KilnX64

/// One translated block: its IR and, when the backend could lower it, its x86-64 code.
public struct TranslatedUnit {
    public var ir: IRBlock
    /// nil when lowering failed (the runtime then runs `ir` on the interpreter; `kiln bake`
    /// leaves the block to the JIT).
    public var code: X64Translation?
}

/// The one translation pipeline: guest bytes -> A64 frontend -> IR -> x86-64 backend. The
/// runtime's JIT and `kiln bake` both call it, so cached code and JIT code come from the same
/// configuration and are byte-identical for the same guest bytes (invariant 2).
public struct Translator {
    /// Made on the first translation: building the A64 decoder's tables costs a few
    /// milliseconds of start-up that a run served wholly from caches never needs.
    private var builtFrontend: A64Translator?
    public var backend: X64Lowerer
    /// The host features the backend may use (a subset of what the host has).
    public let backendFeatures: X64Features

    /// DC ZVA block size the runtime reports to the guest (DCZID_EL0 = 4, 64 bytes); the
    /// frontend lowers DC ZVA with it, so it is part of the translation configuration.
    public static let zeroBlockSize = UInt64(IRSystemEnvironment().zeroBlockSize)

    /// Whether the backend verifies each lifted block before lowering it: in debug builds
    /// (tests) it does, so a frontend bug shows as a failed verification; release builds
    /// trust the frontend, whose every lift the tests verify.
    #if DEBUG
    public static let verifiesLiftedIR = true
    #else
    public static let verifiesLiftedIR = false
    #endif

    public init(hostFeatures: X64Features = X64Features.host) {
        var options = X64LoweringOptions.forHost(hostFeatures)
        options.verifiesIR = Translator.verifiesLiftedIR
        backend = X64Lowerer(options: options)
        backendFeatures = options.features
    }

    /// Translates the block at `start`. `code` holds the guest bytes of offsets `codeOffset
    /// ..< codeOffset + code.count` (region offsets for `.region` addressing, absolute
    /// addresses for `.absolute`).
    public mutating func translate(code: UnsafeRawBufferPointer, codeOffset: UInt64, at start: UInt64,
                                   addressing: IRAddressing = .region) -> TranslatedUnit {
        // Lifted in place: taking the frontend out of the optional and putting it back
        // copied (retained and released) all of its storage per block.
        if builtFrontend == nil { builtFrontend = Translator.makeFrontend() }
        builtFrontend?.translate(code: code, codeOffset: codeOffset, at: start, addressing: addressing)
        let ir = builtFrontend?.block ?? IRBlock()
        if let lowered = try? backend.lower(ir) { return TranslatedUnit(ir: ir, code: lowered) }
        guard ir.instructions.contains(where: { $0.op == .exitIf }) else { return TranslatedUnit(ir: ir, code: nil) }
        // A unit the backend cannot lower with its side exits (out of spill slots or link
        // tails) is lowered as the block up to its first conditional branch, which it can
        // whenever the block alone could be.
        builtFrontend?.maxSideExits = 0
        defer { builtFrontend?.maxSideExits = A64Translator.defaultSideExits }
        builtFrontend?.translate(code: code, codeOffset: codeOffset, at: start, addressing: addressing)
        let block = builtFrontend?.block ?? IRBlock()
        return TranslatedUnit(ir: block, code: try? backend.lower(block))
    }

    /// The A64 frontend (decoder and lifter) this pipeline translates with.
    public var frontend: A64Translator { builtFrontend ?? Translator.makeFrontend() }

    private static func makeFrontend() -> A64Translator {
        var frontend = A64Translator()
        frontend.lifter.zeroBlockSize = Translator.zeroBlockSize
        return frontend
    }

    /// The configuration that names caches of this translator's output: the host features the
    /// backend uses, the HWCAP the runtime advertises, and the translation options. The
    /// runtime and `kiln bake` both pass it to `cacheKey`, so they agree on names.
    public var configuration: TranslationConfiguration {
        TranslationConfiguration(hostFeatures: HostFeatures(backendFeatures),
                                 guestFeatures: GuestFeatures.current, options: TranslationOptions())
    }
}

extension HostFeatures {
    /// The cache-key form of the backend's feature set (matched by /proc/cpuinfo names).
    public init(_ features: X64Features) {
        var result: HostFeatures = []
        for (feature, name) in X64Features.names where features.contains(feature) {
            if let match = HostFeatures.names.first(where: { $0.name == name }) { result.insert(match.feature) }
        }
        self = result
    }
}

extension CacheEntryInput {
    /// The cache entry for a lowered block of region-relative IR at `guestOffset` whose guest
    /// bytes are `guestBytes`: the code with its table references unresolved (the file builder
    /// resolves them to the entry's place), slot 0 = region base, one link slot per chainable
    /// exit initialised to its stub. nil for absolute (uncacheable) translations.
    public init?(translation: X64Translation, guestOffset: UInt64, guestBytes: UnsafeRawBufferPointer) {
        guard translation.cacheable, !guestBytes.isEmpty, guestBytes.count <= Int(UInt32.max) else { return nil }
        var initializers = [CacheSlotInitializer(kind: .regionAddress, slot: UInt32(X64ABI.UnitTable.regionBase), target: 0)]
        for link in translation.linkSlots {
            initializers.append(CacheSlotInitializer(kind: .link, slot: link.tableEntry, target: link.targetOffset,
                                                     addend: UInt64(link.stubOffset)))
        }
        // The translation's code is already a copy sized to it (a bake holds hundreds of
        // thousands of entries).
        self.init(guestOffset: guestOffset, guestLength: UInt32(guestBytes.count), guestHash: XXH3.hash64(guestBytes),
                  code: translation.code, tableSlots: UInt32(translation.tableEntries),
                  references: translation.relocations.map {
                      CacheTableReference(fieldOffset: $0.fieldOffset, instructionEnd: $0.instructionEnd, slot: $0.tableEntry)
                  },
                  initializers: initializers)
    }
}
