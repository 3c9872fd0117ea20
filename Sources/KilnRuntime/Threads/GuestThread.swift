#if canImport(Glibc)
import Glibc
#endif
import KilnIR
import Synchronization

/// One guest thread: its CPU state, its per-thread kernel state (tid, signal mask, alternate
/// signal stack, clear-child-tid address) and the mailbox other threads post requests to.
/// Each guest thread runs on its own host thread with its own dispatcher (see
/// docs/RUNTIME.md, "Threads"); nothing here is touched by another thread except through
/// `post`, `interrupt` and the signal bits, which are synchronised.
public final class GuestThread: @unchecked Sendable {
    public let state: GuestCPUState
    /// The host thread id, which is also the guest's tid (guest threads are host threads).
    public internal(set) var tid: Int32 = 0
    /// set_tid_address / CLONE_CHILD_CLEARTID: zeroed and futex-woken when the thread exits.
    var clearChildTID: UInt64 = 0
    var robustList: UInt64 = 0
    /// The guest's blocked-signal set (bit n-1 for signal n); mirrored on the host thread.
    var signalMask: UInt64 = 0
    /// sigaltstack: ss_sp, ss_flags, ss_size (SS_DISABLE = 2 when none).
    var alternateSignalStack: (sp: UInt64, flags: UInt32, size: UInt64) = (0, 2, 0)
    /// Set by the exit system call: the dispatcher loop returns after the call.
    var hasExited = false
    /// The child side of a vfork: it shares the parent's memory until it execs or exits.
    var isVforkChild = false
    /// A vfork child's own signal dispositions (copied on its first rt_sigaction).
    var vforkSignalActions: [[UInt64]] = []

    /// The word translated code polls at chained exits (nonzero: leave to the dispatcher).
    /// Owned here for the interpreter tier; the JIT tier moves it into its X64 context.
    private(set) var interruptWord: UnsafeMutablePointer<UInt32>
    private let ownedInterruptWord: UnsafeMutablePointer<UInt32>
    private let mailboxLock = HostMutex()
    private var posted: [(GuestThread) -> Void] = []

    /// Signals caught on this host thread and not yet delivered to the guest (bit n-1 for
    /// signal n), with the host siginfo of the latest one of each.
    let caughtSignals = Atomic<UInt64>(0)
    let caughtInfo: UnsafeMutableRawPointer
    /// A fault raised by translated code, waiting for the dispatcher to deliver it.
    var pendingFault: HostFault?

    /// Hooks set by the thread's dispatcher.
    var invalidateTranslations: (CodeInvalidation) -> Void = { _ in }
    var afterFork: () -> Void = {}
    var locateHostPC: ((UInt) -> (blockPC: UInt64, pc: UInt64)?)?
    /// Where the host pc lands to leave translated code after a fault (the JIT's exit path),
    /// with the context block that translated code runs with.
    var faultExit: (exitToHost: UInt, context: UInt)?

    init(state: GuestCPUState) {
        self.state = state
        ownedInterruptWord = .allocate(capacity: 1)
        ownedInterruptWord.initialize(to: 0)
        interruptWord = ownedInterruptWord
        caughtInfo = .allocate(byteCount: 65 * SignalFrame.siginfoSize, alignment: 8)
        caughtInfo.initializeMemory(as: UInt8.self, repeating: 0, count: 65 * SignalFrame.siginfoSize)
    }

    deinit {
        ownedInterruptWord.deallocate()
        caughtInfo.deallocate()
    }

    /// Moves the interrupt word to `word` (the JIT's context field), keeping its value.
    func useInterruptWord(_ word: UnsafeMutablePointer<UInt32>) {
        mailboxLock.withLock {
            word.pointee = interruptWord.pointee
            interruptWord = word
        }
    }

    /// Whether anything is waiting: posted work, caught signals, or a fault.
    @inline(__always) var isInterrupted: Bool { interruptWord.pointee != 0 }

    /// Queues `work` to run on this thread at its next safe point (its dispatcher loop), and
    /// makes translated code on it leave at its next chained exit.
    func post(_ work: @escaping (GuestThread) -> Void) {
        mailboxLock.withLock {
            posted.append(work)
            interruptWord.pointee = 1
        }
    }

    /// Sets the interrupt word from this thread's own host signal handler (no locks).
    @inline(__always) func interruptFromSignalHandler() { interruptWord.pointee = 1 }

    /// Runs posted work; returns the caught signals to deliver (clearing them).
    func takeInterrupts() -> UInt64 {
        let work: [(GuestThread) -> Void] = mailboxLock.withLock {
            interruptWord.pointee = 0
            defer { posted.removeAll() }
            return posted
        }
        for w in work { w(self) }
        return caughtSignals.exchange(0, ordering: .acquiringAndReleasing)
    }

    // MARK: the current thread

    nonisolated(unsafe) private static var key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The guest thread running on the calling host thread (nil on a host thread that runs
    /// no guest code).
    static var current: GuestThread? {
        guard let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<GuestThread>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Binds this guest thread to the calling host thread (the registry keeps it alive).
    func makeCurrent() {
        tid = Int32(HostSyscall.call(HostNumber.gettid))
        pthread_setspecific(Self.key, Unmanaged.passUnretained(self).toOpaque())
    }
}

/// A host fault taken in translated code on a guest access, for the guest's handler.
struct HostFault {
    var signal: Int32
    var code: Int32
    var address: UInt64
    /// The faulting guest instruction and the start of its block.
    var pc: UInt64
    var blockPC: UInt64
}
