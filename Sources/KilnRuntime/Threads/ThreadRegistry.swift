#if canImport(Glibc)
import Glibc
#endif

/// The live guest threads of the process. Process-wide events that concern every thread's
/// private translation structures (an invalidated guest range, a flush) are posted through
/// `postToEveryThread`: each thread runs the request on itself at its next safe point, so no
/// thread reaches into another's dispatcher.
public final class ThreadRegistry: @unchecked Sendable {
    private let lock = HostMutex()
    private var live: [GuestThread] = []

    init() {}

    /// Number of live guest threads.
    public var count: Int { lock.withLock { live.count } }

    func add(_ thread: GuestThread) { lock.withLock { live.append(thread) } }

    /// Removes `thread` unless it is the last one (then the process ends with it).
    func removeUnlessLast(_ thread: GuestThread) -> Bool {
        lock.withLock {
            guard live.count > 1 else { return false }
            live.removeAll { $0 === thread }
            return true
        }
    }

    /// The thread with host (and guest) thread id `tid`.
    func thread(tid: Int32) -> GuestThread? { lock.withLock { live.first { $0.tid == tid } } }

    /// Runs `work` on every live guest thread: at once on the calling guest thread (which is
    /// at a safe point: in a system call or the dispatcher), and on each other thread at its
    /// next safe point — its dispatcher loop, which translated code reaches at its next
    /// chained exit once the thread's interrupt word is set. `work` must touch only the
    /// thread it is given. Threads blocked in a system call run it when the call returns.
    public func postToEveryThread(_ work: @escaping (GuestThread) -> Void) {
        let me = GuestThread.current
        let others: [GuestThread] = lock.withLock { live.filter { $0 !== me } }
        for thread in others { thread.post(work) }
        if let me { work(me) }
    }

    /// In a forked child only the calling thread exists.
    func keepOnlyAfterFork(_ thread: GuestThread) {
        lock.reinitialiseAfterFork()
        live = [thread]
    }
}
