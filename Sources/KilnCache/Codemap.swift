#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// Codemaps: which entry offsets real runs executed, per region (by content hash). Each
/// process appends to its own file (RecordLog framing, so a crash loses at most the last
/// frame); `CodemapMerge` folds any number of files and earlier merges into one
/// deduplicated, sorted set.
public enum Codemap {
    static let magic: [UInt8] = Array("KILNCMP2".utf8)
    public static let fileExtension = "kcodemap"

    /// Offsets executed in one region.
    public typealias Offsets = [XXH128Hash: Set<UInt64>]
    /// A host path each region was last seen at (a hint for `kiln bake --codemaps`).
    public typealias Paths = [XXH128Hash: String]

    static let offsetsFrame: UInt8 = 1
    static let pathFrame: UInt8 = 2

    /// Encodes one frame payload: kind 1, region hash, count, offsets (ascending).
    static func encode(region: XXH128Hash, offsets: [UInt64]) -> [UInt8] {
        var out: [UInt8] = [offsetsFrame]
        out.reserveCapacity(25 + 8 * offsets.count)
        out.appendLittleEndian(region.low64)
        out.appendLittleEndian(region.high64)
        out.appendLittleEndian(UInt64(offsets.count))
        for offset in offsets { out.appendLittleEndian(offset) }
        return out
    }

    /// Encodes a path frame: kind 2, region hash, the path's UTF-8 bytes.
    static func encode(region: XXH128Hash, path: String) -> [UInt8] {
        var out: [UInt8] = [pathFrame]
        out.appendLittleEndian(region.low64)
        out.appendLittleEndian(region.high64)
        out += Array(path.utf8)
        return out
    }

    static func decode(_ frame: ArraySlice<UInt8>, into result: inout Offsets, paths: inout Paths) -> Bool {
        guard let kind = frame.first else { return false }
        let p = frame.dropFirst()
        if kind == pathFrame {
            guard p.count >= 16 else { return false }
            let region = XXH128Hash(low64: readLE64(p, 0), high64: readLE64(p, 8))
            paths[region] = String(decoding: p.dropFirst(16), as: UTF8.self)
            return true
        }
        guard kind == offsetsFrame, p.count >= 24 else { return false }
        let region = XXH128Hash(low64: readLE64(p, 0), high64: readLE64(p, 8))
        let count = readLE64(p, 16)
        guard count <= UInt64((p.count - 24) / 8), UInt64(p.count) == 24 + 8 * count else { return false }
        var set = result[region] ?? []
        for i in 0..<Int(count) { set.insert(readLE64(p, 24 + 8 * i)) }
        result[region] = set
        return true
    }

    /// The codemap of one file: everything up to the first torn or corrupt frame.
    public static func read(path: String) -> (offsets: Offsets, clean: Bool) {
        let contents = readContents(path: path)
        return (contents.offsets, contents.clean)
    }

    /// The offsets and path hints of one file, up to the first torn or corrupt frame.
    public static func readContents(path: String) -> (offsets: Offsets, paths: Paths, clean: Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return ([:], [:], false) }
        defer { close(fd) }
        guard CacheDirectory.checkOwnership(fd: fd) == nil, let bytes = readAll(fd) else { return ([:], [:], false) }
        let (payloads, clean) = RecordLog.payloads(in: bytes, magic: magic)
        var result: Offsets = [:]
        var paths: Paths = [:]
        var allDecoded = true
        for payload in payloads where !decode(payload, into: &result, paths: &paths) { allDecoded = false }
        return (result, paths, clean && allDecoded)
    }

    /// Writes `offsets` (and path hints) as a complete codemap file, atomically, with
    /// deterministic bytes (regions and offsets sorted).
    public static func write(_ offsets: Offsets, paths: Paths = [:], name: String, in directory: CacheDirectory) throws {
        var bytes = magic
        for region in paths.keys.sorted() {
            bytes += RecordLog.frame(encode(region: region, path: paths[region, default: ""]))
        }
        for region in offsets.keys.sorted() {
            bytes += RecordLog.frame(encode(region: region, offsets: offsets[region, default: []].sorted()))
        }
        try CacheWriter(directory: directory).publish(bytes, name: name)
    }
}

/// Appends the executed entries of one process to its own codemap file. Offsets are buffered
/// and written one frame per region on `flush()`. The file is created by the first flush that
/// has something to write: a run served wholly from caches leaves no file behind (CI farms
/// run a program thousands of times) and makes no system call into the cache directory.
public final class CodemapRecorder: @unchecked Sendable {
    public let path: String
    private let directory: String
    /// The file's descriptor once created; before that, a placeholder holding the same
    /// number (a duplicate of /dev/null), so the number the runtime reserves from the guest
    /// stays Kiln's. -1 when nothing could be reserved and the file cannot be written.
    private var fd: Int32
    /// Whether the file was created (nil: not tried yet).
    private var created: Bool?
    private var pending: [XXH128Hash: Set<UInt64>] = [:]
    private var written: [XXH128Hash: Set<UInt64>] = [:]
    private var pendingPaths: [XXH128Hash: String] = [:]
    private let lock = Lock()

    /// Prepares `<pid>-<start ns>.kcodemap` in `directory` (both created on the first write;
    /// the directory 0700).
    public init(directory: String, processID: Int32 = getpid()) throws {
        self.directory = directory
        path = directory + "/\(processID)-\(realtimeNanoseconds()).\(Codemap.fileExtension)"
        // Out of the low numbers a guest allocates from (as cache files are): a guest's open()
        // returns what it would without Kiln, and a guest scanning its descriptors (CPython's
        // subprocess tests do) does not find this one among its own.
        let placeholder = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard placeholder >= 0 else { throw CacheWriteError.io("open /dev/null", errno) }
        fd = CacheFile.moveOutOfGuestRange(placeholder)
    }

    /// The codemap's descriptor number (a runtime keeps its guest from closing it).
    public var descriptor: Int32 { fd }

    deinit {
        flush()
        if fd >= 0 { close(fd) }
    }

    /// Held by the forking thread across a fork (see `CacheFile.holdForFork`).
    public func holdForFork() { lock.acquire() }
    public func releaseAfterFork() { lock.release() }

    /// Notes the host path of `region` (written with the next flush).
    public func name(region: XXH128Hash, path: String) {
        lock.withLock { pendingPaths[region] = path }
    }

    /// Notes that the entry at `offset` in `region` ran.
    public func record(region: XXH128Hash, offset: UInt64) {
        lock.withLock {
            if written[region]?.contains(offset) == true { return }
            pending[region, default: []].insert(offset)
        }
    }

    /// Creates the file (once) and puts it in the placeholder's place. Caller holds `lock`.
    /// False when the directory or file cannot be used: recording then stops, as a failed
    /// write loses its records (a codemap only guides later bakes).
    private func createFile() -> Bool {
        if let created { return created }
        let made = { () -> Bool in
            if mkdir(directory, 0o700) != 0, errno != EEXIST { return false }
            guard case .success = CacheDirectory.open(path: directory, create: false),
                  case .success(let file) = RecordLog.openForAppend(path: path, magic: Codemap.magic) else { return false }
            defer { close(file) }
            // dup2 clears close-on-exec on `fd`: set again, as every Kiln descriptor has it.
            return dup2(file, fd) == fd && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0
        }()
        created = made
        return made
    }

    /// Appends everything recorded since the last flush.
    public func flush() {
        let (batch, paths): ([XXH128Hash: Set<UInt64>], [XXH128Hash: String]) = lock.withLock {
            guard !pending.isEmpty, createFile() else {
                pending = [:]
                return ([:], [:])
            }
            let b = pending, p = pendingPaths
            pending = [:]
            pendingPaths = [:]
            for (region, offsets) in b { written[region, default: []].formUnion(offsets) }
            return (b, p)
        }
        for region in paths.keys.sorted() {
            let frame = RecordLog.frame(Codemap.encode(region: region, path: paths[region, default: ""]))
            _ = frame.withUnsafeBytes { Descriptor.write(fd, $0) }
        }
        for region in batch.keys.sorted() {
            let frame = RecordLog.frame(Codemap.encode(region: region, offsets: batch[region, default: []].sorted()))
            _ = frame.withUnsafeBytes { Descriptor.write(fd, $0) }
        }
    }
}

/// Merges codemap files.
public enum CodemapMerge {
    /// The file `mergeDirectory` folds the per-process codemaps into.
    public static let mergedFileName = "merged." + Codemap.fileExtension

    /// The names of the codemaps processes wrote in `directory` (not the merged one, not
    /// temporaries), sorted.
    public static func perProcessFiles(in directory: String) -> [String] {
        listDirectory(directory).filter { $0.hasSuffix("." + Codemap.fileExtension) && !$0.hasPrefix(".") && $0 != mergedFileName }.sorted()
    }

    /// The union of all files in `paths` (torn tails tolerated), deduplicated.
    public static func merge(paths: [String]) -> Codemap.Offsets { mergeContents(paths: paths).offsets }

    /// The union of offsets and the path hints of all files (later files' hints win).
    public static func mergeContents(paths files: [String]) -> (offsets: Codemap.Offsets, paths: Codemap.Paths) {
        var result: Codemap.Offsets = [:]
        var hints: Codemap.Paths = [:]
        for file in files {
            let contents = Codemap.readContents(path: file)
            for (region, offsets) in contents.offsets { result[region, default: []].formUnion(offsets) }
            hints.merge(contents.paths) { _, new in new }
        }
        return (result, hints)
    }

    /// Folds every per-process codemap in `directory` into `merged.kcodemap` (keeping what an
    /// earlier merge found), publishes it atomically and removes the per-process files that
    /// were folded in. Returns the merged set.
    @discardableResult
    public static func mergeDirectory(_ directory: CacheDirectory) throws -> Codemap.Offsets {
        let inputs = perProcessFiles(in: directory.path)
        let merged = mergeContents(paths: ([mergedFileName] + inputs).map { directory.path + "/" + $0 })
        try Codemap.write(merged.offsets, paths: merged.paths, name: mergedFileName, in: directory)
        for name in inputs { unlink(directory.path + "/" + name) }
        return merged.offsets
    }
}
