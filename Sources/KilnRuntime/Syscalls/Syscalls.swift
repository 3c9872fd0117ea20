#if canImport(Glibc)
import Glibc
#endif

/// Guest pointer -> host pointer (identical addresses), nil for NULL.
@inline(__always) func pointer(_ address: UInt64) -> UnsafeMutableRawPointer? {
    UnsafeMutableRawPointer(bitPattern: UInt(address))
}

/// The emulated system calls of `SyscallTable`: those whose data layout differs between the
/// arm64 and x86-64 ABIs, and those that change state Kiln keeps for the guest.
enum Syscalls {
    static let atFDCWD = UInt64(bitPattern: -100)

    // MARK: files

    static func openat(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        guard let path = p.guestString(a[1]) else { return -Int(EFAULT) }
        if p.isOwnProcFile(path, "auxv") { return p.memoryFile(named: "auxv", contents: p.auxvBytes) }
        let host = p.hostPath(path)
        return host.withCString {
            HostSyscall.call(HostNumber.openat, a[0], UInt64(UInt(bitPattern: $0)), LayoutConversion.hostOpenFlags(a[2]), a[3])
        }
    }

    /// close_range(first, last, flags) on the ranges between Kiln's own descriptors (a guest
    /// closing everything above 2 before an exec must not close Kiln's strace or codemap file).
    static func closeRange(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let first = a[0] & 0xffff_ffff, last = a[1] & 0xffff_ffff
        guard first <= last else { return -Int(EINVAL) }
        var start = first
        for reserved in p.reservedDescriptors.map({ UInt64($0) }).sorted() where reserved >= first && reserved <= last {
            if reserved > start {
                let r = HostSyscall.call(HostNumber.closeRange, start, reserved - 1, a[2])
                if r < 0 { return r }
            }
            start = reserved + 1
        }
        return start <= last ? HostSyscall.call(HostNumber.closeRange, start, last, a[2]) : 0
    }

    static func pipe2(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        HostSyscall.call(HostNumber.pipe2, a[0], LayoutConversion.hostOpenFlags(a[1]))
    }

    static func fcntl(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let command = a.int(1)
        switch command {
        case F_GETFL:
            let r = HostSyscall.call(HostNumber.fcntl, a[0], a[1])
            return r < 0 ? r : Int(LayoutConversion.guestOpenFlags(UInt64(r)))
        case F_SETFL:
            return HostSyscall.call(HostNumber.fcntl, a[0], a[1], LayoutConversion.hostOpenFlags(a[2]))
        default:
            return HostSyscall.call(HostNumber.fcntl, a[0], a[1], a[2])
        }
    }

    static func readlinkat(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        guard let path = p.guestString(a[1]) else { return -Int(EFAULT) }
        let target: String
        if p.isOwnProcFile(path, "exe") {
            target = p.programGuestPath
        } else {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let host = p.hostPath(path)
            let r = host.withCString { s in
                buffer.withUnsafeMutableBytes {
                    HostSyscall.call(HostNumber.readlinkat, a[0], UInt64(UInt(bitPattern: s)), UInt64(UInt(bitPattern: $0.baseAddress)), 4096)
                }
            }
            guard r >= 0 else { return r }
            let raw = String(decoding: buffer[0..<r], as: UTF8.self)
            target = path.hasPrefix("/proc/") ? p.paths.guestPath(raw) : raw
        }
        let bytes = Array(target.utf8)
        let n = min(bytes.count, Int(a[3]))
        guard let out = pointer(a[2]) else { return -Int(EFAULT) }
        bytes.withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: n) }
        return n
    }

    static func newfstatat(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        guard let path = p.guestString(a[1]) else { return -Int(EFAULT) }
        var buffer = [UInt8](repeating: 0, count: LayoutConversion.hostStatSize)
        let r = p.hostPath(path).withCString { s in
            buffer.withUnsafeMutableBytes {
                HostSyscall.call(HostNumber.newfstatat, a[0], UInt64(UInt(bitPattern: s)), UInt64(UInt(bitPattern: $0.baseAddress)), a[3])
            }
        }
        return finishStat(r, buffer, a[2])
    }

    static func fstat(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        var buffer = [UInt8](repeating: 0, count: LayoutConversion.hostStatSize)
        let r = buffer.withUnsafeMutableBytes { HostSyscall.call(HostNumber.fstat, a[0], UInt64(UInt(bitPattern: $0.baseAddress))) }
        return finishStat(r, buffer, a[1])
    }

    private static func finishStat(_ r: Int, _ buffer: [UInt8], _ guestAddress: UInt64) -> Int {
        guard r >= 0 else { return r }
        guard let out = pointer(guestAddress) else { return -Int(EFAULT) }
        buffer.withUnsafeBytes { LayoutConversion.convertStat(from: $0.baseAddress!, to: out) }
        return r
    }

    static func getcwd(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        var buffer = [UInt8](repeating: 0, count: 4097)
        let r = buffer.withUnsafeMutableBytes { HostSyscall.call(HostNumber.getcwd, UInt64(UInt(bitPattern: $0.baseAddress)), 4097) }
        guard r > 0 else { return r }
        let cwd = p.paths.guestPath(String(decoding: buffer[0..<(r - 1)], as: UTF8.self))
        let bytes = Array(cwd.utf8) + [0]
        guard bytes.count <= Int(a[1]) else { return -Int(ERANGE) }
        guard let out = pointer(a[0]) else { return -Int(EFAULT) }
        bytes.withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return bytes.count
    }

    // MARK: polling

    static func epollCtl(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        var event = [UInt8](repeating: 0, count: LayoutConversion.hostEpollEventSize)
        guard let guest = pointer(a[3]) else { return HostSyscall.call(HostNumber.epollCtl, a[0], a[1], a[2], 0) }
        return event.withUnsafeMutableBytes {
            LayoutConversion.epollEventToHost(guest, $0.baseAddress!)
            return HostSyscall.call(HostNumber.epollCtl, a[0], a[1], a[2], UInt64(UInt(bitPattern: $0.baseAddress)))
        }
    }

    static func epollPwait(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let count = Int(a.int(2))
        guard count > 0, count <= 1 << 20 else { return -Int(EINVAL) }
        guard let out = pointer(a[1]) else { return -Int(EFAULT) }
        var events = [UInt8](repeating: 0, count: count * LayoutConversion.hostEpollEventSize)
        return events.withUnsafeMutableBytes { host in
            // A wait: a signal caught just before it must still end it (InterruptibleSyscall).
            let r = InterruptibleSyscall.call(HostNumber.epollPwait, a[0], UInt64(UInt(bitPattern: host.baseAddress)), a[2], a[3], a[4], a[5],
                                              interruptWord: p.currentThread.interruptWord)
            if r > 0 {
                for i in 0..<r {
                    LayoutConversion.epollEventToGuest(host.baseAddress! + i * LayoutConversion.hostEpollEventSize,
                                                       out + i * LayoutConversion.guestEpollEventSize)
                }
            }
            return r
        }
    }

    static func uname(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let r = HostSyscall.call(HostNumber.uname, a[0])
        guard r == 0, let out = pointer(a[0]) else { return r }
        // struct utsname: six 65-byte fields; machine is the fifth.
        let machine = Array("aarch64".utf8) + [UInt8](repeating: 0, count: 65 - 7)
        machine.withUnsafeBytes { (out + 65 * 4).copyMemory(from: $0.baseAddress!, byteCount: 65) }
        return 0
    }

    // MARK: time

    /// clock_gettime through the host C library, which reads the common clocks from the vDSO
    /// without entering the kernel. The guest has no vDSO, so its C library makes the system
    /// call every time: python3.11 makes 199 at start-up. The result goes to guest memory only
    /// where a guest mapping makes it writable; any other address takes the real system call,
    /// which answers EFAULT as the kernel would. (struct timespec is the same on both.)
    static func clockGettime(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let size = UInt64(MemoryLayout<timespec>.size)
        guard a[1] &+ size > a[1], p.addressSpace.isWritable(a[1], a[1] &+ size), let out = pointer(a[1]) else {
            return HostSyscall.call(HostNumber.clockGettime, a[0], a[1])
        }
        var now = timespec()
        guard Glibc.clock_gettime(clockid_t(a.int(0)), &now) == 0 else { return -Int(errno) }
        out.storeBytes(of: now, as: timespec.self)
        return 0
    }

    // MARK: memory

    static func brk(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        p.addressSpace.setBreak(a[0])
    }

    static func mmap(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        p.addressSpace.map(address: a[0], length: a[1], protection: a.int(2), flags: a.int(3), fd: a.int(4), offset: a[5])
    }

    static func munmap(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        p.addressSpace.unmap(address: a[0], length: a[1])
    }

    static func mprotect(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        p.addressSpace.protect(address: a[0], length: a[1], protection: a.int(2))
    }

    static func mremap(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        p.addressSpace.remap(address: a[0], oldLength: a[1], newLength: a[2], flags: a.int(3), newAddress: a[4])
    }

    static func madvise(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        guard a[0] & (GuestLayout.pageSize - 1) == 0 else { return -Int(EINVAL) }
        guard GuestLayout.contains(a[0], a[1]) else { return -Int(ENOMEM) }
        return HostSyscall.call(HostNumber.madvise, a[0], a[1], a[2])
    }
}

extension GuestProcess {
    /// A read-only descriptor on an in-memory file (for /proc files that show the guest view).
    func memoryFile(named name: String, contents: [UInt8]) -> Int {
        let fd = name.withCString { HostSyscall.call(HostNumber.memfdCreate, UInt64(UInt(bitPattern: $0)), 1 /* MFD_CLOEXEC */) }
        guard fd >= 0 else { return fd }
        contents.withUnsafeBytes { _ = Glibc.write(Int32(fd), $0.baseAddress, $0.count) }
        lseek(Int32(fd), 0, SEEK_SET)
        return fd
    }
}
