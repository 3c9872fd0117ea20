#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// Publishes cache files atomically and keeps the directory under a size cap.
public struct CacheWriter: Sendable {
    public let directory: CacheDirectory

    public init(directory: CacheDirectory) { self.directory = directory }

    /// Writes `bytes` as `name`: a temporary file in the same directory, fsync, rename over the
    /// name, fsync of the directory. Readers see the old file or the new one, never a part;
    /// concurrent writers of the same name each finish and the last rename wins.
    @discardableResult
    public func publish(_ bytes: [UInt8], name: String) throws -> String {
        guard !name.contains("/"), !name.hasPrefix(".") else { throw CacheWriteError.badName(name) }
        let finalPath = directory.path + "/" + name
        var template = Array((directory.path + "/.tmp-" + name + ".XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw CacheWriteError.io("create temporary in \(directory.path)", errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let temporary = String(cString: template)
        var published = false
        defer {
            close(fd)
            if !published { unlink(temporary) }
        }
        // Readers refuse group- or world-writable files; pin the mode whatever the umask.
        guard fchmod(fd, 0o600) == 0 else { throw CacheWriteError.io("chmod \(temporary)", errno) }
        if let e = bytes.withUnsafeBytes({ Descriptor.write(fd, $0) }) { throw CacheWriteError.io("write \(temporary)", e) }
        guard fsync(fd) == 0 else { throw CacheWriteError.io("fsync \(temporary)", errno) }
        guard rename(temporary, finalPath) == 0 else { throw CacheWriteError.io("rename to \(finalPath)", errno) }
        published = true
        let dirfd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
        return finalPath
    }

    /// Publishes a complete cache file received from elsewhere (a CI artifact, another
    /// machine) under the name its own key gives it, after checking it as a reader would
    /// (host features aside: the file may be for another machine). `baseName` makes the name
    /// readable, as in `cacheKey`.
    @discardableResult
    public func importFile(_ bytes: [UInt8], baseName: String) throws -> String {
        let header = try bytes.withUnsafeBytes { raw -> CacheFileHeader in
            switch CacheFileView.attach(raw, expectedKey: nil, hostFeatures: HostFeatures(rawValue: ~0)) {
            case .success(let view): return view.header
            case .failure(let rejection): throw rejection
            }
        }
        let key = cacheKey(identity: header.identity, configuration: header.configuration, baseName: baseName)
        return try publish(bytes, name: key.fileName)
    }

    /// What `enforceSizeCap` removed.
    public struct EvictionReport: Sendable {
        public var removedInvalid: [String] = []
        public var removedLeastRecentlyUsed: [String] = []
        public var removedTemporaries: [String] = []
        public var remainingBytes: UInt64 = 0
    }

    /// Removes stale temporaries (older than `temporaryAge` seconds) and invalid cache files,
    /// then the least recently used valid files (by access time, which readers set on attach)
    /// until the total is at most `maximumBytes`.
    @discardableResult
    public func enforceSizeCap(maximumBytes: UInt64, hostFeatures: HostFeatures = HostFeatures.detect(),
                               temporaryAge: Int64 = 3600) -> EvictionReport {
        var report = EvictionReport()
        let now = realtimeNanoseconds()
        for name in listDirectory(directory.path) where name.hasPrefix(".tmp-") {
            var st = stat()
            let path = directory.path + "/" + name
            guard lstat(path, &st) == 0 else { continue }
            let age = now - (Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
            if age > temporaryAge * 1_000_000_000, unlink(path) == 0 { report.removedTemporaries.append(name) }
        }
        var valid: [(name: String, size: UInt64, atime: Int64)] = []
        for (name, st) in directory.cacheFiles() {
            let path = directory.path + "/" + name
            switch CacheFile.open(path: path, expectedKey: nil, hostFeatures: hostFeatures, markUsed: false) {
            case .success:
                valid.append((name, UInt64(st.st_size), Int64(st.st_atim.tv_sec) * 1_000_000_000 + Int64(st.st_atim.tv_nsec)))
            case .failure(let rejection) where rejection.reason == .hostFeatures:
                // Valid, just not for this host: it competes for space like any other file.
                valid.append((name, UInt64(st.st_size), Int64(st.st_atim.tv_sec) * 1_000_000_000 + Int64(st.st_atim.tv_nsec)))
            case .failure:
                if unlink(path) == 0 { report.removedInvalid.append(name) }
            }
        }
        var total = valid.reduce(UInt64(0)) { $0 + $1.size }
        for file in valid.sorted(by: { ($0.atime, $0.name) < ($1.atime, $1.name) }) where total > maximumBytes {
            if unlink(directory.path + "/" + file.name) == 0 {
                total -= file.size
                report.removedLeastRecentlyUsed.append(file.name)
            }
        }
        report.remainingBytes = total
        return report
    }
}

/// Why a cache file could not be written.
public enum CacheWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    case badName(String)
    case io(String, Int32)

    public var description: String {
        switch self {
        case let .badName(name): return "invalid cache file name \(name)"
        case let .io(what, e): return "\(what): \(errnoDescription(e))"
        }
    }
}
