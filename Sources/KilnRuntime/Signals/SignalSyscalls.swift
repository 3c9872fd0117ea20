#if canImport(Glibc)
import Glibc
#endif
import KilnIR

extension Syscalls {
    /// kill, tkill and tgkill: guest pids and tids are host ones. A signal whose host handler
    /// Kiln keeps for its own traps (SIGILL, SIGTRAP, SIGFPE, SIGSEGV, SIGBUS) aimed at this
    /// process is applied here: recorded for the target thread when the guest handles it,
    /// else the default action.
    static func kill(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        signalSelf(p, process: a.int(0), thread: nil, a.int(1)) ?? HostSyscall.call(62, a[0], a[1])
    }
    static func tkill(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        signalSelf(p, process: getpid(), thread: a.int(0), a.int(1)) ?? HostSyscall.call(200, a[0], a[1])
    }
    static func tgkill(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        signalSelf(p, process: a.int(0), thread: a.int(1), a.int(2)) ?? HostSyscall.call(234, a[0], a[1], a[2])
    }

    private static func signalSelf(_ p: GuestProcess, process: Int32, thread tid: Int32?, _ signal: Int32) -> Int? {
        let kept: Set<Int32> = [SIGILL, SIGTRAP, SIGFPE, SIGSEGV, SIGBUS]
        guard kept.contains(signal), process == getpid() || process == 0 else { return nil }
        let target = tid.flatMap { p.threads.thread(tid: $0) } ?? p.currentThread
        guard GuestSignals.handled.load(ordering: .acquiring) & GuestSignals.bit(signal) != 0 else {
            if target.signalMask & GuestSignals.bit(signal) != 0 { return 0 }
            p.strace?.flush()
            CrashReporter.dieOfSignal(signal)
        }
        var info = SignalInfo(signal: signal, code: tid == nil ? 0 : -6, address: 0)  // SI_USER, SI_TKILL
        info.bytes.withUnsafeMutableBytes {
            $0.storeBytes(of: getpid(), toByteOffset: 16, as: Int32.self)
            $0.storeBytes(of: getuid(), toByteOffset: 20, as: UInt32.self)
        }
        info.bytes.withUnsafeBytes { (target.caughtInfo + Int(signal) * SignalFrame.siginfoSize).copyMemory(from: $0.baseAddress!, byteCount: SignalFrame.siginfoSize) }
        target.caughtSignals.bitwiseOr(GuestSignals.bit(signal), ordering: .acquiringAndReleasing)
        target.post { _ in }
        return 0
    }

    static func rtSigaction(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let signal = Int(a[0])
        guard signal >= 1, signal <= 64, a[3] == 8 else { return -Int(EINVAL) }
        let newAction: [UInt64]? = pointer(a[1]).map { new in (0..<4).map { new.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
        if newAction != nil, signal == Int(SIGKILL) || signal == Int(SIGSTOP) { return -Int(EINVAL) }
        let thread = p.currentThread
        if thread.isVforkChild {
            // The vfork child shares the parent's memory but not its host handler table:
            // its changes (posix_spawn and _posixsubprocess reset dispositions before exec)
            // stay in its own copy and on its own host table.
            if thread.vforkSignalActions.isEmpty { thread.vforkSignalActions = p.signalLock.withLock { p.signalActions } }
            if let old = pointer(a[2]) {
                for i in 0..<4 { old.storeBytes(of: thread.vforkSignalActions[signal][i], toByteOffset: i * 8, as: UInt64.self) }
            }
            guard let action = newAction else { return 0 }
            thread.vforkSignalActions[signal] = action
            let sig = Int32(signal)
            if action[0] <= 1, sig != SIGSEGV, sig != SIGBUS { Glibc.signal(sig, action[0] == 1 ? SIG_IGN : SIG_DFL) }
            return 0
        }
        return p.signalLock.withLock {
            if let old = pointer(a[2]) {
                for i in 0..<4 { old.storeBytes(of: p.signalActions[signal][i], toByteOffset: i * 8, as: UInt64.self) }
            }
            guard let action = newAction else { return 0 }
            p.signalActions[signal] = action
            let sig = Int32(signal)
            let bit = GuestSignals.bit(sig)
            if action[0] > 1 {
                GuestSignals.handled.bitwiseOr(bit, ordering: .acquiringAndReleasing)
                switch sig {
                case SIGSEGV, SIGBUS: break  // Kiln's fault handler stays; it forwards.
                case SIGILL, SIGTRAP, SIGFPE: CrashReporter.installFaultHandler(sig)
                default: GuestSignals.install(sig, GuestSignals.hostHandler)
                }
            } else {
                GuestSignals.handled.bitwiseAnd(~bit, ordering: .acquiringAndReleasing)
                // Ignoring or defaulting is done on the host too (SIGPIPE matters most); Kiln
                // keeps its own fault handlers.
                if sig != SIGSEGV, sig != SIGBUS { Glibc.signal(sig, action[0] == 1 ? SIG_IGN : SIG_DFL) }
            }
            return 0
        }
    }

    static func rtSigprocmask(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        guard a[3] == 8 else { return -Int(EINVAL) }
        let thread = p.currentThread
        let set = pointer(a[1])?.loadUnaligned(as: UInt64.self)
        var mask = thread.signalMask
        if let set {
            switch Int32(a[0]) {
            case SIG_BLOCK: mask |= set
            case SIG_UNBLOCK: mask &= ~set
            case SIG_SETMASK: mask = set
            default: return -Int(EINVAL)
            }
        }
        if let old = pointer(a[2]) { old.storeBytes(of: thread.signalMask, as: UInt64.self) }
        if set != nil { p.setSignalMask(mask, on: thread) }
        return 0
    }

    static func sigaltstack(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let thread = p.currentThread
        let current = thread.alternateSignalStack
        let sp = p.state.sp
        let onStack = current.flags & 2 == 0 && sp > current.sp && sp <= current.sp &+ current.size
        if let old = pointer(a[1]) {
            old.storeBytes(of: current.sp, as: UInt64.self)
            old.storeBytes(of: onStack ? UInt32(1) : current.flags, toByteOffset: 8, as: UInt32.self)
            old.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
            old.storeBytes(of: current.size, toByteOffset: 16, as: UInt64.self)
        }
        if let new = pointer(a[0]) {
            guard !onStack else { return -Int(EPERM) }
            let flags = new.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            let size = new.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            if flags & 2 != 0 {
                thread.alternateSignalStack = (0, 2, 0)
            } else {
                guard flags & ~UInt32(0x8000_0000) == 0 else { return -Int(EINVAL) }  // SS_AUTODISARM only
                guard size >= 2048 else { return -Int(ENOMEM) }  // MINSIGSTKSZ
                thread.alternateSignalStack = (new.loadUnaligned(as: UInt64.self), 0, size)
            }
        }
        return 0
    }

    /// rt_sigreturn: restores the registers and mask saved in the frame at sp. Returns the
    /// restored x0, which the dispatcher writes back as the "result".
    static func rtSigreturn(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let thread = p.currentThread
        let frame = p.state.sp
        guard frame & 15 == 0, p.addressSpace.isAccessible(frame, frame &+ UInt64(SignalFrame.size), protection: PROT_READ),
              let framePointer = pointer(frame), let mask = SignalFrame.restore(from: framePointer, into: p.state) else {
            p.deliverFault(SIGSEGV, code: 0, address: 0, detail: "bad signal frame at \(hex(frame)) in rt_sigreturn")
            return Int(bitPattern: UInt(p.state.x(0)))
        }
        p.setSignalMask(mask, on: thread)
        return Int(bitPattern: UInt(p.state.x(0)))
    }
}
