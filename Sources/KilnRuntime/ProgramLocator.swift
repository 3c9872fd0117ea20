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

/// What to load for a command line: the program file (after following `#!` lines, as the
/// kernel's binfmt_script does) and the argv the guest gets. Arguments are C strings' bytes
/// (without the NUL), passed to the guest as they are whether or not they are UTF-8.
public struct LaunchPlan: Equatable {
    public var hostPath: String
    public var guestPath: String
    public var arguments: [[UInt8]]

    /// Plans `command` (program then arguments); `argv0` replaces argv[0] when given (execve
    /// passes both a path and an argv[0]).
    public init(command: [[UInt8]], argv0: [UInt8]? = nil, locator: ProgramLocator) throws {
        guard let programBytes = command.first else { throw RuntimeError.programNotFound("", tried: []) }
        let program = String(decoding: programBytes, as: UTF8.self)
        var located = try locator.locate(program)
        var arguments = command
        if let argv0 { arguments[0] = argv0 }
        for _ in 0..<4 {
            guard let line = Self.interpreterLine(located.host) else { break }
            var parts = [line.interpreter]
            if let argument = line.argument { parts.append(argument) }
            let script = program.contains("/") ? programBytes : Array(located.guest.utf8)
            arguments = parts.map { Array($0.utf8) } + [script] + arguments.dropFirst()
            located = try locator.locate(line.interpreter)
        }
        hostPath = located.host
        guestPath = located.guest
        self.arguments = arguments
    }

    /// The interpreter and optional single argument of a `#!` first line.
    static func interpreterLine(_ path: String) -> (interpreter: String, argument: String?)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buffer, buffer.count)
        guard n > 2, buffer[0] == UInt8(ascii: "#"), buffer[1] == UInt8(ascii: "!") else { return nil }
        let end = buffer[2..<n].firstIndex(of: UInt8(ascii: "\n")) ?? n
        let text = String(decoding: buffer[2..<end], as: UTF8.self).trimmingCharacters(in: " \t\r")
        guard !text.isEmpty else { return nil }
        guard let space = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (text, nil) }
        let argument = text[space...].trimmingCharacters(in: " \t")
        return (String(text[..<space]), argument.isEmpty ? nil : argument)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
