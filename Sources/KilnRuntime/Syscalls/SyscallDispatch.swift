#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// The six argument registers of a system call (x0...x5).
public struct SyscallArguments {
    public var values: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    public subscript(_ i: Int) -> UInt64 {
        switch i {
        case 0: return values.0
        case 1: return values.1
        case 2: return values.2
        case 3: return values.3
        case 4: return values.4
        default: return values.5
        }
    }
    /// Argument `i` as a signed 32-bit value (descriptors, flags), as the kernel reads an int.
    public func int(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: self[i]) }
}

extension GuestProcess {
    /// Handles the SVC that ended the last block: number in x8, arguments in x0...x5, result
    /// to x0.
    func syscall() {
        let state = self.state
        let number = state.x(8)
        let args = SyscallArguments(values: (state.x(0), state.x(1), state.x(2), state.x(3), state.x(4), state.x(5)))
        let entry = SyscallTable.entry(number)
        strace?.enter(number: number, entry: entry, args: args, process: self)
        var result: Int
        switch entry?.action {
        case _? where namesReservedDescriptor(number, args):
            result = -Int(EBADF)
        case let .host(n)? where InterruptibleSyscall.mayBlock(number, args):
            result = InterruptibleSyscall.call(n, args[0], args[1], args[2], args[3], args[4], args[5], interruptWord: currentThread.interruptWord)
        case let .host(n)?:
            result = HostSyscall.call(n, args[0], args[1], args[2], args[3], args[4], args[5])
        case let .hostPaths(n)?:
            result = callWithPaths(n, entry!, args)
        case let .emulated(handler)?:
            result = handler(self, args)
        case .absent?:
            result = -Int(ENOSYS)
        case .unsupported?, nil:
            if warningLock.withLock({ warnedSyscalls.insert(number).inserted }) {
                Descriptor.writeAll(2, "kiln: warning: unsupported syscall \(entry?.name ?? "#\(number)") (\(number)) returns ENOSYS\n")
            }
            result = -Int(ENOSYS)
        }
        if result == InterruptibleSyscall.interrupted {
            // The call never started. Posted work alone: it runs at the safe point, then the
            // call. A caught signal: as if the call had been interrupted.
            result = -Int(EINTR)
            if currentThread.caughtSignals.load(ordering: .acquiring) == 0 {
                state.pc &-= 4
                return
            }
        }
        strace?.exit(result: result, entry: entry, args: args)
        // Interrupted by a caught signal: the handler runs next; a restartable call runs
        // again after it (the frame saves the svc's pc and the original x0).
        if result == -Int(EINTR), number != 139, shouldRestart(number, args, thread: currentThread) {
            state.pc &-= 4
            return
        }
        state.setX(0, UInt64(bitPattern: Int64(result)))
    }

    /// Whether a descriptor argument is one of Kiln's own (strace file, codemap, report): to
    /// the guest those do not exist, as on an arm64 machine (a guest probing every descriptor
    /// with fstat, as CPython's fd_status.py does, must not find them; nor close or dup over them).
    @inline(__always) private func namesReservedDescriptor(_ number: UInt64, _ args: SyscallArguments) -> Bool {
        guard lowestReservedDescriptor != .max, number < UInt64(SyscallTable.numberLimit) else { return false }
        var descriptors = SyscallTable.descriptorArguments[Int(number)]
        while descriptors != 0 {
            let fd = args.int(descriptors.trailingZeroBitCount)
            descriptors &= descriptors - 1
            if fd >= lowestReservedDescriptor, reservedDescriptors.contains(fd) { return true }
        }
        return false
    }

    /// Calls host syscall `n` with every path argument resolved through the rootfs.
    private func callWithPaths(_ n: Int, _ entry: SyscallEntry, _ args: SyscallArguments) -> Int {
        var values = [args[0], args[1], args[2], args[3], args[4], args[5]]
        var copies: [UnsafeMutablePointer<CChar>] = []
        defer { copies.forEach { free($0) } }
        for i in 0..<6 where entry.pathArguments & (1 << i) != 0 && values[i] != 0 {
            guard let path = guestString(values[i]) else { return -Int(EFAULT) }
            guard let copy = strdup(hostPath(path)) else { return -Int(ENOMEM) }
            copies.append(copy)
            values[i] = UInt64(UInt(bitPattern: copy))
        }
        return HostSyscall.call(n, values[0], values[1], values[2], values[3], values[4], values[5])
    }

    /// The host path for a guest path: /proc/self/exe names the program, the rest resolves
    /// through the rootfs.
    func hostPath(_ path: String) -> String {
        if isOwnProcFile(path, "exe") { return programHostPath }
        return paths.hostPath(path)
    }

    /// Whether `path` is `/proc/self/NAME` or `/proc/PID/NAME` of this process. Every path
    /// argument is asked this: the pid (a system call) is looked up only for /proc paths.
    func isOwnProcFile(_ path: String, _ name: String) -> Bool {
        guard path.hasPrefix("/proc/"), path.hasSuffix("/" + name) else { return false }
        return path == "/proc/self/" + name || path == "/proc/\(getpid())/" + name
    }

    /// The NUL-terminated guest string at `address` (at most PATH_MAX bytes).
    func guestString(_ address: UInt64, limit: Int = 4096) -> String? {
        withGuestCString(address, limit: limit) { String(decoding: $0, as: UTF8.self) }
    }

    /// `body` with the bytes of the NUL-terminated guest string at `address` (at most `limit`,
    /// without the NUL); nil when `address` is outside guest memory.
    func withGuestCString<R>(_ address: UInt64, limit: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        guard address >= GuestLayout.minimumAddress, address < GuestLayout.limit,
              let p = UnsafePointer<UInt8>(bitPattern: UInt(address)) else { return nil }
        var n = 0
        while n < limit, p[n] != 0 { n += 1 }
        return body(UnsafeBufferPointer(start: p, count: n))
    }
}

