#if canImport(Glibc)
import Glibc
#endif

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
/// and written one frame per region on `flush()`.
public final class CodemapRecorder: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private var pending: [XXH128Hash: Set<UInt64>] = [:]
    private var written: [XXH128Hash: Set<UInt64>] = [:]
    private var pendingPaths: [XXH128Hash: String] = [:]
    private let lock = Lock()

    /// Starts `<pid>-<start ns>.kcodemap` in `directory` (created 0700 if missing).
    public init(directory: String, processID: Int32 = getpid()) throws {
        if mkdir(directory, 0o700) != 0, errno != EEXIST { throw CacheWriteError.io("create \(directory)", errno) }
        if case .failure(let rejection) = CacheDirectory.open(path: directory, create: false) {
            throw CacheWriteError.io(rejection.description, EACCES)
        }
        path = directory + "/\(processID)-\(realtimeNanoseconds()).\(Codemap.fileExtension)"
        switch RecordLog.openForAppend(path: path, magic: Codemap.magic) {
        // Out of the low numbers a guest allocates from (as cache files are): a guest's open()
        // returns what it would without Kiln, and a guest scanning its descriptors (CPython's
        // subprocess tests do) does not find this one among its own.
        case .success(let fd): self.fd = CacheFile.moveOutOfGuestRange(fd)
        case .failure(let e): throw CacheWriteError.io("open \(path)", e.code)
        }
    }

    /// The open codemap file (a runtime keeps its guest from closing it).
    public var descriptor: Int32 { fd }

    deinit {
        flush()
        close(fd)
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

    /// Appends everything recorded since the last flush.
    public func flush() {
        let (batch, paths): ([XXH128Hash: Set<UInt64>], [XXH128Hash: String]) = lock.withLock {
            let b = pending, p = pendingPaths
            pending = [:]
            pendingPaths = [:]
            for (region, offsets) in b { written[region, default: []].formUnion(offsets) }
            return (b, p)
        }
        for region in paths.keys.sorted() {
            let frame = RecordLog.frame(Codemap.encode(region: region, path: paths[region, default: ""]))
            _ = frame.withUnsafeBytes { writeAll(fd, $0) }
        }
        for region in batch.keys.sorted() {
            let frame = RecordLog.frame(Codemap.encode(region: region, offsets: batch[region, default: []].sorted()))
            _ = frame.withUnsafeBytes { writeAll(fd, $0) }
        }
    }
}

/// Merges codemap files.
public enum CodemapMerge {
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
        let mergedName = "merged." + Codemap.fileExtension
        let inputs = listDirectory(directory.path)
            .filter { $0.hasSuffix("." + Codemap.fileExtension) && !$0.hasPrefix(".") && $0 != mergedName }
            .sorted()
        let merged = mergeContents(paths: ([mergedName] + inputs).map { directory.path + "/" + $0 })
        try Codemap.write(merged.offsets, paths: merged.paths, name: mergedName, in: directory)
        for name in inputs { unlink(directory.path + "/" + name) }
        return merged.offsets
    }
}
