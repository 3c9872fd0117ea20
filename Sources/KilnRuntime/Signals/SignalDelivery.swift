#if canImport(Glibc)
import Glibc
#endif
import KilnA64
import KilnIR
import Synchronization

/// sigaction flags (asm-generic values, the same on arm64 and x86-64).
enum SignalFlags {
    static let siginfo: UInt64 = 0x4
    static let restorer: UInt64 = 0x0400_0000
    static let onStack: UInt64 = 0x0800_0000
    static let restart: UInt64 = 0x1000_0000
    static let noDefer: UInt64 = 0x4000_0000
    static let resetHand: UInt64 = 0x8000_0000
}

/// How guest signals reach guest handlers. A host signal the guest handles is caught by
/// `hostHandler` on whichever thread the kernel chose; that only records it in the thread's
/// `caughtSignals` and sets its interrupt word (async-signal-safe), so the thread leaves
/// translated code at its next chained exit, or its blocking system call returns EINTR (or,
/// caught just before the call, never starts it: `InterruptibleSyscall`). The
/// dispatcher then builds the arm64 frame at a safe point (`serviceInterrupts`). The guest's
/// blocked set is mirrored on its host thread, so the host kernel keeps blocked signals
/// pending, and rt_sigsuspend, rt_sigtimedwait and signalfd run on the host unchanged.
enum GuestSignals {
    /// Signals whose guest disposition is a handler function (bit n-1 for signal n); read
    /// by host signal handlers, which may not take locks.
    static let handled = Atomic<UInt64>(0)

    @inline(__always) static func bit(_ signal: Int32) -> UInt64 { UInt64(1) << UInt64(signal - 1) }

    /// The host handler for asynchronous signals the guest handles.
    static let hostHandler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = { signal, info, context in
        guard signal >= 1, signal <= 64, let thread = GuestThread.current else { return }
        if let info { (thread.caughtInfo + Int(signal) * SignalFrame.siginfoSize).copyMemory(from: info, byteCount: SignalFrame.siginfoSize) }
        thread.caughtSignals.bitwiseOr(bit(signal), ordering: .acquiringAndReleasing)
        thread.interruptFromSignalHandler()
        // Caught on the way into a blocking call: it must not start (InterruptibleSyscall).
        if let context { InterruptibleSyscall.leaveWindow(context) }
    }

    /// Installs `handler` for host `signal` (no SA_RESTART: a blocking call must return EINTR
    /// so the guest handler runs; SA_RESTART is then applied for the guest).
    static func install(_ signal: Int32, _ handler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void) {
        _ = InterruptibleSyscall.stub  // mapped before a handler can look at its window
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = handler
        action.sa_flags = Int32(SA_SIGINFO) | Int32(SA_ONSTACK)
        sigfillset(&action.sa_mask)
        sigaction(signal, &action, nil)
    }

    /// The kernel's default action for `signal`.
    enum DefaultAction { case terminate, ignore, stop }
    static func defaultAction(_ signal: Int32) -> DefaultAction {
        switch signal {
        case SIGCHLD, SIGURG, SIGWINCH, SIGCONT: return .ignore
        case SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: return .stop
        default: return .terminate
        }
    }

    /// System calls the kernel does not restart after a handler even with SA_RESTART
    /// (ERESTARTNOHAND / ERESTART_RESTARTBLOCK, and the waits with timeouts).
    static func isRestartable(_ number: UInt64, _ args: SyscallArguments) -> Bool {
        switch number {
        case 72, 73, 22, 133, 137, 101, 115, 74: return false  // pselect6, ppoll, epoll_pwait, rt_sigsuspend, rt_sigtimedwait, nanosleep, clock_nanosleep, signalfd4
        case 98: return args[3] == 0 || args.int(1) & 0x7f == 1  // futex: waits with a timeout are not
        default: return true
        }
    }
}

extension GuestProcess {
    /// Runs what was posted to `thread` and delivers its caught signals (the dispatcher's
    /// safe point).
    func serviceInterrupts(_ thread: GuestThread) {
        var caught = thread.takeInterrupts()
        while caught != 0 {
            let signal = Int32(caught.trailingZeroBitCount + 1)
            caught &= caught - 1
            deliverSignal(SignalInfo(copying: thread.caughtInfo + Int(signal) * SignalFrame.siginfoSize), to: thread)
        }
    }

    /// Whether the guest has a handler function for `signal` that `thread` does not block
    /// (a blocked synchronous fault takes the default action, as on Linux).
    func guestHandles(_ signal: Int32, on thread: GuestThread) -> Bool {
        GuestSignals.handled.load(ordering: .acquiring) & GuestSignals.bit(signal) != 0
            && thread.signalMask & GuestSignals.bit(signal) == 0
    }

    /// Delivers a synchronous fault raised by guest code at `state.pc`: to the guest handler,
    /// or by dying of it (after Kiln's crash report).
    func deliverFault(_ signal: Int32, code: Int32, address: UInt64, detail: String) {
        let thread = currentThread
        guard guestHandles(signal, on: thread) else {
            CrashReporter.guestCrash(signal: signal, pc: thread.state.pc, detail: detail)
        }
        deliverSignal(SignalInfo(signal: signal, code: code, address: address), to: thread, faultAddress: address)
    }

    /// Sets up the guest handler for `info` on `thread` (arm64 rt_sigframe on its stack), or
    /// applies the disposition when it is not a handler.
    func deliverSignal(_ info: SignalInfo, to thread: GuestThread, faultAddress: UInt64 = 0) {
        let signal = info.signal
        guard signal >= 1, signal <= 64 else { return }
        let action: [UInt64] = signalLock.withLock {
            let action = signalActions[Int(signal)]
            if action[0] > 1, action[1] & SignalFlags.resetHand != 0 {
                signalActions[Int(signal)] = [0, 0, 0, 0]
                GuestSignals.handled.bitwiseAnd(~GuestSignals.bit(signal), ordering: .acquiringAndReleasing)
                if signal != SIGSEGV, signal != SIGBUS { Glibc.signal(signal, SIG_DFL) }
            }
            return action
        }
        let handler = action[0], flags = action[1]
        if handler == 1 { return }
        if handler == 0 {
            switch GuestSignals.defaultAction(signal) {
            case .ignore: return
            case .stop:
                Glibc.signal(signal, SIG_DFL)
                _ = HostSyscall.call(234, UInt64(getpid()), UInt64(thread.tid), UInt64(signal))
                return
            case .terminate:
                strace?.flush()
                CrashReporter.dieOfSignal(signal)
            }
        }
        let state = thread.state
        let stack = thread.alternateSignalStack
        let onAlternateStack = stack.flags & 2 == 0 && state.sp > stack.sp && state.sp <= stack.sp &+ stack.size
        var sp = state.sp
        if flags & SignalFlags.onStack != 0, stack.flags & 2 == 0, !onAlternateStack { sp = stack.sp &+ stack.size }
        let record = (sp &- 16) & ~15
        let frame = (record &- UInt64(SignalFrame.size)) & ~15
        guard let trampoline = signalReturnAddress(flags: flags, restorer: action[2]),
              addressSpace.isWritable(frame, record &+ 16), let framePointer = pointer(frame), let recordPointer = pointer(record) else {
            // No room for the frame: the kernel kills the thread's process with SIGSEGV.
            strace?.flush()
            CrashReporter.dieOfSignal(SIGSEGV)
        }
        let savedStack = (sp: stack.sp, flags: onAlternateStack ? UInt32(1) : stack.flags, size: stack.size)
        SignalFrame.write(at: framePointer, info: info, state: state, mask: thread.signalMask, stack: savedStack, faultAddress: faultAddress)
        recordPointer.storeBytes(of: state.x(29), as: UInt64.self)
        recordPointer.storeBytes(of: state.x(30), toByteOffset: 8, as: UInt64.self)
        state.setX(0, UInt64(signal))
        state.setX(1, frame)
        state.setX(2, frame &+ UInt64(SignalFrame.siginfoSize))
        state.setX(29, record)
        state.setX(30, trampoline)
        state.sp = frame
        state.pc = handler
        state.exclusiveSize = 0
        var mask = thread.signalMask | action[3]
        if flags & SignalFlags.noDefer == 0 { mask |= GuestSignals.bit(signal) }
        setSignalMask(mask, on: thread)
    }

    /// Where the handler returns: the guest's SA_RESTORER, else a trampoline Kiln maps (the
    /// arm64 kernel uses its vDSO's, which Kiln's guests do not have).
    private func signalReturnAddress(flags: UInt64, restorer: UInt64) -> UInt64? {
        if flags & SignalFlags.restorer != 0, restorer != 0 { return restorer }
        return signalLock.withLock {
            if signalReturnTrampoline != 0 { return signalReturnTrampoline }
            let page = addressSpace.map(address: 0, length: GuestLayout.pageSize, protection: PROT_READ | PROT_WRITE,
                                        flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 0)
            guard page > 0, let p = pointer(UInt64(page)) else { return nil }
            // mov x8, #139 (rt_sigreturn); svc #0
            p.storeBytes(of: UInt32(0xD280_1168), as: UInt32.self)
            p.storeBytes(of: UInt32(0xD400_0001), toByteOffset: 4, as: UInt32.self)
            _ = addressSpace.protect(address: UInt64(page), length: GuestLayout.pageSize, protection: PROT_READ | PROT_EXEC)
            signalReturnTrampoline = UInt64(page)
            return signalReturnTrampoline
        }
    }

    /// Sets `thread`'s blocked set (never SIGKILL or SIGSTOP) and mirrors it on the host.
    func setSignalMask(_ mask: UInt64, on thread: GuestThread) {
        thread.signalMask = mask & ~(GuestSignals.bit(SIGKILL) | GuestSignals.bit(SIGSTOP))
        applySignalMaskToHost(thread.signalMask)
    }

    /// Blocks on the host what the guest blocks (so blocked signals stay pending, as on arm64),
    /// except the fault signals Kiln needs for its own traps.
    func applySignalMaskToHost(_ guestMask: UInt64) {
        let kept = GuestSignals.bit(SIGSEGV) | GuestSignals.bit(SIGBUS) | GuestSignals.bit(SIGILL) | GuestSignals.bit(SIGFPE) | GuestSignals.bit(SIGTRAP)
        var mask = guestMask & ~kept
        _ = withUnsafeMutableBytes(of: &mask) { HostSyscall.call(14, UInt64(SIG_SETMASK), UInt64(UInt(bitPattern: $0.baseAddress)), 0, 8) }
    }

    /// After a system call returned -EINTR because a signal was caught: whether the kernel
    /// would restart it once the handler returns (SA_RESTART, or no handler at all).
    func shouldRestart(_ number: UInt64, _ args: SyscallArguments, thread: GuestThread) -> Bool {
        let caught = thread.caughtSignals.load(ordering: .acquiring)
        guard caught != 0 else { return false }
        let signal = caught.trailingZeroBitCount + 1
        let action = signalLock.withLock { signalActions[signal] }
        if action[0] <= 1 { return true }
        return action[1] & SignalFlags.restart != 0 && GuestSignals.isRestartable(number, args)
    }
}

extension GuestProcess {
    /// Whether the guest handles SIGSEGV or SIGBUS: the interpreter then checks accesses so
    /// that a fault stops at the exact guest instruction.
    var guestCatchesFaults: Bool {
        GuestSignals.handled.load(ordering: .relaxed) & (GuestSignals.bit(SIGSEGV) | GuestSignals.bit(SIGBUS)) != 0
    }

    /// A guest access the interpreter could not make, at `state.pc`: SIGSEGV (SEGV_MAPERR for
    /// unmapped memory, SEGV_ACCERR for a protection violation).
    func deliverMemoryFault(_ fault: GuestMemoryFault) {
        let inRange = fault.address >= GuestLayout.minimumAddress && fault.address < GuestLayout.limit
        let mapped = inRange && addressSpace.mapping(containing: fault.address) != nil
        let detail = inRange ? "\(fault.isWrite ? "write to" : "read from") \(hex(fault.address)) (\(mapped ? "protection" : "unmapped"))"
                             : "\(fault.isWrite ? "write to" : "read from") \(hex(fault.address)) outside guest memory"
        deliverFault(SIGSEGV, code: mapped ? 2 : 1, address: fault.address, detail: detail)
    }

    /// A BRK (SIGTRAP, TRAP_BRKPT) or undefined instruction (SIGILL, ILL_ILLOPC) the guest
    /// handles: delivered with the trapping pc; false when Kiln's default reporting applies.
    func deliverTrap(pc: UInt64, kind: IRTrapKind, info: UInt32, translator: A64Translator) -> Bool {
        let signal: Int32
        switch kind {
        case .breakpoint: signal = SIGTRAP
        case .undefined: signal = SIGILL
        case .unallocated, .unimplemented:
            guard translator.decoder.decode(info).index < 0 else { return false }
            signal = SIGILL
        case .instructionCacheMaintenance:  // handled by the dispatchers, never a signal
            return false
        }
        let thread = currentThread
        guard guestHandles(signal, on: thread) else { return false }
        thread.state.pc = pc
        deliverSignal(SignalInfo(signal: signal, code: 1, address: pc), to: thread, faultAddress: pc)
        return true
    }
}
