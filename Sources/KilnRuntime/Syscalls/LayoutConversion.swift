/// Conversions between the arm64 (asm-generic) and x86-64 forms of kernel structures and
/// flags that differ. Structures not listed here (statx, statfs, timespec, rlimit, rusage,
/// sysinfo, sockaddr, msghdr, siginfo, termios and the terminal ioctl numbers, struct flock)
/// have the same layout on both 64-bit ABIs.
enum LayoutConversion {
    // MARK: open(2) flags: O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE differ.

    private static let armDirectory: UInt64 = 0o40000, armNoFollow: UInt64 = 0o100000
    private static let armDirect: UInt64 = 0o200000, armLargeFile: UInt64 = 0o400000
    private static let x86Direct: UInt64 = 0o40000, x86LargeFile: UInt64 = 0o100000
    private static let x86Directory: UInt64 = 0o200000, x86NoFollow: UInt64 = 0o400000
    private static let differing: UInt64 = 0o740000

    /// arm64 open flags -> x86-64.
    static func hostOpenFlags(_ f: UInt64) -> UInt64 {
        var r = f & ~differing
        if f & armDirectory != 0 { r |= x86Directory }
        if f & armNoFollow != 0 { r |= x86NoFollow }
        if f & armDirect != 0 { r |= x86Direct }
        if f & armLargeFile != 0 { r |= x86LargeFile }
        return r
    }

    /// x86-64 open flags -> arm64 (F_GETFL results).
    static func guestOpenFlags(_ f: UInt64) -> UInt64 {
        var r = f & ~differing
        if f & x86Directory != 0 { r |= armDirectory }
        if f & x86NoFollow != 0 { r |= armNoFollow }
        if f & x86Direct != 0 { r |= armDirect }
        if f & x86LargeFile != 0 { r |= armLargeFile }
        return r
    }

    // MARK: struct stat: x86-64 has 64-bit st_nlink before st_mode and a 64-bit st_blksize.

    static let hostStatSize = 144
    static let guestStatSize = 128

    /// Writes the arm64 `struct stat` for the x86-64 one at `host` to `guest`.
    static func convertStat(from host: UnsafeRawPointer, to guest: UnsafeMutableRawPointer) {
        func h64(_ o: Int) -> UInt64 { host.loadUnaligned(fromByteOffset: o, as: UInt64.self) }
        func h32(_ o: Int) -> UInt32 { host.loadUnaligned(fromByteOffset: o, as: UInt32.self) }
        func g64(_ o: Int, _ v: UInt64) { guest.storeBytes(of: v, toByteOffset: o, as: UInt64.self) }
        func g32(_ o: Int, _ v: UInt32) { guest.storeBytes(of: v, toByteOffset: o, as: UInt32.self) }
        g64(0, h64(0))                               // st_dev
        g64(8, h64(8))                               // st_ino
        g32(16, h32(24))                             // st_mode
        g32(20, UInt32(truncatingIfNeeded: h64(16))) // st_nlink
        g32(24, h32(28))                             // st_uid
        g32(28, h32(32))                             // st_gid
        g64(32, h64(40))                             // st_rdev
        g64(40, 0)
        g64(48, h64(48))                             // st_size
        g32(56, UInt32(truncatingIfNeeded: h64(56))) // st_blksize
        g32(60, 0)
        g64(64, h64(64))                             // st_blocks
        for o in stride(from: 72, to: 120, by: 8) { g64(o, h64(o)) } // atime, mtime, ctime (+nsec)
        g64(120, 0)
    }

    // MARK: struct epoll_event: packed (12 bytes) on x86-64, 16 bytes on arm64.

    static let hostEpollEventSize = 12
    static let guestEpollEventSize = 16

    static func epollEventToHost(_ guest: UnsafeRawPointer, _ host: UnsafeMutableRawPointer) {
        host.storeBytes(of: guest.loadUnaligned(as: UInt32.self), as: UInt32.self)
        host.storeBytes(of: guest.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: 4, as: UInt64.self)
    }

    static func epollEventToGuest(_ host: UnsafeRawPointer, _ guest: UnsafeMutableRawPointer) {
        guest.storeBytes(of: host.loadUnaligned(as: UInt32.self), as: UInt32.self)
        guest.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
        guest.storeBytes(of: host.loadUnaligned(fromByteOffset: 4, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
    }
}
