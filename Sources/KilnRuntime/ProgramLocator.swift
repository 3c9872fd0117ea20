#if canImport(Glibc)
import Glibc
#endif

/// Finds the program `kiln run` was asked to start, the way a shell on the arm64 machine
/// would: a name without a slash is searched in the guest's PATH inside the rootfs; an
/// absolute path resolves rootfs-first; a relative path is relative to the working directory.
public struct ProgramLocator {
    public let paths: PathResolver
    public static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public init(paths: PathResolver) { self.paths = paths }

    /// The host path of the program and the path the guest knows it by (/proc/self/exe).
    public func locate(_ program: String, searchPath: String? = nil) throws -> (host: String, guest: String) {
        if program.contains("/") {
            let host = paths.hostPath(program)
            guard access(host, F_OK) == 0 else { throw RuntimeError.programNotFound(program, tried: [host]) }
            if program.hasPrefix("/") { return (host, program) }
            return (host, absolute(program))
        }
        var tried: [String] = []
        for dir in (searchPath ?? Self.defaultSearchPath).split(separator: ":") where dir.hasPrefix("/") {
            let guest = "\(dir)/\(program)"
            let host = paths.hostPath(guest)
            tried.append(host)
            var st = stat()
            if stat(host, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(host, X_OK) == 0 { return (host, guest) }
        }
        throw RuntimeError.programNotFound(program, tried: tried)
    }

    private func absolute(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        guard getcwd(&buffer, 4096) != nil else { return path }
        let cwd = String(cString: buffer)
        return paths.guestPath(cwd + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path))
    }
}
