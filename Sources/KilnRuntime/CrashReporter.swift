#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// Turns faults in guest memory into guest crashes: a message naming the signal, the guest pc
/// (with file and offset) and the fault, then death by the same signal, so the shell sees
/// what it would see on arm64. Guest signal handlers for synchronous faults arrive with
/// threads and signals (issue 7); until then the default action applies.
enum CrashReporter {
    /// The guest pc of the block being run: the interpreter writes the pc only when a block
    /// exits, so during a block it is the block's start.
    static var currentPC: UInt64 { process?.state.pc ?? 0 }
    nonisolated(unsafe) static weak var process: GuestProcess?

    static func install(_ process: GuestProcess) {
        self.process = process
        var inherited: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &inherited) { HostSyscall.call(14, UInt64(SIG_BLOCK), 0, UInt64(UInt(bitPattern: $0.baseAddress)), 8) }
        process.mainThread.signalMask = inherited
        // The guest starts with the dispositions it inherited: ignored signals stay ignored,
        // everything else is default. (The Swift runtime's crash backtracer installs handlers
        // for SIGABRT, SIGILL, SIGTRAP... that would otherwise catch the guest's signals.)
        // SIGILL, SIGTRAP and SIGFPE keep the runtime's handlers: they report Kiln's own traps
        // (a Swift precondition is ud2). The guest raising them at itself is handled by
        // `raiseAtSelf`.
        for sig: Int32 in 1..<32 where sig != SIGKILL && sig != SIGSTOP && !keptHostSignals.contains(sig) {
            var old = sigaction()
            guard sigaction(sig, nil, &old) == 0 else { continue }
            if unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self) == 1 {
                process.signalActions[Int(sig)][0] = 1
            } else {
                Glibc.signal(sig, SIG_DFL)
            }
        }
        for sig in [SIGSEGV, SIGBUS] { installFaultHandler(sig) }
    }

    /// Installs Kiln's handler for a fault signal (always SIGSEGV and SIGBUS; SIGILL, SIGTRAP
    /// and SIGFPE once the guest handles them).
    static func installFaultHandler(_ signal: Int32) {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = faultHandler
        action.sa_flags = Int32(SA_SIGINFO) | Int32(SA_NODEFER)
        sigemptyset(&action.sa_mask)
        sigaction(signal, &action, nil)
    }

    /// A fault signal on a host thread. Sent by a process (kill, tgkill): an asynchronous
    /// guest signal. Raised by translated code on a guest access the guest handles: the host
    /// pc is moved to the JIT's exit path and the dispatcher delivers it. Otherwise a crash
    /// report, then the default action when the access runs again.
    static let faultHandler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = { signal, info, context in
        let code = info?.pointee.si_code ?? 0
        let thread = GuestThread.current
        let handled = GuestSignals.handled.load(ordering: .acquiring) & GuestSignals.bit(signal) != 0
        if code <= 0 {
            if thread != nil, handled { GuestSignals.hostHandler(signal, info, context); return }
            CrashReporter.dieOfSignal(signal)
        }
        let address = info.map { UInt64(UInt(bitPattern: $0.pointee._sifields._sigfault.si_addr)) } ?? 0
        // A guest write to code `--smc mtrack` protects: the page is writable again, its
        // translations are gone, and returning runs the write again.
        if signal == SIGSEGV, let context,
           CodeWriteTracker.handleSegmentationFault(address: address,
                                                    isWrite: context.assumingMemoryBound(to: ucontext_t.self).pointee.uc_mcontext.gregs.19 & 2 != 0) {
            return
        }
        if let context, let thread, let locate = thread.locateHostPC {
            let ucontext = context.assumingMemoryBound(to: ucontext_t.self)
            let registers = ucontext.pointee.uc_mcontext.gregs
            // REG_RIP, REG_R14 (the context block) and REG_ERR (bit 1 set for a write).
            let rip = UInt(bitPattern: Int(registers.16)), isWrite = registers.19 & 2 != 0
            if let located = locate(rip) {
                if handled, thread.signalMask & GuestSignals.bit(signal) == 0, let exit = thread.faultExit,
                   UInt(bitPattern: Int(registers.6)) == exit.context {
                    thread.pendingFault = HostFault(signal: signal, code: code, address: address, pc: located.pc, blockPC: located.blockPC)
                    ucontext.pointee.uc_mcontext.gregs.16 = Int64(bitPattern: UInt64(exit.exitToHost))
                    return
                }
                // Translated code accesses memory directly: report as the interpreter
                // tier does, with the faulting instruction when outside guest memory.
                if address < GuestLayout.minimumAddress || address >= GuestLayout.limit - 16 {
                    CrashReporter.report(signal: signal, pc: located.pc,
                                         detail: "\(isWrite ? "write to" : "read from") \(hex(address)) outside guest memory at")
                } else {
                    CrashReporter.report(signal: signal, pc: located.blockPC, detail: "fault at \(hex(address)) in the block starting at")
                }
                Glibc.signal(signal, SIG_DFL)
                return
            }
        }
        Glibc.signal(signal, SIG_DFL)
        guard signal == SIGSEGV || signal == SIGBUS else { return }
        guard address < GuestLayout.limit else {
            Descriptor.writeAll(2, "kiln: internal error: \(CrashReporter.signalName(signal)) at host address \(hex(address)) while running the guest block at \(hex(CrashReporter.currentPC))\n")
            return
        }
        CrashReporter.report(signal: signal, pc: CrashReporter.currentPC,
                             detail: "fault at \(hex(address)) in the block starting at")
        // The default action is back: returning re-runs the access and the process dies
        // of the same signal.
    }

    /// Signals whose host handlers (the Swift runtime's crash reporter) stay installed. An
    /// array: a Set<Int32> here was the start-up's only use of Int32: Hashable, and finding
    /// that conformance scans every conformance record in the binary (0.25M instructions).
    static let keptHostSignals: [Int32] = [SIGILL, SIGTRAP, SIGFPE]

    /// Prints the crash report without dying.
    static func report(signal: Int32, pc: UInt64, detail: String) {
        process?.strace?.flush()
        let name = signalName(signal)
        let location = process?.describe(pc) ?? hex(pc)
        Descriptor.writeAll(2, "kiln: guest killed by \(name): \(detail) pc \(location)\n")
    }

    /// Reports a crash the runtime detected itself and dies of `signal`.
    static func guestCrash(signal: Int32, pc: UInt64, detail: String) -> Never {
        report(signal: signal, pc: pc, detail: detail + " at")
        dieOfSignal(signal)
    }

    /// Ends the host process by `signal` with its default action.
    static func dieOfSignal(_ signal: Int32) -> Never {
        Glibc.signal(signal, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        raise(signal)
        // Signals whose default action is to ignore or stop: exit as a shell would report it.
        exit(128 + signal)
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
                                      SIGFPE: "SIGFPE", SIGABRT: "SIGABRT"]
        return names[signal] ?? "signal \(signal)"
    }
}
