/// The guest CPU model Kiln advertises (AT_HWCAP / AT_HWCAP2). Translations depend on it
/// because glibc picks ifunc variants from it.
public struct GuestFeatures: Hashable, Sendable {
    public var hwcap: UInt64
    public var hwcap2: UInt64

    public init(hwcap: UInt64, hwcap2: UInt64 = 0) {
        self.hwcap = hwcap
        self.hwcap2 = hwcap2
    }

    public static let fp: UInt64 = 1 << 0
    public static let asimd: UInt64 = 1 << 1

    /// What Kiln implements today: FP and ASIMD.
    public static let current = GuestFeatures(hwcap: fp | asimd)
}

/// How the runtime notices guest code that changes (self-modifying code, guest JITs); part of
/// the key because it changes what the translator emits (block ends, checks).
public enum SMCMode: UInt8, CaseIterable, Sendable {
    /// Never: only mapping changes (munmap, mprotect, MAP_FIXED, mremap) drop translations.
    case none = 0
    /// `icache`, plus write-protection of guest pages holding translated code, for programs
    /// that skip cache maintenance.
    case mtrack = 1
    /// Re-check every translation's guest bytes before it runs.
    case full = 2
    /// The architecture's own signal: IC IVAU / IC IALLU drop the translations of the line.
    case icache = 3

    public var name: String {
        switch self {
        case .none: return "none"
        case .mtrack: return "mtrack"
        case .full: return "full"
        case .icache: return "icache"
        }
    }

    /// The mode called `name`, or nil.
    public init?(name: String) {
        guard let mode = SMCMode.allCases.first(where: { $0.name == name }) else { return nil }
        self = mode
    }
}

/// How guest memory ordering is mapped onto the host.
public enum MemoryModelMode: UInt8, CaseIterable, Sendable {
    /// Rely on x86 TSO; fence only where AArch64 requires more (DMB, release then acquire).
    case hostTSO = 0
    /// Fence every acquire/release access as well (debugging ordering bugs).
    case strict = 1

    public var name: String {
        switch self {
        case .hostTSO: return "host-tso"
        case .strict: return "strict"
        }
    }
}

/// Options that change translation output.
public struct TranslationOptions: Hashable, Sendable {
    public var optimizationLevel: UInt8
    public var smcMode: SMCMode
    public var memoryModel: MemoryModelMode

    public init(optimizationLevel: UInt8 = 2, smcMode: SMCMode = .icache, memoryModel: MemoryModelMode = .hostTSO) {
        self.optimizationLevel = optimizationLevel
        self.smcMode = smcMode
        self.memoryModel = memoryModel
    }
}

/// Everything besides the region's content that changes translation output.
public struct TranslationConfiguration: Hashable, Sendable {
    /// Bumped whenever Kiln's generated code or IR changes meaning (calling convention, state
    /// layout, helper table, relocation kinds): old caches then never match.
    public static let currentABIVersion: UInt32 = 19

    public var abiVersion: UInt32
    /// The host features the backend used (not all the host has).
    public var hostFeatures: HostFeatures
    public var guestFeatures: GuestFeatures
    public var options: TranslationOptions

    public init(abiVersion: UInt32 = TranslationConfiguration.currentABIVersion, hostFeatures: HostFeatures,
                guestFeatures: GuestFeatures = .current, options: TranslationOptions = TranslationOptions()) {
        self.abiVersion = abiVersion
        self.hostFeatures = hostFeatures
        self.guestFeatures = guestFeatures
        self.options = options
    }

    /// The canonical 40-byte encoding hashed into the key and stored in cache headers.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(TranslationConfiguration.encodedSize)
        out.appendLittleEndian(abiVersion)
        out.append(options.optimizationLevel)
        out.append(options.smcMode.rawValue)
        out.append(options.memoryModel.rawValue)
        out.append(0)
        out.appendLittleEndian(hostFeatures.rawValue)
        out.appendLittleEndian(guestFeatures.hwcap)
        out.appendLittleEndian(guestFeatures.hwcap2)
        out.appendLittleEndian(UInt64(0))
        return out
    }

    public static let encodedSize = 40

    /// Decodes `encoded`; nil for unknown enum values or nonzero padding.
    public init?(encoded p: UnsafeRawBufferPointer) {
        guard p.count == TranslationConfiguration.encodedSize,
              let smc = SMCMode(rawValue: p[5]), let memory = MemoryModelMode(rawValue: p[6]), p[7] == 0,
              p.loadUnaligned(fromByteOffset: 32, as: UInt64.self) == 0 else { return nil }
        self.init(
            abiVersion: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
            hostFeatures: HostFeatures(rawValue: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))),
            guestFeatures: GuestFeatures(
                hwcap: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                hwcap2: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self))),
            options: TranslationOptions(optimizationLevel: p[4], smcMode: smc, memoryModel: memory))
    }
}

/// The full key of one cache file: which region (by content) and which configuration.
public struct CacheKey: Hashable, Sendable {
    public var identity: ContentIdentity
    public var configuration: TranslationConfiguration
    /// XXH3-64 of the configuration's canonical encoding.
    public var configurationHash: UInt64
    /// The cache file's name: readable base name, content hash, configuration hash.
    public var fileName: String

    /// The extension of cache files.
    public static let fileExtension = "kcache"
}

/// The one key function. The runtime, `kiln bake` and any server call this and nothing else,
/// so that they always agree on which cache file belongs to a region and configuration.
///
/// `baseName` is only a hint that makes names readable (typically the file's last path
/// component); it is sanitised and never affects which cache matches.
public func cacheKey(identity: ContentIdentity, configuration: TranslationConfiguration, baseName: String) -> CacheKey {
    let configurationHash = XXH3.hash64(configuration.encoded)
    let readable = sanitizedBaseName(baseName)
    let name = "\(readable)-\(identity.contentHash.hex)-\(hex64(configurationHash)).\(CacheKey.fileExtension)"
    return CacheKey(identity: identity, configuration: configuration, configurationHash: configurationHash, fileName: name)
}

/// Keeps [A-Za-z0-9._+] (others become '_'), at most 48 characters, never empty or hidden.
func sanitizedBaseName(_ name: String) -> String {
    let last = name.split(separator: "/").last.map(String.init) ?? ""
    var out = String(last.unicodeScalars.prefix(48).map { scalar -> Character in
        let v = scalar.value
        let ok = (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x2E || v == 0x2B || v == 0x5F
        return ok ? Character(scalar) : "_"
    })
    while out.hasPrefix(".") { out.removeFirst() }
    return out.isEmpty ? "region" : out
}
