#if canImport(Glibc)
import Glibc
#endif

/// Codemaps: which entry offsets real runs executed, per region (by content hash). Each
/// process appends to its own file (RecordLog framing, so a crash loses at most the last
/// frame); `CodemapMerge` folds any number of files and earlier merges into one
/// deduplicated, sorted set.
public enum Codemap {
    static let magic: [UInt8] = Array("KILNCMP1".utf8)
    public static let fileExtension = "kcodemap"

    /// Offsets executed in one region.
    public typealias Offsets = [XXH128Hash: Set<UInt64>]

    /// Encodes one frame payload: region hash, count, offsets (ascending).
    static func encode(region: XXH128Hash, offsets: [UInt64]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(24 + 8 * offsets.count)
        out.appendLittleEndian(region.low64)
        out.appendLittleEndian(region.high64)
        out.appendLittleEndian(UInt64(offsets.count))
        for offset in offsets { out.appendLittleEndian(offset) }
        return out
    }

    static func decode(_ p: ArraySlice<UInt8>, into result: inout Offsets) -> Bool {
        guard p.count >= 24 else { return false }
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
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return ([:], false) }
        defer { close(fd) }
        guard CacheDirectory.checkOwnership(fd: fd) == nil, let bytes = readAll(fd) else { return ([:], false) }
        let (payloads, clean) = RecordLog.payloads(in: bytes, magic: magic)
        var result: Offsets = [:]
        var allDecoded = true
        for payload in payloads where !decode(payload, into: &result) { allDecoded = false }
        return (result, clean && allDecoded)
    }

    /// Writes `offsets` as a complete codemap file, atomically, with deterministic bytes
    /// (regions and offsets sorted).
    public static func write(_ offsets: Offsets, name: String, in directory: CacheDirectory) throws {
        var bytes = magic
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
    private let lock = Lock()

    /// Starts `<pid>-<start ns>.kcodemap` in `directory` (created 0700 if missing).
    public init(directory: String, processID: Int32 = getpid()) throws {
        if mkdir(directory, 0o700) != 0, errno != EEXIST { throw CacheWriteError.io("create \(directory)", errno) }
        if case .failure(let rejection) = CacheDirectory.open(path: directory, create: false) {
            throw CacheWriteError.io(rejection.description, EACCES)
        }
        path = directory + "/\(processID)-\(realtimeNanoseconds()).\(Codemap.fileExtension)"
        switch RecordLog.openForAppend(path: path, magic: Codemap.magic) {
        case .success(let fd): self.fd = fd
        case .failure(let e): throw CacheWriteError.io("open \(path)", e.code)
        }
    }

    deinit {
        flush()
        close(fd)
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
        let batch: [XXH128Hash: Set<UInt64>] = lock.withLock {
            let b = pending
            pending = [:]
            for (region, offsets) in b { written[region, default: []].formUnion(offsets) }
            return b
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
    public static func merge(paths: [String]) -> Codemap.Offsets {
        var result: Codemap.Offsets = [:]
        for path in paths {
            for (region, offsets) in Codemap.read(path: path).offsets { result[region, default: []].formUnion(offsets) }
        }
        return result
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
        let merged = merge(paths: ([mergedName] + inputs).map { directory.path + "/" + $0 })
        try Codemap.write(merged, name: mergedName, in: directory)
        for name in inputs { unlink(directory.path + "/" + name) }
        return merged
    }
}
