#if canImport(Glibc)
import Glibc
#endif

/// Host system calls that can block, made so that a guest signal caught just before the call
/// starts interrupts it rather than waiting for it to return (QEMU's safe_syscall technique).
///
/// The dispatcher delivers caught signals at its safe point; a signal caught after that check
/// but before a blocking call enters the kernel would otherwise wait for the call to end (a
/// read on a pipe could wait forever). So the call runs through a small x86-64 stub that tests
/// the thread's interrupt word immediately before its `syscall` instruction. The host signal
/// handler moves a thread whose pc is between that test and the `syscall` instruction (the
/// window) to the stub's interrupted exit, which returns `interrupted`: either the handler ran
/// before the test (the test sees the word set) or inside the window (it is moved out), or the
/// call is already in the kernel and returns EINTR (Kiln's handlers have no SA_RESTART).
enum InterruptibleSyscall {
    /// What the stub returns when the call did not start: -ERESTARTSYS, which the kernel
    /// never returns to user space.
    static let interrupted = -512

    /// The stub's window (from the interrupt-word test to the `syscall` instruction, inclusive)
    /// and its interrupted exit; zero until the stub exists. Read by the signal handler.
    nonisolated(unsafe) static var windowStart: UInt = 0
    nonisolated(unsafe) static var windowEnd: UInt = 0
    nonisolated(unsafe) static var interruptedExit: UInt = 0

    typealias Stub = @convention(c) (UnsafeMutablePointer<UInt32>, UnsafePointer<UInt64>) -> Int

    /// stub(interruptWord, [number, a0...a5]) -> result or -errno, or `interrupted`.
    private static let code: [UInt8] = [
        0x48, 0x8B, 0x06,              // mov rax, [rsi]
        0x4C, 0x8B, 0x56, 0x20,        // mov r10, [rsi+32]
        0x4C, 0x8B, 0x46, 0x28,        // mov r8, [rsi+40]
        0x4C, 0x8B, 0x4E, 0x30,        // mov r9, [rsi+48]
        0x48, 0x8B, 0x56, 0x18,        // mov rdx, [rsi+24]
        0x49, 0x89, 0xFB,              // mov r11, rdi
        0x48, 0x8B, 0x7E, 0x08,        // mov rdi, [rsi+8]
        0x48, 0x8B, 0x76, 0x10,        // mov rsi, [rsi+16]
        0x41, 0x83, 0x3B, 0x00,        // 30: cmp dword [r11], 0     (window start)
        0x75, 0x03,                    // 34: jne interrupted
        0x0F, 0x05,                    // 36: syscall                (window end)
        0xC3,                          // 38: ret
        0x48, 0xC7, 0xC0, 0x00, 0xFE, 0xFF, 0xFF,  // 39: interrupted: mov rax, -512
        0xC3,                          // ret
    ]
    private static let windowStartOffset: UInt = 30, syscallOffset: UInt = 36, interruptedOffset: UInt = 39

    /// The stub, mapped on first use (before any host signal handler is installed, see
    /// `GuestSignals.install`); nil if the page could not be mapped (calls then run directly).
    static let stub: Stub? = {
        let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let page, page != MAP_FAILED else { return nil }
        code.withUnsafeBytes { page.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard mprotect(page, 4096, PROT_READ | PROT_EXEC) == 0 else { return nil }
        let base = UInt(bitPattern: page)
        windowStart = base + windowStartOffset
        windowEnd = base + syscallOffset
        interruptedExit = base + interruptedOffset
        return unsafeBitCast(page, to: Stub.self)
    }()

    /// Calls host system call `number` unless `interruptWord` is set first; returns the result,
    /// -errno, or `interrupted`.
    static func call(_ number: Int, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64, _ a5: UInt64,
                     interruptWord: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stub else { return HostSyscall.call(number, a0, a1, a2, a3, a4, a5) }
        let arguments: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (UInt64(number), a0, a1, a2, a3, a4, a5)
        return withUnsafeBytes(of: arguments) { stub(interruptWord, $0.baseAddress!.assumingMemoryBound(to: UInt64.self)) }
    }

    /// From the host signal handler: moves a thread stopped inside the window to the
    /// interrupted exit (the call has not started and now will not).
    @inline(__always) static func leaveWindow(_ context: UnsafeMutableRawPointer) {
        let ucontext = context.assumingMemoryBound(to: ucontext_t.self)
        let pc = UInt(bitPattern: Int(ucontext.pointee.uc_mcontext.gregs.16))  // REG_RIP
        if pc >= windowStart, pc <= windowEnd, windowStart != 0 {
            ucontext.pointee.uc_mcontext.gregs.16 = Int64(bitPattern: UInt64(interruptedExit))
        }
    }

    /// Whether guest system call `number` (arm64), passed through to the host, may block
    /// until a signal arrives, and so runs through the stub. Calls that never block run
    /// directly: the kernel never interrupts them. (Emulated calls that wait, epoll_pwait,
    /// call the stub themselves.)
    static func mayBlock(_ number: UInt64, _ args: SyscallArguments) -> Bool {
        switch number {
        case 98:  // futex: only the waits
            let op = args[1] & 0x7f
            return op == 0 || op == 9 || op == 6 || op == 11 || op == 13  // WAIT, WAIT_BITSET, LOCK_PI, WAIT_REQUEUE_PI, LOCK_PI2
        case 63, 64, 65, 66, 67, 68, 69, 70,  // read, write, readv, writev, pread64, pwrite64, preadv, pwritev
             71, 76, 77,  // sendfile, splice, tee
             72, 73, 441,  // pselect6, ppoll, epoll_pwait2
             32, 95, 260,  // flock, waitid, wait4
             101, 115, 137,  // nanosleep, clock_nanosleep, rt_sigtimedwait
             182, 183, 188, 189, 192, 193,  // mq_timedsend, mq_timedreceive, msgrcv, msgsnd, semtimedop, semop
             202, 203, 206, 207, 211, 212, 242, 243, 269:  // accept, connect, sendto, recvfrom, sendmsg, recvmsg, accept4, recvmmsg, sendmmsg
            return true
        default:
            return false
        }
    }
}
