#if canImport(Glibc)
import Glibc
#endif
import KilnCache
import KilnIR
import KilnTranslator
import KilnHost

/// How `kiln run` uses translation caches (`--cache MODE`, `KILN_CACHE`).
public enum CacheMode: String, CaseIterable, Sendable {
    /// Use valid caches, JIT the rest, record codemaps (the default).
    case auto
    /// Never look at caches; JIT everything; record nothing.
    case off
    /// Use valid caches; never write anything to the cache directory.
    case readonly
    /// Like readonly, but a code region without a valid cache ends the run with an error
    /// naming the region and the reason (for CI).
    case required
    /// Use caches, but recompile each cached entry on its first use and stop at the first
    /// entry whose bytes differ from the JIT's.
    case verify

    /// Exit status when `required` finds a region without a valid cache.
    public static let requiredExitStatus: Int32 = 123
    /// Exit status when `verify` finds a cached entry that differs from the JIT's code.
    public static let verifyExitStatus: Int32 = 122
}

/// Why the JIT translated a block instead of the cache serving it.
enum JITReason: Int, CaseIterable {
    /// The region has a cache but no entry for this offset.
    case notInCache
    /// The entry's guest bytes no longer match the bytes it was translated from.
    case guestBytesChanged
    /// The entry's records or code failed their checks (corrupt-section).
    case entryCorrupt
    /// The region has no usable cache (missing, rejected, ineligible, or caching off).
    case noCache
    /// Code in anonymous memory (a guest JIT): never cached.
    case anonymousMemory

    var name: String {
        switch self {
        case .notInCache: return "not-in-cache"
        case .guestBytesChanged: return "guest-bytes-changed"
        case .entryCorrupt: return "corrupt-entry"
        case .noCache: return "no-cache"
        case .anonymousMemory: return "anonymous-memory"
        }
    }
}

/// One file-backed executable mapping as the cache layer sees it.
final class CacheRegion {
    let start: UInt64
    let end: UInt64
    let base: UInt64
    let path: String
    let device: UInt64
    let inode: UInt64
    var identity: ContentIdentity?
    var cachePath: String?
    /// "used", "missing", "rejected" or "ineligible".
    var status = "missing"
    var reason = ""
    var detail = ""
    var file: CacheFile?
    /// Lookups served from the cache, entries verified, JIT translations by reason.
    var served = 0
    /// Hot entries made ready with their chunk rather than by their own lookup.
    var preloaded: Int { file?.preparedInChunks ?? 0 }
    var verified = 0
    var jit = [Int](repeating: 0, count: JITReason.allCases.count)
    var attachNanoseconds: UInt64 = 0
    var loadNanoseconds: UInt64 = 0
    var translateNanoseconds: UInt64 = 0
    /// Entries already compared in verify mode.
    var verifiedEntries = Set<Int>()
    var named = false

    init(mapping: GuestMapping, file: MappedFile) {
        start = mapping.start
        end = mapping.end
        base = mapping.base
        path = file.path
        device = file.device
        inode = file.inode
    }

    /// The region's live guest bytes (guest address == host address).
    var guestBytes: GuestRegion {
        GuestRegion(bytes: UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(start)), count: Int(end - start)),
                    offset: start &- base)
    }
}

/// What the cache layer answered for a JIT lookup miss.
struct CacheAnswer {
    var code: UnsafeRawPointer?
    /// Guest bytes the cached code covers.
    var guestLength: UInt32 = 0
    var region: CacheRegion?
    var reason: JITReason
}

/// Cache attach for one guest process: finds, validates and maps the cache file of each
/// file-backed executable region the guest runs code in, serves the JIT's lookup misses from
/// it, chains cached units to each other through the file's per-process table, records
/// codemaps and keeps the numbers for `--cache-report`. Shared by every dispatcher of the
/// process (one lock; it is only reached on lookup misses and unchained cached exits).
public final class CacheAttach {
    /// The process's cache layer, set up by `kiln run` before the guest starts (nil: off).
    nonisolated(unsafe) public static var shared: CacheAttach?

    public let mode: CacheMode
    let store: CacheStore?
    let recorder: CodemapRecorder?
    let configuration: TranslationConfiguration
    /// Set when a report is wanted: only then are translation times measured.
    let timing: Bool
    private var regions: [CacheRegion] = []
    /// Regions whose mapping went away: kept so their code stays mapped while anything
    /// (a return prediction, another thread) may still hold an address inside it.
    private var retired: [CacheRegion] = []
    private var identities: [FileStamp: ContentIdentity] = [:]
    private var anonymousTranslations = 0
    private var anonymousNanoseconds: UInt64 = 0
    private var lastFlush = monotonicNanoseconds()
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    /// Opens the cache directory for `mode` (`environment` names it; see CacheDirectory).
    /// Without a usable directory, caches are simply not found (and `required` says so).
    public init(mode: CacheMode, environment: [String: String], timing: Bool) {
        self.mode = mode
        self.timing = timing
        configuration = Translator().configuration
        pthread_mutex_init(mutex, nil)
        var directory: CacheDirectory?
        if mode != .off {
            if mode == .auto {
                directory = try? CacheDirectory.open(environment: environment).get()
            } else if let path = CacheDirectory.defaultPath(environment: environment) {
                directory = try? CacheDirectory.open(path: path, create: false).get()
            }
        }
        // Only `auto` writes to the cache directory (identity index, codemaps, access times).
        store = directory.map { CacheStore(directory: $0, persistIdentities: mode == .auto) }
        if mode == .auto, let directory {
            recorder = try? CodemapRecorder(directory: directory.codemapDirectory)
        } else {
            recorder = nil
        }
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always) private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Asked on a JIT lookup miss at `pc`: the cached code for it, or why there is none.
    /// In verify mode each entry is recompiled with `pipeline` on first use. `register` gets
    /// the indirect-branch targets of a hot chunk prepared on the way (`CacheFile.prepare`).
    func lookup(_ pc: UInt64, process: GuestProcess, pipeline: inout Translator,
                register: (_ pc: UInt64, _ code: UnsafeRawPointer) -> Void) -> CacheAnswer {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard let region = region(containing: pc, process: process) else { return CacheAnswer(code: nil, region: nil, reason: .anonymousMemory) }
        guard let file = region.file else { return CacheAnswer(code: nil, region: region, reason: .noCache) }
        let started = timing ? monotonicNanoseconds() : 0
        defer { if timing { region.loadNanoseconds &+= monotonicNanoseconds() &- started } }
        // Verify mode recompiles each entry on its first use, so it keeps every entry lazy.
        switch file.prepare(guestOffset: pc &- region.base, guest: region.guestBytes, regionBase: region.base, chunks: mode != .verify,
                            register: register) {
        case .notInCache:
            return CacheAnswer(code: nil, region: region, reason: .notInCache)
        case .rejected(let rejection):
            return CacheAnswer(code: nil, region: region, reason: rejection.reason == .guestBytesChanged ? .guestBytesChanged : .entryCorrupt)
        case let .ready(code, index, guestLength):
            if mode == .verify, region.verifiedEntries.insert(index).inserted {
                verify(entry: index, of: region, file: file, pc: pc, process: process, pipeline: &pipeline)
                region.verified += 1
            }
            region.served += 1
            return CacheAnswer(code: code, guestLength: guestLength, region: region, reason: .notInCache)
        }
    }

    /// Counts a JIT translation made after `answer` and records it in the codemap.
    func noteTranslated(_ pc: UInt64, answer: CacheAnswer, nanoseconds: UInt64) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard let region = answer.region else {
            anonymousTranslations += 1
            anonymousNanoseconds &+= nanoseconds
            return
        }
        region.jit[answer.reason.rawValue] += 1
        region.translateNanoseconds &+= nanoseconds
        guard let recorder, let identity = region.identity else { return }
        if !region.named {
            recorder.name(region: identity.contentHash, path: region.path)
            region.named = true
        }
        recorder.record(region: identity.contentHash, offset: pc &- region.base)
        let now = monotonicNanoseconds()
        if now &- lastFlush > CacheAttach.codemapFlushInterval {
            lastFlush = now
            recorder.flush()
        }
    }

    /// Codemaps reach the disk at least this often (a crash loses at most one interval).
    static let codemapFlushInterval: UInt64 = 2_000_000_000

    /// Whether `pipeline`'s code for a block may be timed: only when a report is wanted.
    var measuresTime: Bool { timing }

    /// The region holding `pc`, attaching its cache on first sight. Caller holds the lock.
    private func region(containing pc: UInt64, process: GuestProcess) -> CacheRegion? {
        for region in regions where pc >= region.start && pc < region.end { return region }
        guard let mapping = process.addressSpace.mapping(containing: pc), let file = mapping.file else { return nil }
        let region = CacheRegion(mapping: mapping, file: file)
        let index = regions.firstIndex { $0.start > region.start } ?? regions.count
        regions.insert(region, at: index)
        let started = monotonicNanoseconds()
        attach(region, writable: mapping.protection & PROT_WRITE != 0)
        region.attachNanoseconds = monotonicNanoseconds() &- started
        if mode == .required, region.status != "used" {
            process.strace?.flush()
            Descriptor.writeAll(2, "kiln: --cache required: no valid cache for \(region.path) (\(region.reason): \(region.detail))\n")
            exit(CacheMode.requiredExitStatus)
        }
        return region
    }

    /// Finds, validates and maps the cache of `region`, or records why not.
    private func attach(_ region: CacheRegion, writable: Bool) {
        guard let store else {
            region.reason = mode == .off ? "off" : "missing"
            region.detail = mode == .off ? "caching is off" : "no cache directory"
            region.status = mode == .off ? "off" : "missing"
            return
        }
        var st = stat()
        guard stat(region.path, &st) == 0 else {
            region.status = "ineligible"; region.reason = "unreadable"; region.detail = "cannot stat \(region.path)"
            return
        }
        guard UInt64(st.st_dev) == region.device, UInt64(st.st_ino) == region.inode else {
            region.status = "ineligible"; region.reason = "file-replaced"
            region.detail = "\(region.path) was replaced after it was mapped"
            return
        }
        let stamp = FileStamp(st)
        if let known = identities[stamp] {
            region.identity = known
        } else if let identity = try? store.identityIndex.identity(ofFileAt: region.path) {
            identities[stamp] = identity
            region.identity = identity
        }
        guard let identity = region.identity else {
            region.status = "ineligible"; region.reason = "not-elf"; region.detail = "\(region.path) has no content identity"
            return
        }
        // Code in a writable mapping can change under the cache (text relocations): the JIT
        // runs it until the loader makes it read-only again (mprotect drops this record).
        guard !writable else {
            region.status = "ineligible"; region.reason = "writable"; region.detail = "mapped writable and executable"
            return
        }
        let key = cacheKey(identity: identity, configuration: configuration, baseName: region.path)
        let path = store.directory.filePath(for: key)
        region.cachePath = path
        // No CacheDiagnostics: the region keeps the run's numbers for the report, and counting
        // each entry served there too would take its lock on every first use.
        switch CacheFile.open(path: path, expectedKey: key, hostFeatures: store.hostFeatures, diagnostics: nil,
                              markUsed: mode == .auto, checkSectionHashes: false) {
        case .failure(let rejection):
            region.status = rejection.reason == .missing ? "missing" : "rejected"
            region.reason = rejection.reason.rawValue
            region.detail = rejection.detail
        case .success(let file):
            switch file.mapCodeAndTables() {
            case .failure(let rejection):
                region.status = "rejected"; region.reason = rejection.reason.rawValue; region.detail = rejection.detail
            case .success:
                region.file = file
                region.status = "used"
            }
        }
    }

    /// Verify mode: recompiles entry `index` from the live guest bytes and compares it with
    /// the cached code and table initialisers; ends the run naming the block on a difference.
    private func verify(entry index: Int, of region: CacheRegion, file: CacheFile, pc: UInt64,
                        process: GuestProcess, pipeline: inout Translator) {
        guard case .success(let cached) = file.view.validateEntry(index, guest: nil) else { return }
        let guest = region.guestBytes
        let unit = pipeline.translate(code: guest.bytes, codeOffset: guest.offset, at: pc &- region.base)
        var problem: String?
        let from = Int(pc &- region.start)
        if let translation = unit.code, unit.ir.guestLength == cached.guestLength, from + Int(cached.guestLength) <= guest.bytes.count,
           let fresh = CacheEntryInput(translation: translation, guestOffset: cached.guestOffset,
                                       guestBytes: UnsafeRawBufferPointer(rebasing: guest.bytes[from..<(from + Int(cached.guestLength))])) {
            var code = fresh.code
            if !CacheTableLayout.resolve(&code, references: fresh.references, codeOffset: Int(cached.codeOffset),
                                         tableOffset: Int(cached.tableOffset), tableAreaOffset: file.view.tableAreaOffset) {
                problem = "its table references cannot be resolved"
            } else if code.count != cached.code.count {
                problem = "code length \(cached.code.count) bytes, the JIT's \(code.count)"
            } else if let at = (0..<code.count).first(where: { code[$0] != cached.code[$0] }) {
                problem = "code differs at byte \(at) of \(code.count)"
            } else if fresh.tableSlots != cached.tableSlots || fresh.initializers != cached.initializers {
                problem = "table slots or their initialisers differ"
            }
        } else {
            problem = "the JIT translates it differently (\(unit.code == nil ? "not lowerable" : "guest length \(unit.ir.guestLength), cached \(cached.guestLength)"))"
        }
        guard let problem else { return }
        process.strace?.flush()
        Descriptor.writeAll(2, "kiln: --cache verify: cached block at \(process.describe(pc)) (entry \(index) of \(file.path)) differs from the JIT: \(problem)\n")
        exit(CacheMode.verifyExitStatus)
    }

    /// Chaining from cached code: if `exitSlot` (as `X64Exit.slot` reports it) lies in a
    /// cache file's table, stores `code` there when `code` is cached code of the same file
    /// (a cached unit's slot must never point into one thread's JIT buffer) and returns
    /// true; a slot of a retired region is left unlinked (true too); returns false when the
    /// slot is not a cache slot.
    func chain(exitSlot: UInt, codeBuffer: (base: UInt, writable: UInt), to code: UnsafeRawPointer) -> Bool {
        let raw = exitSlot &- codeBuffer.writable &+ codeBuffer.base
        return locked {
            for region in regions {
                guard let file = region.file, let slot = file.tableSlot(at: raw) else { continue }
                if file.containsCode(UInt(bitPattern: code)), let tables = file.tables {
                    tables[slot] = UInt64(UInt(bitPattern: code))
                }
                return true
            }
            // A retired region's slots stay unlinked: its code may be stale.
            return retired.contains { $0.file?.tableSlot(at: raw) != nil }
        }
    }

    /// The guest block whose cached code holds host address `rip` (for the fault handler).
    func locate(_ rip: UInt) -> (blockPC: UInt64, pc: UInt64)? {
        for region in regions {
            guard let file = region.file, file.containsCode(rip), let offset = file.entry(containingHostAddress: rip) else { continue }
            let pc = region.base &+ offset
            return (pc, pc)
        }
        return nil
    }

    /// Drops the regions overlapping `[start, end)` (their memory changed or went away);
    /// the next miss there attaches again. Returns whether a dropped region had served
    /// cached code or prepared a hot chunk (whose indirect targets were entered in the
    /// lookup table): the dispatcher must then forget every address it holds for it (cached
    /// blocks are not in its block table, only in its direct-mapped and inline lookups).
    func invalidate(_ start: UInt64, _ end: UInt64) -> Bool {
        locked {
            let gone = regions.filter { $0.start < end && $0.end > start }
            guard !gone.isEmpty else { return false }
            regions.removeAll { $0.start < end && $0.end > start }
            retired += gone
            for region in gone { region.file?.unlinkAll() }
            return gone.contains { $0.served > 0 || $0.preloaded > 0 }
        }
    }

    /// Taken by a thread about to fork: every lock of the cache layer, outermost first, so no
    /// other thread is inside it at the fork (a lookup or codemap record half done would
    /// leave the child a held lock or torn state). `releaseAfterFork` gives them back, in
    /// the parent and in the child, whose only thread is the one that took them.
    func holdForFork() {
        pthread_mutex_lock(mutex)
        for region in regions + retired { region.file?.holdForFork() }
        recorder?.holdForFork()
    }

    func releaseAfterFork() {
        recorder?.releaseAfterFork()
        for region in (regions + retired).reversed() { region.file?.releaseAfterFork() }
        pthread_mutex_unlock(mutex)
    }

    /// Writes pending codemap records (at exit).
    public func flush() {
        recorder?.flush()
    }

    /// Every region seen so far (current and retired), in address order, for the report.
    var allRegions: [CacheRegion] { locked { (regions + retired).sorted { $0.start < $1.start } } }
    var anonymous: (translations: Int, nanoseconds: UInt64) { locked { (anonymousTranslations, anonymousNanoseconds) } }
}

extension JITDispatcher {
    /// Records cached code as the block at `pc` (no IR: cached blocks always run as code).
    /// Only the inline indirect lookup remembers it: a later miss (another pc took that lookup
    /// entry) is served again from the file's index, whose entry is ready by then (no checks
    /// redone). Keeping it in the block cache's direct-mapped array as well cost a cache miss
    /// per entry (4.6% of the perf samples of a baked python3.11 -c pass) for a rare path.
    func installCached(_ code: UnsafeRawPointer, pc: UInt64, guestLength: UInt32, region: CacheRegion?) -> JITBlock {
        let block = JITBlock(code: code, ir: IRBlock(startOffset: pc &- (region?.base ?? 0), guestLength: guestLength),
                             base: region?.base ?? 0, pc: pc, guestLength: UInt64(guestLength))
        runtime.register(pc: pc, code: code)
        return block
    }
}
