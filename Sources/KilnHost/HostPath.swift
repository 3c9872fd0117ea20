#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Path strings, as NSString's path methods treat them (runs of slashes are one, a trailing
/// slash does not count), without corelibs Foundation.
public enum HostPath {
    /// Whether `path` names an existing file or directory (following symbolic links), without
    /// Foundation's FileManager, whose first use costs more than the check.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// "c" for "/a/b/c" and "a/b/c/"; "/" for "/"; "" for "".
    public static func lastComponent(_ path: String) -> String {
        if let last = path.split(separator: "/").last { return String(last) }
        return path.hasPrefix("/") ? "/" : ""
    }

    /// "/a/b" for "/a/b/c"; "/" for "/a"; "" for "a".
    public static func deletingLastComponent(_ path: String) -> String {
        (path.hasPrefix("/") ? "/" : "") + path.split(separator: "/").dropLast().joined(separator: "/")
    }

    /// `path` with a leading `~` expanded, `.` components, repeated and trailing slashes
    /// removed, and each component that is a symbolic link to an absolute path replaced by the
    /// real path of its target; a `..` in an absolute path removes the component before it as
    /// resolved so far. This is what NSString's standardizingPath does on Linux: links to
    /// relative targets stay as written (it resolved those against the working directory,
    /// which in practice never found them).
    public static func standardized(_ path: String) -> String {
        var path = path
        if path == "~" || path.hasPrefix("~/"), let home = getenv("HOME") { path = String(cString: home) + path.dropFirst() }
        let absolute = path.hasPrefix("/")
        var components = path.split(separator: "/").map(String.init)
        var resolved = absolute ? "/" : components.isEmpty ? "" : components.removeFirst()
        for component in components where component != "." {
            if component == "..", absolute {
                resolved = deletingLastComponent(resolved)
                continue
            }
            resolved = appending(resolved, component)
            if let target = symbolicLinkTarget(resolved), target.hasPrefix("/"), let real = realPath(target) { resolved = real }
        }
        return resolved
    }

    private static func appending(_ path: String, _ component: String) -> String {
        path.isEmpty ? component : path.hasSuffix("/") ? path + component : path + "/" + component
    }

    /// `path` with every symbolic link resolved (realpath(3)), or nil when it does not exist.
    private static func realPath(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// What the symbolic link at `path` points to, or nil when `path` is not one.
    private static func symbolicLinkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink(path, &buffer, buffer.count - 1)
        guard length >= 0 else { return nil }
        return String(decoding: buffer[0 ..< length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
