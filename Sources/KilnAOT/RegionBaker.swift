import Dispatch
import KilnCache
import KilnELF
import KilnTranslator

/// An executable segment as the runtime maps it: from the page holding its first byte to the
/// end of the page holding its last file byte, with the file's bytes there (the tail of the
/// last page too, zeroed where .bss starts). Blocks end at the end of the mapping, so baking
/// against exactly these bytes gives the translations the JIT makes.
public struct MappedSegment {
    /// Region offset of the first byte (page-aligned virtual address).
    public var start: UInt64
    public var bytes: [UInt8]
    public var end: UInt64 { start + UInt64(bytes.count) }

    static let pageSize: UInt64 = 4096

    /// The executable PT_LOAD segments of `file`, mapped as the runtime's loader and ld.so map them.
    public static func executableSegments(of file: ELFFile) throws -> [MappedSegment] {
        let all = file.storage.buffer
        return try file.programHeaders.filter(\.isExecutableLoad).compactMap { s in
            guard s.fileSize > 0 else { return nil }
            let start = s.virtualAddress & ~(pageSize - 1)
            let (fileEnd, overflow) = s.virtualAddress.addingReportingOverflow(s.fileSize)
            guard !overflow, fileEnd <= RegionImage.maximumSize, s.offset & (pageSize - 1) == s.virtualAddress & (pageSize - 1) else {
                throw ELFError.outOfBounds(what: "executable segment", offset: s.virtualAddress, length: s.fileSize, fileSize: UInt64(all.count))
            }
            let length = Int(((fileEnd + pageSize - 1) & ~(pageSize - 1)) - start)
            var bytes = [UInt8](repeating: 0, count: length)
            let fileStart = Int(s.offset & ~(pageSize - 1))
            let available = max(0, min(length, all.count - fileStart))
            if available > 0 {
                bytes.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: all.baseAddress! + fileStart, byteCount: available) }
            }
            if s.memorySize > s.fileSize {
                for i in Int(fileEnd - start)..<length { bytes[i] = 0 }
            }
            return MappedSegment(start: start, bytes: bytes)
        }
    }
}

/// Which seed sources a bake uses.
public struct BakeSeeds: OptionSet, Sendable {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Static seeds (entry, symbols, tables, sweep) grown by following direct branches.
    public static let staticSeeds = BakeSeeds(rawValue: 1)
    /// Offsets real runs recorded in codemaps.
    public static let codemaps = BakeSeeds(rawValue: 2)
}

/// What baking one region produced.
public struct BakeRegionResult: Sendable {
    public var hostPath: String
    public var identity: ContentIdentity
    public var cachePath: String
    /// Entries written, by where their seed came from.
    public var staticEntries: Int
    public var codemapEntries: Int
    public var entries: Int { staticEntries + codemapEntries }
    /// Seeds that gave no cacheable code (lowering failed): left to the JIT.
    public var skipped: Int
    /// Guest bytes covered by the entries (each instruction once).
    public var guestBytes: Int
    /// Executable bytes of the region.
    public var regionCodeBytes: Int
    public var cacheBytes: Int
    public var seconds: Double
}

/// Bakes the cache file of one region: seeds, parallel translation with the runtime's own
/// pipeline (`Translator`), one atomically published file named by the one key function.
public struct RegionBaker: Sendable {
    public let store: CacheStore
    public let jobs: Int
    public let seeds: BakeSeeds

    public init(store: CacheStore, jobs: Int, seeds: BakeSeeds) {
        self.store = store
        self.jobs = max(1, jobs)
        self.seeds = seeds
    }

    /// The configuration the runtime uses on this host.
    public var configuration: TranslationConfiguration { Translator().configuration }

    /// Bakes the ELF file at `hostPath`. `recorded` are the codemap offsets of its region;
    /// `progress` is called with (blocks done, blocks total) from any thread.
    public func bake(hostPath: String, recorded: Set<UInt64>,
                     progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) throws -> BakeRegionResult {
        let clock = ContinuousClock.now
        let file = try ELFFile(contentsOfFile: hostPath)
        let key = try store.key(forFileAt: hostPath, configuration: configuration)
        let segments = try MappedSegment.executableSegments(of: file)

        var seedSet = SeedSet()
        if seeds.contains(.staticSeeds) {
            let seeder = try StaticSeeder(file: file)
            seedSet = try seeder.seeds()
            BlockDiscovery(image: seeder.image).discover(into: &seedSet)
        }
        if seeds.contains(.codemaps) {
            for offset in recorded where offset & 3 == 0 && segments.contains(where: { offset >= $0.start && offset + 4 <= $0.end }) {
                seedSet.insert(offset, from: .codemap)
            }
        }
        let addresses = seedSet.addresses
        let results = translateAll(addresses, segments: segments, progress: progress)

        var entries: [CacheEntryInput] = []
        var staticEntries = 0, codemapEntries = 0, skipped = 0
        var covered: [Range<UInt64>] = []
        let useRecorded = seeds.contains(.codemaps)
        for (address, result) in zip(addresses, results) {
            guard var entry = result else { skipped += 1; continue }
            // Blocks a real run executed go first in the file (see CacheEntryInput.hot).
            entry.hot = useRecorded && recorded.contains(address)
            if seedSet.source(of: address)?.reachedIndirectly == true { entry.flags.insert(.indirectTarget) }
            entries.append(entry)
            if seedSet.source(of: address) == .codemap { codemapEntries += 1 } else { staticEntries += 1 }
            covered.append(address ..< address + UInt64(entry.guestLength))
        }
        let bytes = try CacheFileBuilder.build(key: key, entries: entries)
        let path = try CacheWriter(directory: store.directory).publish(bytes, name: key.fileName)
        return BakeRegionResult(hostPath: hostPath, identity: key.identity, cachePath: path,
                                staticEntries: staticEntries, codemapEntries: codemapEntries, skipped: skipped,
                                guestBytes: Self.unionSize(covered), regionCodeBytes: segments.reduce(0) { $0 + $1.bytes.count },
                                cacheBytes: bytes.count, seconds: (ContinuousClock.now - clock) / .seconds(1))
    }

    /// Translates every address on `jobs` threads, each with its own pipeline; the result
    /// order is the address order whatever the scheduling (determinism).
    func translateAll(_ addresses: [UInt64], segments: [MappedSegment],
                      progress: @escaping @Sendable (Int, Int) -> Void) -> [CacheEntryInput?] {
        let results = UnsafeMutableBufferPointer<CacheEntryInput?>.allocate(capacity: addresses.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        let done = ProgressCounter()
        let chunk = 256
        let chunks = (addresses.count + chunk - 1) / chunk
        let shared = UncheckedBox(results)
        DispatchQueue.concurrentPerform(iterations: jobs) { worker in
            var translator = Translator()
            var c = worker
            while c < chunks {
                for i in (c * chunk)..<min(addresses.count, (c + 1) * chunk) {
                    shared.value[i] = Self.entry(at: addresses[i], segments: segments, translator: &translator)
                }
                progress(done.add(min(addresses.count, (c + 1) * chunk) - c * chunk), addresses.count)
                c += jobs
            }
        }
        return Array(results)
    }

    /// The cache entry for the block at region offset `address`, translated exactly as the JIT
    /// would from the mapping that holds it.
    static func entry(at address: UInt64, segments: [MappedSegment], translator: inout Translator) -> CacheEntryInput? {
        guard let segment = segments.first(where: { address >= $0.start && address + 4 <= $0.end }) else { return nil }
        return segment.bytes.withUnsafeBytes { bytes -> CacheEntryInput? in
            let unit = translator.translate(code: bytes, codeOffset: segment.start, at: address)
            guard let code = unit.code else { return nil }
            let from = Int(address - segment.start)
            let length = Int(unit.ir.guestLength)
            guard length > 0, from + length <= bytes.count else { return nil }
            return CacheEntryInput(translation: code, guestOffset: address,
                                   guestBytes: UnsafeRawBufferPointer(rebasing: bytes[from..<(from + length)]))
        }
    }

    static func unionSize(_ ranges: [Range<UInt64>]) -> Int {
        var total: UInt64 = 0, reach: UInt64 = 0
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            let start = max(r.lowerBound, reach)
            if r.upperBound > start { total += r.upperBound - start }
            reach = max(reach, r.upperBound)
        }
        return Int(total)
    }
}

/// A counter shared by worker threads.
final class ProgressCounter: @unchecked Sendable {
    private var value = 0
    private let lock = Lock()
    func add(_ n: Int) -> Int { lock.withLock { value += n; return value } }
}

/// Workers write disjoint indices of one buffer.
struct UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
