#if canImport(Glibc)
import Glibc
#endif
import KilnELF
import KilnHost

/// Remembers the content identity of files by (device, inode, size, mtime, ctime), in memory
/// and in an append-only file, so an untouched file costs one stat(2) and a file rewritten in
/// place (ctime always moves) is hashed again.
///
/// Timestamps come from a coarse kernel clock, so a file changed twice within one tick can
/// keep its stamp. Like git's "racy" entries, a stamp younger than `racyWindowNanoseconds` at
/// hashing time is not remembered: such files are hashed on every lookup until they settle.
public final class IdentityIndex: @unchecked Sendable {
    static let magic: [UInt8] = Array("KILNIDX1".utf8)

    /// Where entries persist; nil keeps them in memory only.
    public let path: String?
    public let racyWindowNanoseconds: Int64
    /// Whether new identities are appended to `path`.
    public let persists: Bool
    private var entries: [FileStamp: ContentIdentity] = [:]
    private let lock = Lock()
    private var hashes = 0
    /// How many identities were computed by hashing (misses), for tests and diagnostics.
    public var hashCount: Int { lock.withLock { hashes } }

    /// Opens (or starts) the index stored at `path`; unreadable or torn records are ignored.
    /// `persist: false` reads the stored entries but never appends or compacts.
    public init(path: String?, racyWindowNanoseconds: Int64 = 2_000_000_000, persist: Bool = true) {
        self.path = path
        self.persists = persist
        self.racyWindowNanoseconds = racyWindowNanoseconds
        guard let path else { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard CacheDirectory.checkOwnership(fd: fd) == nil, let bytes = readAll(fd) else { return }
        var order: [FileStamp] = []
        let payloads = RecordLog.payloads(in: bytes, magic: IdentityIndex.magic).payloads
        for payload in payloads {
            guard let (stamp, identity) = IdentityIndex.decode(payload) else { continue }
            if entries.updateValue(identity, forKey: stamp) == nil { order.append(stamp) }
        }
        if persist, payloads.count > IdentityIndex.maximumEntries {
            compact(path: path, newestFirst: order.reversed())
        }
    }

    /// The log is rewritten, keeping the most recently added entries, once it holds more
    /// records than this; stamps of deleted or replaced files would otherwise pile up forever.
    public static let maximumEntries = 8192

    private func compact(path: String, newestFirst: [FileStamp]) {
        let kept = newestFirst.prefix(IdentityIndex.maximumEntries / 2)
        var bytes = IdentityIndex.magic
        for stamp in kept.reversed() {
            if let identity = entries[stamp] { bytes += RecordLog.frame(IdentityIndex.encode(stamp, identity)) }
        }
        let keptSet = Set(kept)
        entries = entries.filter { keptSet.contains($0.key) }
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let name = String(path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...])
        _ = try? CacheWriter(directory: CacheDirectory(path: directory.isEmpty ? "." : directory)).publish(bytes, name: name)
    }

    /// The identity of the file at `path`: remembered if its stamp is known, else computed
    /// from the file and remembered.
    public func identity(ofFileAt path: String) throws -> ContentIdentity {
        var st = stat()
        guard stat(path, &st) == 0 else { throw ContentIdentityError.io(path: path, errno: errno) }
        if let known = lock.withLock({ entries[FileStamp(st)] }) { return known }

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ContentIdentityError.io(path: path, errno: errno) }
        defer { close(fd) }
        // The stamp remembered is the one of the descriptor actually hashed.
        guard fstat(fd, &st) == 0 else { throw ContentIdentityError.io(path: path, errno: errno) }
        let stamp = FileStamp(st)
        let identity: ContentIdentity
        do {
            let elf = try ELFFile(storage: ELFBytes(mappingFileDescriptor: fd, path: path))
            identity = try ContentIdentity.compute(for: elf)
        } catch let error as ELFError {
            throw ContentIdentityError.elf(error)
        }
        lock.withLock { hashes += 1 }
        let newest = max(stamp.mtimeNanoseconds, stamp.ctimeNanoseconds)
        guard realtimeNanoseconds() - newest >= racyWindowNanoseconds else { return identity }
        lock.withLock { entries[stamp] = identity }
        persist(stamp, identity)
        return identity
    }

    private func persist(_ stamp: FileStamp, _ identity: ContentIdentity) {
        guard persists, let path, case let .success(fd) = RecordLog.openForAppend(path: path, magic: IdentityIndex.magic) else { return }
        defer { close(fd) }
        let frame = RecordLog.frame(IdentityIndex.encode(stamp, identity))
        _ = frame.withUnsafeBytes { Descriptor.write(fd, $0) }
    }

    static func encode(_ stamp: FileStamp, _ identity: ContentIdentity) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(stamp.device)
        out.appendLittleEndian(stamp.inode)
        out.appendLittleEndian(stamp.size)
        out.appendLittleEndian(stamp.mtimeNanoseconds)
        out.appendLittleEndian(stamp.ctimeNanoseconds)
        out.appendLittleEndian(identity.contentHash.low64)
        out.appendLittleEndian(identity.contentHash.high64)
        out.append(UInt8(identity.buildID.count))
        out += identity.buildID
        return out
    }

    static func decode(_ p: ArraySlice<UInt8>) -> (FileStamp, ContentIdentity)? {
        guard p.count >= 57 else { return nil }
        let buildIDLength = Int(p[p.startIndex + 56])
        guard buildIDLength <= ContentIdentity.maximumBuildIDLength, p.count == 57 + buildIDLength else { return nil }
        let stamp = FileStamp(
            device: readLE64(p, 0), inode: readLE64(p, 8), size: readLE64(p, 16),
            mtimeNanoseconds: Int64(bitPattern: readLE64(p, 24)), ctimeNanoseconds: Int64(bitPattern: readLE64(p, 32)))
        let hash = XXH128Hash(low64: readLE64(p, 40), high64: readLE64(p, 48))
        let buildID = Array(p[(p.startIndex + 57)...])
        return (stamp, ContentIdentity(buildID: buildID, contentHash: hash))
    }
}

/// A pthread mutex for the few places that need mutual exclusion (also the offline tools'
/// progress counters, which used NSLock before they stopped importing Foundation).
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    public init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    /// Taken and released around a fork by the forking thread (see `CacheFile.holdForFork`).
    func acquire() { pthread_mutex_lock(mutex) }
    func release() { pthread_mutex_unlock(mutex) }
    @inline(__always) public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
