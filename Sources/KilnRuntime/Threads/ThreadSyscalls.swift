#if canImport(Glibc)
import Glibc
#endif
import KilnIR

/// clone flags (asm-generic).
enum CloneFlags {
    static let vm: UInt64 = 0x100
    static let vfork: UInt64 = 0x4000
    static let thread: UInt64 = 0x1_0000
    static let setTLS: UInt64 = 0x8_0000
    static let parentSetTID: UInt64 = 0x10_0000
    static let childClearTID: UInt64 = 0x20_0000
    static let childSetTID: UInt64 = 0x100_0000
}

extension Syscalls {
    /// exit: ends the calling thread (the process with the last one). CLONE_CHILD_CLEARTID /
    /// set_tid_address: the tid word is zeroed and futex-woken, which pthread_join waits for.
    static func exit(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let thread = p.currentThread
        guard !thread.isVforkChild, p.threads.removeUnlessLast(thread) else { p.exitProcess(a.int(0)) }
        thread.hasExited = true
        if thread.clearChildTID != 0, let word = pointer(thread.clearChildTID),
           p.addressSpace.isAccessible(thread.clearChildTID, thread.clearChildTID &+ 4, protection: PROT_WRITE) {
            word.storeBytes(of: UInt32(0), as: UInt32.self)
            _ = HostSyscall.call(202, thread.clearChildTID, 1 /* FUTEX_WAKE */, 1)
        }
        return 0
    }

    static func exitGroup(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        p.exitProcess(a.int(0))
    }

    static func setTidAddress(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let thread = p.currentThread
        thread.clearChildTID = a[0]
        return Int(thread.tid)
    }

    static func setRobustList(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        guard a[1] == 24 else { return -Int(EINVAL) }
        p.currentThread.robustList = a[0]
        return 0
    }

    static func gettid(_ p: GuestProcess, _ a: SyscallArguments) -> Int { Int(p.currentThread.tid) }

    /// clone(flags, stack, parent_tid, tls, child_tid). CLONE_VM|CLONE_THREAD starts a guest
    /// thread on a new host thread; CLONE_VM|CLONE_VFORK (posix_spawn, vfork) runs the child
    /// in the parent's memory while the parent waits; other clones fork.
    static func clone(_ p: GuestProcess, _ a: SyscallArguments) -> Int {
        let flags = a[0]
        if flags & CloneFlags.vm != 0, flags & CloneFlags.thread != 0 {
            return p.startThread(flags: flags, stack: a[1], parentTID: a[2], tls: a[3], childTID: a[4])
        }
        if flags & CloneFlags.vm != 0, flags & CloneFlags.vfork != 0 {
            return p.vforkChild(flags: flags, stack: a[1], tls: a[3])
        }
        guard flags & CloneFlags.vm == 0 else { return -Int(EINVAL) }
        let tidFlags = CloneFlags.childSetTID | CloneFlags.childClearTID | CloneFlags.parentSetTID
        // glibc's fork (what the guest's fork asks for) resets the allocator's locks and
        // other host-library state in the child, which another host thread may hold at the
        // moment of the fork; the tid words are then written here. Other flag sets go to
        // the host clone call as they are.
        // The cache layer's locks are held across the fork (see CacheAttach.holdForFork).
        let cache = CacheAttach.shared
        if flags & ~(0xff | tidFlags | CloneFlags.setTLS) == 0, Int32(flags & 0xff) == SIGCHLD {
            cache?.holdForFork()
            let pid = Glibc.fork()
            cache?.releaseAfterFork()
            guard pid >= 0 else { return -Int(errno) }
            if pid == 0 {
                p.continueInForkedChild(flags: flags, stack: a[1], tls: a[3])
                if flags & CloneFlags.childSetTID != 0, let word = pointer(a[4]) { word.storeBytes(of: getpid(), as: Int32.self) }
                if flags & CloneFlags.childClearTID != 0 { p.currentThread.clearChildTID = a[4] }
            } else if flags & CloneFlags.parentSetTID != 0, let word = pointer(a[2]) {
                word.storeBytes(of: pid, as: Int32.self)
            }
            return Int(pid)
        }
        let hostFlags = flags & (0xff | tidFlags)
        cache?.holdForFork()
        let r = HostSyscall.call(HostNumber.clone, hostFlags, 0, a[2], a[4], 0)
        cache?.releaseAfterFork()
        if r == 0 { p.continueInForkedChild(flags: flags, stack: a[1], tls: a[3]) }
        return r
    }
}

/// What a new host thread needs to start its guest thread.
private final class ThreadStart {
    let process: GuestProcess
    let thread: GuestThread
    let flags: UInt64, parentTID: UInt64, childTID: UInt64
    /// Posted by the new thread once its tid words are written.
    let started = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init(process: GuestProcess, thread: GuestThread, flags: UInt64, parentTID: UInt64, childTID: UInt64) {
        self.process = process; self.thread = thread; self.flags = flags; self.parentTID = parentTID; self.childTID = childTID
        sem_init(started, 0, 0)
    }
    deinit {
        sem_destroy(started)
        started.deallocate()
    }
}

extension GuestProcess {
    /// The calling thread's registers and signal mask as a clone child sees them: x0 = 0, the
    /// new stack when one is given, TLS from CLONE_SETTLS.
    func cloneOfCurrentThread(flags: UInt64, stack: UInt64, tls: UInt64) -> GuestThread {
        let parent = currentThread
        let child = GuestThread(state: GuestCPUState())
        child.state.base.copyMemory(from: parent.state.base, byteCount: GuestCPUState.size)
        child.state.setX(0, 0)
        if stack != 0 { child.state.sp = stack }
        if flags & CloneFlags.setTLS != 0 { child.state.tpidr = tls }
        child.signalMask = parent.signalMask
        return child
    }

    /// A guest thread: a copy of the caller's registers with x0 = 0, the new stack and TLS,
    /// run by its own dispatcher on a new host thread. Returns its tid once the tid words are
    /// written (before the child runs guest code, as the kernel does).
    func startThread(flags: UInt64, stack: UInt64, parentTID: UInt64, tls: UInt64, childTID: UInt64) -> Int {
        let child = cloneOfCurrentThread(flags: flags, stack: stack, tls: tls)
        child.state.exclusiveSize = 0
        if flags & CloneFlags.childClearTID != 0 { child.clearChildTID = childTID }
        let start = ThreadStart(process: self, thread: child, flags: flags, parentTID: parentTID, childTID: childTID)
        threads.add(child)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 8 << 20)
        var host = pthread_t()
        let context = Unmanaged.passRetained(start).toOpaque()
        let r = pthread_create(&host, &attributes, { raw in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            let thread = start.thread
            thread.makeCurrent()
            start.process.applySignalMaskToHost(thread.signalMask)
            if start.flags & CloneFlags.parentSetTID != 0, let p = pointer(start.parentTID) { p.storeBytes(of: thread.tid, as: Int32.self) }
            if start.flags & CloneFlags.childSetTID != 0, let p = pointer(start.childTID) { p.storeBytes(of: thread.tid, as: Int32.self) }
            sem_post(start.started)
            start.process.runDispatcher(on: thread)
            return nil
        }, context)
        pthread_attr_destroy(&attributes)
        guard r == 0 else {
            Unmanaged<ThreadStart>.fromOpaque(context).release()
            _ = threads.removeUnlessLast(child)
            return -Int(EAGAIN)
        }
        while sem_wait(start.started) != 0 {}
        return Int(child.tid)
    }

    /// In a forked child: only this thread survives; its dispatcher gets its own code buffer.
    func continueInForkedChild(flags: UInt64, stack: UInt64, tls: UInt64) {
        let thread = currentThread
        thread.makeCurrent()
        threads.keepOnlyAfterFork(thread)
        addressSpace.lock.reinitialiseAfterFork()
        signalLock.reinitialiseAfterFork()
        thread.afterFork()
        if flags & CloneFlags.setTLS != 0 { thread.state.tpidr = tls }
        if stack != 0 { thread.state.sp = stack }
    }

    /// Runs the guest on `thread` until it exits (the calling host thread is the guest's).
    func runDispatcher(on thread: GuestThread) {
        if options.tier == .jit, let jit = try? JITDispatcher(process: self, thread: thread,
                                                               options: JITOptions(lockstep: options.lockstep, smc: options.smc),
                                                               codeCapacity: thread === mainThread ? 256 << 20 : 64 << 20) {
            jit.run()
        } else {
            Dispatcher(process: self, thread: thread).run()
        }
    }
}

/// glibc's clone(fn, stack, flags, arg): variadic in C, so called through a fixed prototype
/// (the SysV ABI passes the first four arguments identically).
private typealias HostClone = @convention(c) (@convention(c) (UnsafeMutableRawPointer?) -> Int32, UnsafeMutableRawPointer, Int32, UnsafeMutableRawPointer?) -> Int32

private final class VforkStart {
    let process: GuestProcess
    let child: GuestThread
    init(process: GuestProcess, child: GuestThread) { self.process = process; self.child = child }
}

extension GuestProcess {
    /// vfork / CLONE_VM|CLONE_VFORK: the child runs on the interpreter in the parent's memory
    /// (on a host stack of its own) while the parent's host thread is suspended by the host
    /// kernel until the child execs or exits — so what the child writes before exec (glibc's
    /// posix_spawn reports a failed exec that way) reaches the parent, as on Linux.
    func vforkChild(flags: UInt64, stack: UInt64, tls: UInt64) -> Int {
        guard let symbol = dlsym(nil, "clone") else { return -Int(ENOSYS) }
        let hostClone = unsafeBitCast(symbol, to: HostClone.self)
        let parent = currentThread
        let child = cloneOfCurrentThread(flags: flags, stack: stack, tls: tls)
        child.isVforkChild = true
        let start = VforkStart(process: self, child: child)
        let hostStackSize = 1 << 20
        let hostStack = UnsafeMutableRawPointer.allocate(byteCount: hostStackSize, alignment: 16)
        defer { hostStack.deallocate() }
        let hostFlags = Int32(truncatingIfNeeded: CloneFlags.vm | CloneFlags.vfork | (flags & 0xff))
        let r = withExtendedLifetime(start) {
            hostClone({ raw in
                let start = Unmanaged<VforkStart>.fromOpaque(raw!).takeUnretainedValue()
                // The host TLS block is the parent's: this binding is undone by the parent.
                start.child.makeCurrent()
                Dispatcher(process: start.process, thread: start.child).run()
                _exit(0)
            }, hostStack + hostStackSize, hostFlags, Unmanaged.passUnretained(start).toOpaque())
        }
        parent.makeCurrent()
        return r < 0 ? -Int(errno) : Int(r)
    }
}
