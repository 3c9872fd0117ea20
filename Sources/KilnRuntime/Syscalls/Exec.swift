#if canImport(Glibc)
import Glibc
#endif

extension Syscalls {
    /// execve: an arm64 program or a `#!` script runs under Kiln again with the parent's run
    /// options (`RunOptions.childRunOptions`), with no binfmt_misc registration needed; a host
    /// (x86-64) program, or a script whose interpreter is one, runs natively. On success this
    /// never returns.
    static func execve(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        guard let path = p.guestString(a[0]) else { return -Int(EFAULT) }
        return execute(p, path: path, argv: a[1], envp: a[2])
    }

    /// execveat(dirfd, path, argv, envp, flags): a relative path (or, with AT_EMPTY_PATH, an
    /// empty one) names a file relative to the directory (or file) open on dirfd.
    static func execveat(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let atEmptyPath: UInt64 = 0x1000, atSymlinkNofollow: UInt64 = 0x100
        guard a[4] & ~(atEmptyPath | atSymlinkNofollow) == 0 else { return -Int(EINVAL) }
        guard let path = p.guestString(a[1]) else { return -Int(EFAULT) }
        if path.hasPrefix("/") || (a[0] == atFDCWD && !path.isEmpty) { return execute(p, path: path, argv: a[2], envp: a[3]) }
        guard path.isEmpty ? a[4] & atEmptyPath != 0 : true else { return -Int(ENOENT) }
        guard let directory = readLink("/proc/self/fd/\(a.int(0))") else { return -Int(EBADF) }
        let guestDirectory = p.paths.guestPath(directory)
        return execute(p, path: path.isEmpty ? guestDirectory : guestDirectory + "/" + path, argv: a[2], envp: a[3])
    }

    private static func execute(_ p: GuestProcess, path: String, argv argvAddress: UInt64, envp envpAddress: UInt64) -> Int {
        // Arguments and environment keep their bytes (they need not be UTF-8).
        guard let argv = p.guestByteStringArray(argvAddress), let envp = p.guestByteStringArray(envpAddress) else { return -Int(EFAULT) }
        let host = p.hostPath(path)
        guard access(host, F_OK) == 0 else { return -Int(errno) }
        guard access(host, X_OK) == 0 else { return -Int(EACCES) }
        let kind = ExecutableKind.of(host)
        if case .unreadable(let error) = kind { return -Int(error) }
        // A script whose interpreter is a host program (none in the rootfs) runs natively too.
        let hostScript = kind == .script && LaunchPlan.interpreterLine(host).map { ExecutableKind.of(p.hostPath($0.interpreter)) } == .hostELF
        let command: [[UInt8]]
        let program: String
        var inheritedDescriptor: Int32 = -1
        if kind == .hostELF || hostScript {
            program = host
            command = argv
        } else if kind == .script || kind == .guestELF {
            program = p.kilnExecutable
            // The new Kiln must see the guest's program, not itself, behind /proc/self/exe.
            let target = host == p.programHostPath ? p.programGuestPath : path
            var options = p.options.childRunOptions
            if p.options.strace && p.options.straceDescriptor > 2 {
                inheritedDescriptor = p.options.straceDescriptor
                options += ["--strace-descriptor", String(inheritedDescriptor)]
            }
            command = ([program, "run"] + options).map { Array($0.utf8) }
                // One word: an argv[0] starting with '-' (a login shell's) is not taken for an option.
                + (argv.first.map { [Array("--argv0=".utf8) + $0] } ?? [])
                + [Array("--".utf8), Array(target.utf8)] + argv.dropFirst()
        } else {
            return -Int(ENOEXEC)
        }
        p.strace?.flushBeforeExec()
        // Codemap records still buffered would be lost with this process image (a vfork
        // child runs on the interpreter and records nothing of its own).
        if !p.currentThread.isVforkChild { CacheAttach.shared?.flush() }
        // The strace file stays open across this exec only: the child Kiln appends to it.
        if inheritedDescriptor >= 0 { _ = Glibc.fcntl(inheritedDescriptor, F_SETFD, 0) }
        let cArguments = command.map(Self.cString) + [nil]
        let cEnvironment = envp.map(Self.cString) + [nil]
        let r = program.withCString { Glibc.execve($0, cArguments, cEnvironment) }
        let error = errno
        if inheritedDescriptor >= 0 { _ = Glibc.fcntl(inheritedDescriptor, F_SETFD, FD_CLOEXEC) }
        cArguments.forEach { $0?.deallocate() }
        cEnvironment.forEach { $0?.deallocate() }
        return r < 0 ? -Int(error) : Int(r)
    }
}

/// What execve was asked to run, from the file's first bytes.
enum ExecutableKind: Equatable {
    case hostELF, guestELF, script, other
    /// It could not be opened (errno).
    case unreadable(Int32)

    /// The kind of the file at host path `path`.
    static func of(_ path: String) -> ExecutableKind {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .unreadable(errno) }
        var head = [UInt8](repeating: 0, count: 20)
        let n = read(fd, &head, 20)
        Glibc.close(fd)
        if n >= 2, head[0] == UInt8(ascii: "#"), head[1] == UInt8(ascii: "!") { return .script }
        guard n >= 20, head[0] == 0x7f, head[1] == 0x45, head[2] == 0x4c, head[3] == 0x46 else { return .other }
        switch UInt16(head[18]) | UInt16(head[19]) << 8 {
        case 62: return .hostELF  // EM_X86_64
        case 183: return .guestELF  // EM_AARCH64
        default: return .other
        }
    }
}

extension RunOptions {
    /// The `kiln run` options an execve'd arm64 child gets: everything that decides how guest
    /// code runs, so the child runs as its parent does. Diagnostics printed at exit
    /// (--cache-report, --regions, --count-instructions) stay with the process Kiln was
    /// started for: a child's stderr belongs to the guest (a parent may be capturing it).
    var childRunOptions: [String] {
        var options = ["--rootfs", rootfs.isEmpty ? "/" : rootfs, tier == .jit ? "--jit" : "--interp"]
        if lockstep { options.append("--lockstep") }
        options += ["--smc", smc.name, "--cache", cache.rawValue]
        if strace && straceDescriptor == 2 { options.append("--strace") }
        return options
    }
}

extension Syscalls {
    /// A malloc'ed NUL-terminated copy of `bytes`.
    static func cString(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar>? {
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(copy).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        copy[bytes.count] = 0
        return copy
    }
}

extension GuestProcess {
    /// A NULL-terminated array of guest string pointers, as raw bytes.
    func guestByteStringArray(_ address: UInt64) -> [[UInt8]]? {
        guard address != 0 else { return [] }
        var result: [[UInt8]] = []
        var cursor = address
        while result.count < 1 << 16 {
            guard let p = pointer(cursor), cursor < GuestLayout.limit else { return nil }
            let item = p.loadUnaligned(as: UInt64.self)
            if item == 0 { return result }
            guard let bytes = withGuestCString(item, limit: 1 << 20, Array.init) else { return nil }
            result.append(bytes)
            cursor += 8
        }
        return nil
    }
}
