/// What Kiln does with one guest system call.
public enum SyscallAction {
    /// Call the host with the same arguments: the x86-64 number differs, the data layout does not.
    case host(Int)
    /// As `.host`, after resolving the path arguments (kind `p`) through the rootfs.
    case hostPaths(Int)
    /// A handler that converts layouts or keeps guest-side state (memory map, signals).
    case emulated(SyscallHandler)
    /// Deliberately -ENOSYS without a warning (the guest library falls back: rseq, clone3).
    case absent
    /// -ENOSYS with one warning line: not safe or not yet possible to run for a guest.
    case unsupported
}

/// An emulated system call: returns the result or `-errno`.
public typealias SyscallHandler = (GuestProcess, SyscallArguments) -> Int

/// One line of the asm-generic (arm64) system call table.
public struct SyscallEntry {
    public let number: Int
    public let name: String
    public let action: SyscallAction
    /// How `--strace` prints each argument, one letter per argument separated by spaces:
    /// d signed, u unsigned, x hex, f descriptor, p path, s string, o octal.
    public let kinds: StaticString
    /// Bit i set: argument i is a path the rootfs resolver must see.
    let pathArguments: UInt8
    /// Bit i set: argument i is a descriptor.
    let descriptorArguments: UInt8

    public init(_ number: Int, _ name: String, _ action: SyscallAction, _ kinds: StaticString) {
        self.number = number; self.name = name; self.action = action; self.kinds = kinds
        // Only the two masks every call reads are made here, from the bytes: the ~300 entries
        // are built at every start, and parsing each into an array cost 0.5M instructions.
        var paths: UInt8 = 0, descriptors: UInt8 = 0, argument: UInt8 = 0
        for byte in UnsafeBufferPointer(start: kinds.utf8Start, count: kinds.utf8CodeUnitCount) where byte != UInt8(ascii: " ") {
            if byte == UInt8(ascii: "p") { paths |= 1 << argument }
            if byte == UInt8(ascii: "f") { descriptors |= 1 << argument }
            argument += 1
        }
        pathArguments = paths
        descriptorArguments = descriptors
    }

    /// The kind of each argument, in order (for `--strace`).
    public var argumentKinds: [SyscallArgumentKind] {
        UnsafeBufferPointer(start: kinds.utf8Start, count: kinds.utf8CodeUnitCount).compactMap {
            $0 == UInt8(ascii: " ") ? nil : SyscallArgumentKind(rawValue: Character(Unicode.Scalar($0))) ?? .hex
        }
    }
}

/// How one system call argument is printed by `--strace` (and which ones are paths).
public enum SyscallArgumentKind: Character {
    case signed = "d", unsigned = "u", hex = "x", descriptor = "f", path = "p", string = "s", octal = "o"
}

/// The arm64 (asm-generic) system call table, indexed by number. Numbers come from
/// include/uapi/asm-generic/unistd.h; `.host(n)` gives the x86-64 number of the same call.
public enum SyscallTable {
    /// Entries indexed by guest syscall number (nil: no such call on arm64).
    public static let byNumber: [SyscallEntry?] = {
        var table = [SyscallEntry?](repeating: nil, count: numberLimit)
        for entry in filesAndIO + processAndTime + networkAndMemory + unified { table[entry.number] = entry }
        return table
    }()

    /// Guest numbers are below this.
    static let numberLimit = 512

    /// Per guest number (`numberLimit` bytes), bit i set when argument i is a descriptor.
    /// Read on every call, so a plain buffer: no entry copy, no array retain.
    static let descriptorArguments: UnsafePointer<UInt8> = {
        let bits = UnsafeMutablePointer<UInt8>.allocate(capacity: numberLimit)
        for (number, entry) in byNumber.enumerated() {
            bits[number] = entry?.descriptorArguments ?? 0
        }
        return UnsafePointer(bits)
    }()

    /// The entry for `number`, if arm64 has such a call.
    public static func entry(_ number: UInt64) -> SyscallEntry? {
        number < UInt64(byNumber.count) ? byNumber[Int(number)] : nil
    }


    /// 0 ... 88: asynchronous I/O, extended attributes, files, directories, descriptors, polling.
    static let filesAndIO: [SyscallEntry] = [
        SyscallEntry(0, "io_setup", .host(206), "u x"),
        SyscallEntry(1, "io_destroy", .host(207), "x"),
        SyscallEntry(2, "io_submit", .host(209), "x d x"),
        SyscallEntry(3, "io_cancel", .host(210), "x x x"),
        SyscallEntry(4, "io_getevents", .host(208), "x d d x x"),
        SyscallEntry(5, "setxattr", .hostPaths(188), "p s x u x"),
        SyscallEntry(6, "lsetxattr", .hostPaths(189), "p s x u x"),
        SyscallEntry(7, "fsetxattr", .host(190), "f s x u x"),
        SyscallEntry(8, "getxattr", .hostPaths(191), "p s x u"),
        SyscallEntry(9, "lgetxattr", .hostPaths(192), "p s x u"),
        SyscallEntry(10, "fgetxattr", .host(193), "f s x u"),
        SyscallEntry(11, "listxattr", .hostPaths(194), "p x u"),
        SyscallEntry(12, "llistxattr", .hostPaths(195), "p x u"),
        SyscallEntry(13, "flistxattr", .host(196), "f x u"),
        SyscallEntry(14, "removexattr", .hostPaths(197), "p s"),
        SyscallEntry(15, "lremovexattr", .hostPaths(198), "p s"),
        SyscallEntry(16, "fremovexattr", .host(199), "f s"),
        SyscallEntry(17, "getcwd", .emulated(Syscalls.getcwd), "x u"),
        SyscallEntry(18, "lookup_dcookie", .unsupported, "x x u"),
        SyscallEntry(19, "eventfd2", .host(290), "u x"),
        SyscallEntry(20, "epoll_create1", .host(291), "x"),
        SyscallEntry(21, "epoll_ctl", .emulated(Syscalls.epollCtl), "f d f x"),
        SyscallEntry(22, "epoll_pwait", .emulated(Syscalls.epollPwait), "f x d d x u"),
        SyscallEntry(23, "dup", .host(32), "f"),
        SyscallEntry(24, "dup3", .host(292), "f f x"),
        SyscallEntry(25, "fcntl", .emulated(Syscalls.fcntl), "f d x"),
        SyscallEntry(26, "inotify_init1", .host(294), "x"),
        SyscallEntry(27, "inotify_add_watch", .hostPaths(254), "f p x"),
        SyscallEntry(28, "inotify_rm_watch", .host(255), "f d"),
        SyscallEntry(29, "ioctl", .host(16), "f x x"),
        SyscallEntry(30, "ioprio_set", .host(251), "d d d"),
        SyscallEntry(31, "ioprio_get", .host(252), "d d"),
        SyscallEntry(32, "flock", .host(73), "f x"),
        SyscallEntry(33, "mknodat", .hostPaths(259), "f p o x"),
        SyscallEntry(34, "mkdirat", .hostPaths(258), "f p o"),
        SyscallEntry(35, "unlinkat", .hostPaths(263), "f p x"),
        SyscallEntry(36, "symlinkat", .hostPaths(266), "s f p"),
        SyscallEntry(37, "linkat", .hostPaths(265), "f p f p x"),
        SyscallEntry(38, "renameat", .hostPaths(264), "f p f p"),
        SyscallEntry(39, "umount2", .hostPaths(166), "p x"),
        SyscallEntry(40, "mount", .hostPaths(165), "s p s x x"),
        SyscallEntry(41, "pivot_root", .hostPaths(155), "p p"),
        SyscallEntry(42, "nfsservctl", .unsupported, "d x x"),
        SyscallEntry(43, "statfs", .hostPaths(137), "p x"),
        SyscallEntry(44, "fstatfs", .host(138), "f x"),
        SyscallEntry(45, "truncate", .hostPaths(76), "p d"),
        SyscallEntry(46, "ftruncate", .host(77), "f d"),
        SyscallEntry(47, "fallocate", .host(285), "f x d d"),
        SyscallEntry(48, "faccessat", .hostPaths(269), "f p o"),
        SyscallEntry(49, "chdir", .hostPaths(80), "p"),
        SyscallEntry(50, "fchdir", .host(81), "f"),
        SyscallEntry(51, "chroot", .hostPaths(161), "p"),
        SyscallEntry(52, "fchmod", .host(91), "f o"),
        SyscallEntry(53, "fchmodat", .hostPaths(268), "f p o"),
        SyscallEntry(54, "fchownat", .hostPaths(260), "f p d d x"),
        SyscallEntry(55, "fchown", .host(93), "f d d"),
        SyscallEntry(56, "openat", .emulated(Syscalls.openat), "f p x o"),
        SyscallEntry(57, "close", .host(3), "f"),
        SyscallEntry(58, "vhangup", .host(153), ""),
        SyscallEntry(59, "pipe2", .emulated(Syscalls.pipe2), "x x"),
        SyscallEntry(60, "quotactl", .hostPaths(179), "x p d x"),
        SyscallEntry(61, "getdents64", .host(217), "f x u"),
        SyscallEntry(62, "lseek", .host(8), "f d d"),
        SyscallEntry(63, "read", .host(0), "f x u"),
        SyscallEntry(64, "write", .host(1), "f x u"),
        SyscallEntry(65, "readv", .host(19), "f x d"),
        SyscallEntry(66, "writev", .host(20), "f x d"),
        SyscallEntry(67, "pread64", .host(17), "f x u d"),
        SyscallEntry(68, "pwrite64", .host(18), "f x u d"),
        SyscallEntry(69, "preadv", .host(295), "f x d d"),
        SyscallEntry(70, "pwritev", .host(296), "f x d d"),
        SyscallEntry(71, "sendfile", .host(40), "f f x u"),
        SyscallEntry(72, "pselect6", .host(270), "d x x x x x"),
        SyscallEntry(73, "ppoll", .host(271), "x u x x u"),
        SyscallEntry(74, "signalfd4", .host(289), "f x u x"),
        SyscallEntry(75, "vmsplice", .host(278), "f x u x"),
        SyscallEntry(76, "splice", .host(275), "f x f x u x"),
        SyscallEntry(77, "tee", .host(276), "f f u x"),
        SyscallEntry(78, "readlinkat", .emulated(Syscalls.readlinkat), "f p x u"),
        SyscallEntry(79, "newfstatat", .emulated(Syscalls.newfstatat), "f p x x"),
        SyscallEntry(80, "fstat", .emulated(Syscalls.fstat), "f x"),
        SyscallEntry(81, "sync", .host(162), ""),
        SyscallEntry(82, "fsync", .host(74), "f"),
        SyscallEntry(83, "fdatasync", .host(75), "f"),
        SyscallEntry(84, "sync_file_range", .host(277), "f d d x"),
        SyscallEntry(85, "timerfd_create", .host(283), "d x"),
        SyscallEntry(86, "timerfd_settime", .host(286), "f x x x"),
        SyscallEntry(87, "timerfd_gettime", .host(287), "f x"),
        SyscallEntry(88, "utimensat", .hostPaths(280), "f p x x"),
    ]

    /// 89 ... 197: process control, time, scheduling, signals, identity, IPC.
    static let processAndTime: [SyscallEntry] = [
        SyscallEntry(89, "acct", .hostPaths(163), "p"),
        SyscallEntry(90, "capget", .host(125), "x x"),
        SyscallEntry(91, "capset", .host(126), "x x"),
        SyscallEntry(92, "personality", .host(135), "x"),
        SyscallEntry(93, "exit", .emulated(Syscalls.exit), "d"),
        SyscallEntry(94, "exit_group", .emulated(Syscalls.exitGroup), "d"),
        SyscallEntry(95, "waitid", .host(247), "d d x x x"),
        SyscallEntry(96, "set_tid_address", .emulated(Syscalls.setTidAddress), "x"),
        SyscallEntry(97, "unshare", .host(272), "x"),
        SyscallEntry(98, "futex", .host(202), "x d d x x d"),
        SyscallEntry(99, "set_robust_list", .emulated(Syscalls.setRobustList), "x u"),
        SyscallEntry(100, "get_robust_list", .host(274), "d x x"),
        SyscallEntry(101, "nanosleep", .host(35), "x x"),
        SyscallEntry(102, "getitimer", .host(36), "d x"),
        SyscallEntry(103, "setitimer", .host(38), "d x x"),
        SyscallEntry(104, "kexec_load", .unsupported, "x x x x"),
        SyscallEntry(105, "init_module", .unsupported, "x u s"),
        SyscallEntry(106, "delete_module", .unsupported, "s x"),
        SyscallEntry(107, "timer_create", .host(222), "d x x"),
        SyscallEntry(108, "timer_gettime", .host(224), "d x"),
        SyscallEntry(109, "timer_getoverrun", .host(225), "d"),
        SyscallEntry(110, "timer_settime", .host(223), "d x x x"),
        SyscallEntry(111, "timer_delete", .host(226), "d"),
        SyscallEntry(112, "clock_settime", .host(227), "d x"),
        SyscallEntry(113, "clock_gettime", .emulated(Syscalls.clockGettime), "d x"),
        SyscallEntry(114, "clock_getres", .host(229), "d x"),
        SyscallEntry(115, "clock_nanosleep", .host(230), "d x x x"),
        SyscallEntry(116, "syslog", .host(103), "d x d"),
        SyscallEntry(117, "ptrace", .unsupported, "d d x x"),
        SyscallEntry(118, "sched_setparam", .host(142), "d x"),
        SyscallEntry(119, "sched_setscheduler", .host(144), "d d x"),
        SyscallEntry(120, "sched_getscheduler", .host(145), "d"),
        SyscallEntry(121, "sched_getparam", .host(143), "d x"),
        SyscallEntry(122, "sched_setaffinity", .host(203), "d u x"),
        SyscallEntry(123, "sched_getaffinity", .host(204), "d u x"),
        SyscallEntry(124, "sched_yield", .host(24), ""),
        SyscallEntry(125, "sched_get_priority_max", .host(146), "d"),
        SyscallEntry(126, "sched_get_priority_min", .host(147), "d"),
        SyscallEntry(127, "sched_rr_get_interval", .host(148), "d x"),
        SyscallEntry(128, "restart_syscall", .host(219), ""),
        SyscallEntry(129, "kill", .emulated(Syscalls.kill), "d d"),
        SyscallEntry(130, "tkill", .emulated(Syscalls.tkill), "d d"),
        SyscallEntry(131, "tgkill", .emulated(Syscalls.tgkill), "d d d"),
        SyscallEntry(132, "sigaltstack", .emulated(Syscalls.sigaltstack), "x x"),
        SyscallEntry(133, "rt_sigsuspend", .host(130), "x u"),
        SyscallEntry(134, "rt_sigaction", .emulated(Syscalls.rtSigaction), "d x x u"),
        SyscallEntry(135, "rt_sigprocmask", .emulated(Syscalls.rtSigprocmask), "d x x u"),
        SyscallEntry(136, "rt_sigpending", .host(127), "x u"),
        SyscallEntry(137, "rt_sigtimedwait", .host(128), "x x x u"),
        SyscallEntry(138, "rt_sigqueueinfo", .host(129), "d d x"),
        SyscallEntry(139, "rt_sigreturn", .emulated(Syscalls.rtSigreturn), ""),
        SyscallEntry(140, "setpriority", .host(141), "d d d"),
        SyscallEntry(141, "getpriority", .host(140), "d d"),
        SyscallEntry(142, "reboot", .host(169), "x x x x"),
        SyscallEntry(143, "setregid", .host(114), "d d"),
        SyscallEntry(144, "setgid", .host(106), "d"),
        SyscallEntry(145, "setreuid", .host(113), "d d"),
        SyscallEntry(146, "setuid", .host(105), "d"),
        SyscallEntry(147, "setresuid", .host(117), "d d d"),
        SyscallEntry(148, "getresuid", .host(118), "x x x"),
        SyscallEntry(149, "setresgid", .host(119), "d d d"),
        SyscallEntry(150, "getresgid", .host(120), "x x x"),
        SyscallEntry(151, "setfsuid", .host(122), "d"),
        SyscallEntry(152, "setfsgid", .host(123), "d"),
        SyscallEntry(153, "times", .host(100), "x"),
        SyscallEntry(154, "setpgid", .host(109), "d d"),
        SyscallEntry(155, "getpgid", .host(121), "d"),
        SyscallEntry(156, "getsid", .host(124), "d"),
        SyscallEntry(157, "setsid", .host(112), ""),
        SyscallEntry(158, "getgroups", .host(115), "d x"),
        SyscallEntry(159, "setgroups", .host(116), "d x"),
        SyscallEntry(160, "uname", .emulated(Syscalls.uname), "x"),
        SyscallEntry(161, "sethostname", .host(170), "s u"),
        SyscallEntry(162, "setdomainname", .host(171), "s u"),
        SyscallEntry(163, "getrlimit", .host(97), "d x"),
        SyscallEntry(164, "setrlimit", .host(160), "d x"),
        SyscallEntry(165, "getrusage", .host(98), "d x"),
        SyscallEntry(166, "umask", .host(95), "o"),
        SyscallEntry(167, "prctl", .host(157), "d x x x x"),
        SyscallEntry(168, "getcpu", .host(309), "x x x"),
        SyscallEntry(169, "gettimeofday", .host(96), "x x"),
        SyscallEntry(170, "settimeofday", .host(164), "x x"),
        SyscallEntry(171, "adjtimex", .host(159), "x"),
        SyscallEntry(172, "getpid", .host(39), ""),
        SyscallEntry(173, "getppid", .host(110), ""),
        SyscallEntry(174, "getuid", .host(102), ""),
        SyscallEntry(175, "geteuid", .host(107), ""),
        SyscallEntry(176, "getgid", .host(104), ""),
        SyscallEntry(177, "getegid", .host(108), ""),
        SyscallEntry(178, "gettid", .emulated(Syscalls.gettid), ""),
        SyscallEntry(179, "sysinfo", .host(99), "x"),
        SyscallEntry(180, "mq_open", .host(240), "s x o x"),
        SyscallEntry(181, "mq_unlink", .host(241), "s"),
        SyscallEntry(182, "mq_timedsend", .host(242), "d x u u x"),
        SyscallEntry(183, "mq_timedreceive", .host(243), "d x u u x"),
        SyscallEntry(184, "mq_notify", .host(244), "d x"),
        SyscallEntry(185, "mq_getsetattr", .host(245), "d x x"),
        SyscallEntry(186, "msgget", .host(68), "d x"),
        SyscallEntry(187, "msgctl", .host(71), "d d x"),
        SyscallEntry(188, "msgrcv", .host(70), "d x u d x"),
        SyscallEntry(189, "msgsnd", .host(69), "d x u x"),
        SyscallEntry(190, "semget", .host(64), "d d x"),
        SyscallEntry(191, "semctl", .host(66), "d d d x"),
        SyscallEntry(192, "semtimedop", .host(220), "d x u x"),
        SyscallEntry(193, "semop", .host(65), "d x u"),
        SyscallEntry(194, "shmget", .host(29), "d u x"),
        SyscallEntry(195, "shmctl", .host(31), "d d x"),
        SyscallEntry(196, "shmat", .unsupported, "d x x"),
        SyscallEntry(197, "shmdt", .host(67), "x"),
    ]

    /// 198 ... 294: sockets, memory, process creation, newer file calls.
    static let networkAndMemory: [SyscallEntry] = [
        SyscallEntry(198, "socket", .host(41), "d x d"),
        SyscallEntry(199, "socketpair", .host(53), "d x d x"),
        SyscallEntry(200, "bind", .host(49), "f x u"),
        SyscallEntry(201, "listen", .host(50), "f d"),
        SyscallEntry(202, "accept", .host(43), "f x x"),
        SyscallEntry(203, "connect", .host(42), "f x u"),
        SyscallEntry(204, "getsockname", .host(51), "f x x"),
        SyscallEntry(205, "getpeername", .host(52), "f x x"),
        SyscallEntry(206, "sendto", .host(44), "f x u x x u"),
        SyscallEntry(207, "recvfrom", .host(45), "f x u x x x"),
        SyscallEntry(208, "setsockopt", .host(54), "f d d x u"),
        SyscallEntry(209, "getsockopt", .host(55), "f d d x x"),
        SyscallEntry(210, "shutdown", .host(48), "f d"),
        SyscallEntry(211, "sendmsg", .host(46), "f x x"),
        SyscallEntry(212, "recvmsg", .host(47), "f x x"),
        SyscallEntry(213, "readahead", .host(187), "f d u"),
        SyscallEntry(214, "brk", .emulated(Syscalls.brk), "x"),
        SyscallEntry(215, "munmap", .emulated(Syscalls.munmap), "x x"),
        SyscallEntry(216, "mremap", .emulated(Syscalls.mremap), "x x x x x"),
        SyscallEntry(217, "add_key", .host(248), "s s x u d"),
        SyscallEntry(218, "request_key", .host(249), "s s s d"),
        SyscallEntry(219, "keyctl", .host(250), "d x x x x"),
        SyscallEntry(220, "clone", .emulated(Syscalls.clone), "x x x x x"),
        SyscallEntry(221, "execve", .emulated(Syscalls.execve), "p x x"),
        SyscallEntry(222, "mmap", .emulated(Syscalls.mmap), "x x x x f x"),
        SyscallEntry(223, "fadvise64", .host(221), "f d d d"),
        SyscallEntry(224, "swapon", .hostPaths(167), "p x"),
        SyscallEntry(225, "swapoff", .hostPaths(168), "p"),
        SyscallEntry(226, "mprotect", .emulated(Syscalls.mprotect), "x x x"),
        SyscallEntry(227, "msync", .host(26), "x x x"),
        SyscallEntry(228, "mlock", .host(149), "x x"),
        SyscallEntry(229, "munlock", .host(150), "x x"),
        SyscallEntry(230, "mlockall", .host(151), "x"),
        SyscallEntry(231, "munlockall", .host(152), ""),
        SyscallEntry(232, "mincore", .host(27), "x x x"),
        SyscallEntry(233, "madvise", .emulated(Syscalls.madvise), "x x d"),
        SyscallEntry(234, "remap_file_pages", .unsupported, "x x x x x"),
        SyscallEntry(235, "mbind", .host(237), "x x d x x x"),
        SyscallEntry(236, "get_mempolicy", .host(239), "x x x x x"),
        SyscallEntry(237, "set_mempolicy", .host(238), "d x x"),
        SyscallEntry(238, "migrate_pages", .host(256), "d x x x"),
        SyscallEntry(239, "move_pages", .host(279), "d x x x x x"),
        SyscallEntry(240, "rt_tgsigqueueinfo", .host(297), "d d d x"),
        SyscallEntry(241, "perf_event_open", .host(298), "x d d f x"),
        SyscallEntry(242, "accept4", .host(288), "f x x x"),
        SyscallEntry(243, "recvmmsg", .host(299), "f x u x x"),
        SyscallEntry(260, "wait4", .host(61), "d x x x"),
        SyscallEntry(261, "prlimit64", .host(302), "d d x x"),
        SyscallEntry(262, "fanotify_init", .host(300), "x x"),
        SyscallEntry(263, "fanotify_mark", .hostPaths(301), "f x x f p"),
        SyscallEntry(264, "name_to_handle_at", .hostPaths(303), "f p x x x"),
        SyscallEntry(265, "open_by_handle_at", .host(304), "f x x"),
        SyscallEntry(266, "clock_adjtime", .host(305), "d x"),
        SyscallEntry(267, "syncfs", .host(306), "f"),
        SyscallEntry(268, "setns", .host(308), "f x"),
        SyscallEntry(269, "sendmmsg", .host(307), "f x u x"),
        SyscallEntry(270, "process_vm_readv", .host(310), "d x u x u x"),
        SyscallEntry(271, "process_vm_writev", .host(311), "d x u x u x"),
        SyscallEntry(272, "kcmp", .host(312), "d d d x x"),
        SyscallEntry(273, "finit_module", .unsupported, "f s x"),
        SyscallEntry(274, "sched_setattr", .host(314), "d x x"),
        SyscallEntry(275, "sched_getattr", .host(315), "d x u x"),
        SyscallEntry(276, "renameat2", .hostPaths(316), "f p f p x"),
        SyscallEntry(277, "seccomp", .unsupported, "x x x"),
        SyscallEntry(278, "getrandom", .host(318), "x u x"),
        SyscallEntry(279, "memfd_create", .host(319), "s x"),
        SyscallEntry(280, "bpf", .unsupported, "d x u"),
        SyscallEntry(281, "execveat", .emulated(Syscalls.execveat), "f p x x x"),
        SyscallEntry(282, "userfaultfd", .host(323), "x"),
        SyscallEntry(283, "membarrier", .host(324), "x x d"),
        SyscallEntry(284, "mlock2", .host(325), "x x x"),
        SyscallEntry(285, "copy_file_range", .host(326), "f x f x u x"),
        SyscallEntry(286, "preadv2", .host(327), "f x d d d x"),
        SyscallEntry(287, "pwritev2", .host(328), "f x d d d x"),
        SyscallEntry(288, "pkey_mprotect", .host(329), "x x x d"),
        SyscallEntry(289, "pkey_alloc", .host(330), "x x"),
        SyscallEntry(290, "pkey_free", .host(331), "d"),
        SyscallEntry(291, "statx", .hostPaths(332), "f p x x x"),
        SyscallEntry(292, "io_pgetevents", .host(333), "x d d x x x"),
        SyscallEntry(293, "rseq", .absent, "x u x x"),
        SyscallEntry(294, "kexec_file_load", .unsupported, "f f u s x"),
    ]

    /// 424 ...: numbers shared by every architecture.
    static let unified: [SyscallEntry] = [
        SyscallEntry(424, "pidfd_send_signal", .host(424), "f d x x"),
        SyscallEntry(425, "io_uring_setup", .unsupported, "u x"),
        SyscallEntry(426, "io_uring_enter", .unsupported, "f u u x x u"),
        SyscallEntry(427, "io_uring_register", .unsupported, "f u x u"),
        SyscallEntry(428, "open_tree", .hostPaths(428), "f p x"),
        SyscallEntry(429, "move_mount", .hostPaths(429), "f p f p x"),
        SyscallEntry(430, "fsopen", .host(430), "s x"),
        SyscallEntry(431, "fsconfig", .host(431), "f u s x d"),
        SyscallEntry(432, "fsmount", .host(432), "f x x"),
        SyscallEntry(433, "fspick", .hostPaths(433), "f p x"),
        SyscallEntry(434, "pidfd_open", .host(434), "d x"),
        SyscallEntry(435, "clone3", .absent, "x u"),
        SyscallEntry(436, "close_range", .emulated(Syscalls.closeRange), "u u x"),
        SyscallEntry(437, "openat2", .unsupported, "f p x u"),
        SyscallEntry(438, "pidfd_getfd", .host(438), "f f x"),
        SyscallEntry(439, "faccessat2", .hostPaths(439), "f p o x"),
        SyscallEntry(440, "process_madvise", .host(440), "f x u d x"),
        SyscallEntry(441, "epoll_pwait2", .unsupported, "f x d x x u"),
        SyscallEntry(442, "mount_setattr", .hostPaths(442), "f p x x u"),
        SyscallEntry(443, "quotactl_fd", .host(443), "f x d x"),
        SyscallEntry(444, "landlock_create_ruleset", .host(444), "x u x"),
        SyscallEntry(445, "landlock_add_rule", .host(445), "f d x x"),
        SyscallEntry(446, "landlock_restrict_self", .host(446), "f x"),
        SyscallEntry(447, "memfd_secret", .unsupported, "x"),
        SyscallEntry(448, "process_mrelease", .host(448), "f x"),
        SyscallEntry(449, "futex_waitv", .host(449), "x u x x d"),
        SyscallEntry(450, "set_mempolicy_home_node", .host(450), "x x u x"),
    ]
}
