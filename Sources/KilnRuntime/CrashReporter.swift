#if canImport(Glibc)
import Glibc
#endif

/// Turns faults in guest memory into guest crashes: a message naming the signal, the guest pc
/// (with file and offset) and the fault, then death by the same signal, so the shell sees
/// what it would see on arm64. Guest signal handlers for synchronous faults arrive with
/// threads and signals (issue 7); until then the default action applies.
enum CrashReporter {
    /// The guest pc of the block being run: the interpreter writes the pc only when a block
    /// exits, so during a block it is the block's start.
    static var currentPC: UInt64 { process?.state.pc ?? 0 }
    nonisolated(unsafe) static weak var process: GuestProcess?
    /// Maps a host pc inside translated code to (guest block start, guest instruction); set
    /// by the JIT tier.
    nonisolated(unsafe) static var locateHostPC: ((UInt) -> (blockPC: UInt64, pc: UInt64)?)?

    static func install(_ process: GuestProcess) {
        self.process = process
        var inherited: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &inherited) { HostSyscall.call(14, UInt64(SIG_BLOCK), 0, UInt64(UInt(bitPattern: $0.baseAddress)), 8) }
        process.signalMask = inherited
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
        for sig in [SIGSEGV, SIGBUS] {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { signal, info, context in
                let address = info.map { UInt64(UInt(bitPattern: $0.pointee._sifields._sigfault.si_addr)) } ?? 0
                // REG_ERR: the page-fault error code, bit 1 set for a write.
                let faultIsWrite = context.map { $0.assumingMemoryBound(to: ucontext_t.self).pointee.uc_mcontext.gregs.19 & 2 != 0 } ?? false
                if signal == SIGSEGV, CodeWriteTracker.handleSegmentationFault(address: address, isWrite: faultIsWrite) { return }
                // Returning re-runs the access: with the default action, the process dies of it.
                defer { Glibc.signal(signal, SIG_DFL) }
                if let context, let locate = CrashReporter.locateHostPC {
                    let registers = context.assumingMemoryBound(to: ucontext_t.self).pointee.uc_mcontext.gregs
                    // REG_RIP.
                    let rip = UInt(bitPattern: Int(registers.16)), isWrite = faultIsWrite
                    if let located = locate(rip) {
                        // Translated code accesses memory directly: report as the interpreter
                        // tier does, with the faulting instruction when outside guest memory.
                        if address < GuestLayout.minimumAddress || address >= GuestLayout.limit - 16 {
                            CrashReporter.report(signal: signal, pc: located.pc,
                                                 detail: "\(isWrite ? "write to" : "read from") \(hex(address)) outside guest memory at")
                        } else {
                            CrashReporter.report(signal: signal, pc: located.blockPC, detail: "fault at \(hex(address)) in the block starting at")
                        }
                        return
                    }
                }
                guard address < GuestLayout.limit else {
                    writeAll(2, "kiln: internal error: \(CrashReporter.signalName(signal)) at host address \(hex(address)) while running the guest block at \(hex(CrashReporter.currentPC))\n")
                    return
                }
                CrashReporter.report(signal: signal, pc: CrashReporter.currentPC,
                                     detail: "fault at \(hex(address)) in the block starting at")
            }
            action.sa_flags = Int32(SA_SIGINFO) | Int32(SA_NODEFER)
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
    }

    /// Signals whose host handlers (the Swift runtime's crash reporter) stay installed.
    static let keptHostSignals: Set<Int32> = [SIGILL, SIGTRAP, SIGFPE]

    /// Prints the crash report without dying.
    static func report(signal: Int32, pc: UInt64, detail: String) {
        process?.strace?.flush()
        let name = signalName(signal)
        let location = process?.describe(pc) ?? hex(pc)
        writeAll(2, "kiln: guest killed by \(name): \(detail) pc \(location)\n")
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
