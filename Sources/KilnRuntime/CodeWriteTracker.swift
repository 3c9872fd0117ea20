#if canImport(Glibc)
import Glibc
#endif

/// `--smc mtrack`: the host pages under guest code the guest may write are write-protected
/// once code on them is translated, so a guest write to one faults. The fault handler gives
/// the page its guest protection back, drops the page's translations and returns, and the
/// write runs again. For programs that rewrite code without IC IVAU (FEX calls this mtrack).
///
/// A system call the guest asks to write into such a page fails with EFAULT instead of
/// faulting; the dispatcher then releases every page and runs the call again. One per
/// process (pages are shared by all threads); its page set is locked.
final class CodeWriteTracker: @unchecked Sendable {
    static let pageSize = UInt64(GuestLayout.pageSize)

    /// The process's tracker, for the SIGSEGV hook.
    nonisolated(unsafe) static weak var current: CodeWriteTracker?
    private let lock = HostMutex()

    private let addressSpace: GuestAddressSpace
    /// Start addresses of the pages this tracker made read-only.
    private var protectedPages = Set<UInt64>()
    /// Drops the translations of a page the guest wrote.
    private let written: (UInt64, UInt64) -> Void

    init(addressSpace: GuestAddressSpace, written: @escaping (UInt64, UInt64) -> Void) {
        self.addressSpace = addressSpace
        self.written = written
    }

    /// Whether any page is write-protected now.
    var hasProtectedPages: Bool { lock.withLock { !protectedPages.isEmpty } }

    /// Write-protects the guest-writable pages under `start ..< end` (a block just translated).
    func track(_ start: UInt64, _ end: UInt64) {
        lock.lock(); defer { lock.unlock() }
        var page = start & ~(Self.pageSize - 1)
        while page < end {
            if !protectedPages.contains(page), let m = addressSpace.mapping(containing: page), m.protection & PROT_WRITE != 0,
               mprotect(UnsafeMutableRawPointer(bitPattern: UInt(page)), Int(Self.pageSize), m.protection & ~PROT_WRITE) == 0 {
                protectedPages.insert(page)
            }
            page &+= Self.pageSize
        }
    }

    /// Forgets the pages of `start ..< end`: their host protection is the guest's again (the
    /// mapping there was changed or removed).
    func forget(_ start: UInt64, _ end: UInt64) {
        lock.lock(); defer { lock.unlock() }
        guard !protectedPages.isEmpty else { return }
        if (end &- start) / Self.pageSize > UInt64(protectedPages.count) {
            protectedPages = protectedPages.filter { $0 < start & ~(Self.pageSize - 1) || $0 >= end }
        } else {
            var page = start & ~(Self.pageSize - 1)
            while page < end { protectedPages.remove(page); page &+= Self.pageSize }
        }
    }

    /// Handles a host write fault at `address`: true if it hit a page this tracker protected
    /// (now writable again, its translations dropped), false if it is a real fault.
    func handleWriteFault(at address: UInt64) -> Bool {
        let page = address & ~(Self.pageSize - 1)
        lock.lock()
        guard protectedPages.contains(page), let m = addressSpace.mapping(containing: address), m.protection & PROT_WRITE != 0 else {
            lock.unlock()
            return false
        }
        mprotect(UnsafeMutableRawPointer(bitPattern: UInt(page)), Int(Self.pageSize), m.protection)
        protectedPages.remove(page)
        lock.unlock()
        written(page, page + Self.pageSize)
        return true
    }

    /// Gives every protected page its guest protection back and drops its translations.
    func releaseAll() {
        let pages: Set<UInt64> = lock.withLock {
            defer { protectedPages.removeAll() }
            for page in protectedPages {
                let protection = addressSpace.mapping(containing: page)?.protection ?? PROT_NONE
                mprotect(UnsafeMutableRawPointer(bitPattern: UInt(page)), Int(Self.pageSize), protection)
            }
            return protectedPages
        }
        for page in pages { written(page, page + Self.pageSize) }
    }

    /// The SIGSEGV hook: call first from the process's SIGSEGV handler; true when the fault
    /// was a guest write to tracked code (the handler then returns and the write runs again).
    /// Runs on the faulting thread while its dispatcher is inside translated code or a
    /// guest-memory access, never while it is changing its own tables; the invalidation is
    /// applied to that thread's dispatcher at once and posted to the others.
    static func handleSegmentationFault(address: UInt64, isWrite: Bool) -> Bool {
        guard isWrite, let tracker = current else { return false }
        return tracker.handleWriteFault(at: address)
    }
}
