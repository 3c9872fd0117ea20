#if canImport(Glibc)
import Glibc
#endif

/// The cache directory: where it is, creating it private, and refusing anything in it that
/// another user could have written.
public struct CacheDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln` (empty values count
    /// as unset; a relative XDG_CACHE_HOME is ignored, as the XDG spec requires).
    public static func defaultPath(environment: [String: String]) -> String? {
        if let dir = environment["KILN_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/kiln" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/kiln" }
        if let entry = getpwuid(geteuid()), let dir = entry.pointee.pw_dir { return String(cString: dir) + "/.cache/kiln" }
        return nil
    }

    /// The directory for `environment`, created (mode 0700) if missing and checked.
    public static func open(environment: [String: String]) -> Result<CacheDirectory, CacheRejection> {
        guard let path = defaultPath(environment: environment) else {
            return .failure(CacheRejection(.permissions, "no cache directory: set KILN_CACHE_DIR or HOME"))
        }
        return open(path: path, create: true)
    }

    /// Opens the directory at `path`, creating it (parents 0755 as mkdir -p would, the
    /// directory itself 0700) when `create` is set, then checks it.
    public static func open(path: String, create: Bool) -> Result<CacheDirectory, CacheRejection> {
        if create {
            var partial = path.hasPrefix("/") ? "" : "."
            let components = path.split(separator: "/")
            for (i, component) in components.enumerated() {
                partial += "/" + component
                let mode: mode_t = i == components.count - 1 ? 0o700 : 0o755
                if mkdir(partial, mode) != 0, errno != EEXIST {
                    return .failure(CacheRejection(.permissions, "cannot create \(partial): \(errnoDescription(errno))"))
                }
            }
        }
        var st = stat()
        guard lstat(path, &st) == 0 else {
            let e = errno
            return .failure(CacheRejection(e == ENOENT ? .missing : .permissions, "cache directory \(path): \(errnoDescription(e))"))
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            return .failure(CacheRejection(.permissions, "cache directory \(path) is not a directory (or is a symlink)"))
        }
        if let problem = ownershipProblem(st, what: "cache directory \(path)") { return .failure(problem) }
        return .success(CacheDirectory(path: path))
    }

    /// The problem with a file or directory's owner or mode, if any: it must belong to this
    /// user and not be writable by group or others.
    static func ownershipProblem(_ st: stat, what: String) -> CacheRejection? {
        if st.st_uid != geteuid() {
            return CacheRejection(.permissions, "\(what) is owned by uid \(st.st_uid), not \(geteuid())")
        }
        if st.st_mode & 0o022 != 0 {
            return CacheRejection(.permissions, "\(what) is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
        return nil
    }

    /// The ownership problem of the open file `fd`, if any (regular files only).
    static func checkOwnership(fd: Int32, what: String = "file") -> CacheRejection? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return CacheRejection(.permissions, "cannot stat \(what): \(errnoDescription(errno))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return CacheRejection(.permissions, "\(what) is not a regular file") }
        return ownershipProblem(st, what: what)
    }

    /// The path of the cache file for `key`.
    public func filePath(for key: CacheKey) -> String { path + "/" + key.fileName }

    /// The identity index kept in this directory.
    public var identityIndexPath: String { path + "/identity-index" }

    /// Where runs append codemaps.
    public var codemapDirectory: String { path + "/codemaps" }

    /// Cache files (by extension), with their stat results.
    public func cacheFiles() -> [(name: String, stat: stat)] {
        listDirectory(path).compactMap { name in
            guard name.hasSuffix("." + CacheKey.fileExtension), !name.hasPrefix(".") else { return nil }
            var st = stat()
            guard lstat(path + "/" + name, &st) == 0 else { return nil }
            return (name, st)
        }.sorted { $0.name < $1.name }
    }
}

/// The names in a directory except "." and "..", unsorted; empty if it cannot be read.
func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
