#if canImport(Glibc)
import Glibc
#endif
import KilnIR
import KilnX64
import Synchronization

/// A guest range whose translations must go (its bytes may have changed or gone away),
/// stamped with the process-wide epoch it was issued at. A value: the process posts it to
/// every thread's dispatcher (`ThreadRegistry.postToEveryThread`), each applies it to its own
/// translations.
struct CodeInvalidation: Equatable, Sendable {
    var start: UInt64
    var end: UInt64
    var epoch: UInt64
    /// A cache region that had served code was dropped: cached blocks are in no block table
    /// (only the direct-mapped and inline lookups), so every dispatcher flushes.
    var dropsCachedCode = false
}

/// The process-wide invalidation count. Issuing an invalidation advances it after the guest's
/// writes are visible; a translation remembers the epoch it started at and is not installed if
/// the epoch moved meanwhile (it may have read bytes from before the write).
enum CodeInvalidationEpoch {
    private static let counter = Atomic<UInt64>(0)

    static var current: UInt64 { counter.load(ordering: .acquiring) }

    /// A new epoch for an invalidation being issued now.
    static func advance() -> UInt64 { counter.add(1, ordering: .sequentiallyConsistent).newValue }
}

/// The guest range an `IC` instruction names: one instruction-cache line (CTR_EL0.IminLine)
/// for IC IVAU, everything for IC IALLU / IC IALLUIS.
func instructionCacheMaintenanceRange(encoding: UInt32, state: GuestCPUState, cacheType: UInt64) -> (start: UInt64, end: UInt64) {
    let op1 = (encoding >> 16) & 7
    guard op1 == 3 else { return (0, .max) }
    let rt = Int(encoding & 31)
    let address = rt == 31 ? 0 : state.x(rt)
    let line = UInt64(4) << (cacheType & 15)
    let start = address & ~(line - 1)
    return (start, start &+ line < start ? .max : start &+ line)
}

/// A link slot chained to a block: where it is (writable alias) and the stub it held before.
struct IncomingLink {
    var slot: UInt
    var stub: UInt64
}

extension JITDispatcher {
    /// Drops this thread's translations overlapping the range: out of the block cache, every link slot
    /// chained into it back to its stub, its lookup-table entry cleared and the return
    /// predictions forgotten. Its code stays in the buffer (unreachable) until the next flush,
    /// so a thread still inside it finishes its block safely and leaves at its next exit.
    func apply(_ invalidation: CodeInvalidation) {
        if invalidation.dropsCachedCode {
            flush()
            return
        }
        let removed = blocks.removeBlocks(overlapping: invalidation.start, invalidation.end)
        guard !removed.isEmpty else { return }
        for (pc, block, links) in removed {
            incoming.forEach(from: links) { link in
                UnsafeMutablePointer<UInt64>(bitPattern: link.slot)?.pointee = link.stub
            }
            if let code = block.code { runtime.unregister(pc: pc, code: code) }
        }
        runtime.clearReturnPredictions()
    }

    /// IC IVAU / IC IALLU at `state.pc` (`encoding`): drops the translations of the line (and
    /// of its shared-mapping aliases) unless `--smc none`, and continues after it.
    func instructionCacheMaintenance(_ encoding: UInt32) {
        let state = thread.state
        if smc != .none {
            let range = instructionCacheMaintenanceRange(encoding: encoding, state: state, cacheType: interpreter.environment.cacheType)
            process.addressSpace.invalidateCode(range.start, range.end)
        }
        state.pc &+= 4
    }

    /// `--smc full`: whether the guest bytes under `block` are still those it was translated from.
    func hasGuestBytes(of block: JITBlock) -> Bool {
        block.guestBytes.withUnsafeBytes { saved in
            memcmp(saved.baseAddress!, UnsafeRawPointer(bitPattern: UInt(block.pc))!, saved.count) == 0
        }
    }

    /// Runs a system call while `--smc mtrack` has pages write-protected: the kernel fails a
    /// write into one with EFAULT (no fault to catch), so on EFAULT every page is released and
    /// the call runs again from the same registers.
    func syscallReleasingTrackedPages(_ tracker: CodeWriteTracker) {
        let state = thread.state
        let arguments = (0...8).map { state.x($0) }
        let pc = state.pc
        process.syscall()
        guard !thread.hasExited, state.x(0) == UInt64(bitPattern: -Int64(EFAULT)), state.pc == pc else { return }
        tracker.releaseAll()
        for (n, value) in arguments.enumerated() { state.setX(n, value) }
        process.syscall()
    }

    /// Records that `slot` (holding `stub`) now jumps to the block at `target`.
    func recordLink(slot: UInt, stub: UInt64, to target: UInt64) {
        // The list head lives in the target's block-cache tag.
        guard let previous = blocks.exchangeTag(at: target, incoming.nextNode) else { return }
        incoming.add(IncomingLink(slot: slot, stub: stub), next: previous)
    }
}

extension GuestProcess {
    /// Issues an invalidation of `start ..< end` (the address space's hook): stamped with a new
    /// epoch, applied at once on the calling thread and posted to every other thread.
    func issueInvalidation(_ start: UInt64, _ end: UInt64) {
        codeWrites?.forget(start, end)
        // A cached region whose bytes or mapping changed is attached again only once it is
        // read-only again; until then the JIT serves it.
        let dropsCachedCode = CacheAttach.shared?.invalidate(start, end) ?? false
        let invalidation = CodeInvalidation(start: start, end: end, epoch: CodeInvalidationEpoch.advance(), dropsCachedCode: dropsCachedCode)
        threads.postToEveryThread { $0.invalidateTranslations(invalidation) }
    }

    /// The process's `--smc mtrack` page tracker (one for all threads: pages are shared),
    /// created by the first JIT dispatcher that asks.
    func codeWriteTracker() -> CodeWriteTracker {
        codeWritesLock.withLock {
            if let tracker = codeWrites { return tracker }
            let tracker = CodeWriteTracker(addressSpace: addressSpace) { [unowned self] start, end in
                self.addressSpace.invalidateCode(start, end)
            }
            // Any mprotect resets the host protection of its pages to the guest's.
            addressSpace.protectionChanged = { [unowned self] start, end in self.addressSpace.invalidateCode(start, end) }
            codeWrites = tracker
            CodeWriteTracker.current = tracker
            return tracker
        }
    }
}
