#if canImport(Glibc)
import Glibc
#endif

/// An attached cache file: mapped read-only, header and sections validated, each entry
/// checked (records and guest bytes) the first time it is looked up.
public final class CacheFile: @unchecked Sendable {
    public let path: String
    public let view: CacheFileView
    private let mapping: UnsafeRawBufferPointer
    /// Kept open so the executable mapping comes from the inode that was validated, even if
    /// the path has since been replaced.
    private let fd: Int32
    private var executableCode: UnsafeRawBufferPointer?
    /// The reservation holding the executable code and the table area right after it.
    private var reservation: UnsafeMutableRawBufferPointer?
    /// The per-process table area (read+write), once mapped.
    public private(set) var tables: UnsafeMutablePointer<UInt64>?
    private let diagnostics: CacheDiagnostics?
    /// Per entry: 0 unchecked, 1 valid, 2 rejected as corrupt, 3 valid with its table
    /// initialised, 4 checked by `prepareChunk`, table being filled, 5 rejected because its
    /// guest bytes changed. Guarded by `lock`. Anonymous zero pages, not an array: it is read and written on every
    /// lookup and every link slot filled, where an array's uniqueness and exclusivity checks
    /// showed in profiles, and a run touches the pages of the entries it uses only (clearing
    /// a byte per entry of clang's 6M took 4% of its baked start-up).
    private let entryStates: UnsafeMutableBufferPointer<UInt8>
    private let entryStatesMapped: Bool
    /// Hot entries (0 ..< `view.hotEntryCount`, in code order) are prepared `hotChunkSize` at a
    /// time (see `prepareChunk`): whether each chunk is. Guarded by `lock`.
    private var hotChunkPrepared: [Bool]
    /// Link slots of ready entries whose target is a hot entry of a chunk not yet prepared, by
    /// that chunk: pointed at the target when its chunk is prepared. Guarded by `lock`.
    private var pendingLinks: [[(slot: UnsafeMutablePointer<UInt64>, target: Int)]]
    /// Entries made ready as part of a chunk rather than by their own lookup.
    public var preparedInChunks: Int { lock.withLock { chunkPreparedCount } }
    private var chunkPreparedCount = 0
    private let lock = Lock()

    private init(path: String, fd: Int32, mapping: UnsafeRawBufferPointer, view: CacheFileView, diagnostics: CacheDiagnostics?) {
        self.path = path
        self.fd = fd
        self.mapping = mapping
        self.view = view
        self.diagnostics = diagnostics
        // Stored, not lazy: a lazy property's element is modified through a copy of the whole
        // array (one copy per pending link appended).
        let chunks = (view.hotEntryCount + CacheFile.hotChunkSize - 1) / CacheFile.hotChunkSize
        hotChunkPrepared = [Bool](repeating: false, count: chunks)
        pendingLinks = [[(slot: UnsafeMutablePointer<UInt64>, target: Int)]](repeating: [], count: chunks)
        let count = view.entryCount
        // Mapped up front where hot entries are one in 64 or denser (python3.11: one in eight):
        // their states are the first pages (format 6), and a run's cold lookups touch most of
        // the rest, each page faulting twice (read, then write). Populating only the hot
        // prefix measured 40 more faults and no faster.
        let populate = view.hotEntryCount * 64 >= count ? MAP_POPULATE : 0
        if count > 0, let base = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | populate, -1, 0),
           base != MAP_FAILED {
            entryStates = UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count)
            entryStatesMapped = true
        } else {
            entryStates = .allocate(capacity: count)
            entryStates.initialize(repeating: 0)
            entryStatesMapped = false
        }
    }

    deinit {
        if entryStatesMapped { munmap(entryStates.baseAddress, entryStates.count) } else { entryStates.deallocate() }
        if let reserved = reservation, let base = reserved.baseAddress {
            munmap(base, reserved.count)
        } else if let code = executableCode, let base = code.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), code.count)
        }
        if let base = mapping.baseAddress, mapping.count > 0 { munmap(UnsafeMutableRawPointer(mutating: base), mapping.count) }
        close(fd)
    }

    /// Opens, checks and maps the cache file at `path`. Every failure is one typed rejection,
    /// also counted in `diagnostics`. `markUsed` records the access time used for LRU eviction.
    /// `checkSectionHashes: false` (the runtime) leaves the sections unread until entries are
    /// used; each entry's own hash is checked then.
    public static func open(path: String, expectedKey: CacheKey?, hostFeatures: HostFeatures,
                            diagnostics: CacheDiagnostics? = nil, markUsed: Bool = true,
                            checkSectionHashes: Bool = true) -> Result<CacheFile, CacheRejection> {
        let result = attach(path: path, expectedKey: expectedKey, hostFeatures: hostFeatures, diagnostics: diagnostics,
                            markUsed: markUsed, checkSectionHashes: checkSectionHashes)
        switch result {
        case .success: diagnostics?.recordAttached(path: path)
        case .failure(let rejection): diagnostics?.recordRejectedFile(path: path, rejection)
        }
        return result
    }

    /// Descriptors at or above this are Kiln's own (the strace and report descriptors sit at
    /// 900 and up): below the usual 1024 soft limit, above what programs normally reach.
    public static let firstDescriptor: Int32 = 700

    /// `fd` duplicated to `firstDescriptor` or above (close-on-exec), the original closed; `fd`
    /// itself when no such descriptor is free.
    public static func moveOutOfGuestRange(_ fd: Int32) -> Int32 {
        guard fd < firstDescriptor else { return fd }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, firstDescriptor)
        guard moved >= 0 else { return fd }
        close(fd)
        return moved
    }

    private static func attach(path: String, expectedKey: CacheKey?, hostFeatures: HostFeatures,
                               diagnostics: CacheDiagnostics?, markUsed: Bool, checkSectionHashes: Bool) -> Result<CacheFile, CacheRejection> {
        let opened = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard opened >= 0 else {
            let e = errno
            return .failure(CacheRejection(e == ENOENT ? .missing : .permissions, "\(path): \(errnoDescription(e))"))
        }
        // The descriptor stays open while the file is attached: moved out of the low numbers a
        // guest program allocates from, so its open() results are those of a run without caches.
        let fd = Self.moveOutOfGuestRange(opened)
        var keepOpen = false
        defer { if !keepOpen { close(fd) } }
        if let problem = CacheDirectory.checkOwnership(fd: fd, what: path) { return .failure(problem) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(CacheRejection(.permissions, "\(path): \(errnoDescription(errno))")) }
        let size = Int(st.st_size)
        guard size > 0 else { return .failure(CacheRejection(.truncated, "\(path) is empty")) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            return .failure(CacheRejection(.permissions, "cannot map \(path): \(errnoDescription(errno))"))
        }
        let mapping = UnsafeRawBufferPointer(start: base, count: size)
        switch CacheFileView.attach(mapping, expectedKey: expectedKey, hostFeatures: hostFeatures, checkSectionHashes: checkSectionHashes) {
        case .failure(let rejection):
            munmap(base, size)
            return .failure(CacheRejection(rejection.reason, "\(path): \(rejection.detail)"))
        case .success(let view):
            if markUsed {
                // Explicit times are written even on noatime/relatime mounts.
                var times = [timespec(tv_sec: 0, tv_nsec: utimeNow), timespec(tv_sec: 0, tv_nsec: utimeOmit)]
                _ = futimens(fd, &times)
            }
            keepOpen = true
            return .success(CacheFile(path: path, fd: fd, mapping: mapping, view: view, diagnostics: diagnostics))
        }
    }

    /// The translation for `guestOffset`, if the file has one and it passes its checks against
    /// `guest`. Each entry is checked once; a failed entry stays rejected (the JIT takes over).
    public func lookup(guestOffset: UInt64, guest: GuestRegion) -> CacheEntry? {
        guard let index = view.entryIndex(forGuestOffset: guestOffset) else {
            diagnostics?.recordEntryMiss()
            return nil
        }
        let state = lock.withLock { entryStates[index] }
        if state == 2 || state == 5 { diagnostics?.recordEntryMiss(); return nil }
        switch view.validateEntry(index, guest: guest, checkGuestBytes: state == 0) {
        case .success(let entry):
            if state == 0 { lock.withLock { entryStates[index] = 1 } }
            diagnostics?.recordEntryServed()
            return entry
        case .failure(let rejection):
            lock.withLock { entryStates[index] = CacheFile.rejectedState(rejection) }
            diagnostics?.recordRejectedEntry(path: path, rejection)
            return nil
        }
    }

    /// Maps the code section read-only and executable straight from the file, so processes
    /// share its pages, and the table area read+write right after its last page (the bake
    /// resolved the code's RIP-relative references to that distance). One PROT_NONE
    /// reservation of both is made first, then both are mapped over it with MAP_FIXED, so
    /// nothing else can land between them. Fails with `.permissions` where mappings cannot be
    /// executable (noexec mounts, hardened kernels).
    public func mapCodeAndTables() -> Result<(code: UnsafeRawBufferPointer, tables: UnsafeMutablePointer<UInt64>?), CacheRejection> {
        lock.withLock {
            if let code = executableCode { return .success((code, tables)) }
            let codeLength = view.code.count
            guard codeLength > 0 else { return .success((UnsafeRawBufferPointer(start: nil, count: 0), nil)) }
            let tableOffset = view.tableAreaOffset
            let tableBytes = (Int(view.header.tableSlots) * 8 + CacheFormat.pageSize - 1) / CacheFormat.pageSize * CacheFormat.pageSize
            let total = tableOffset + tableBytes
            guard let base = mmap(nil, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), base != MAP_FAILED else {
                return .failure(CacheRejection(.permissions, "cannot reserve \(total) bytes for \(path): \(errnoDescription(errno))"))
            }
            guard let code = mmap(base, codeLength, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, off_t(view.codeFileOffset)),
                  code == base else {
                let e = errno
                munmap(base, total)
                return .failure(CacheRejection(.permissions, "cannot map code of \(path) executable: \(errnoDescription(e))"))
            }
            if tableBytes > 0 {
                guard let t = mmap(base + tableOffset, tableBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                      t == base + tableOffset else {
                    let e = errno
                    munmap(base, total)
                    return .failure(CacheRejection(.permissions, "cannot map the table area of \(path): \(errnoDescription(e))"))
                }
                // Small pages, also where the host's THP mode is "always": a huge page here
                // is allocated and cleared whole by the first cold entry whose table lies in
                // it, and a fresh 2 MiB cost ~0.5 ms per baked python3.11 run on a VM (host
                // memory behind new guest pages faults in too); the ~150 pages a run touches
                // cost less (the hot chunks' are populated in one call each, see populateTables).
                _ = madvise(t, tableBytes, MADV_NOHUGEPAGE)
                tables = t.bindMemory(to: UInt64.self, capacity: tableBytes / 8)
            }
            reservation = UnsafeMutableRawBufferPointer(start: base, count: total)
            let mapped = UnsafeRawBufferPointer(start: base, count: codeLength)
            executableCode = mapped
            return .success((mapped, tables))
        }
    }

    /// The host code of the entry for `guestOffset`, ready to run with the region loaded at
    /// `regionBase`: the entry is checked against `guest` on first use and its table slots are
    /// filled then (region base, link slots pointing at their stubs, helpers from `helper`).
    /// With `chunks`, a hot entry's first lookup prepares its whole chunk (`prepareChunk`),
    /// and `register` is given the guest address and host code of each entry of the chunk
    /// flagged `indirectTarget`, for the caller's indirect-branch table.
    /// Requires `mapCodeAndTables` to have succeeded.
    public func prepare(guestOffset: UInt64, guest: GuestRegion, regionBase: UInt64, chunks: Bool = false,
                        helper: (UInt64) -> UInt64 = { _ in 0 },
                        register: (_ pc: UInt64, _ code: UnsafeRawPointer) -> Void = { _, _ in }) -> CacheLookup {
        return lock.withLock {
            guard let index = view.entryIndex(forGuestOffset: guestOffset) else { return .notInCache }
            guard let code = executableCode?.baseAddress else { return .notInCache }
            if chunks, entryStates[index] == 0, let chunk = hotChunk(of: index), !hotChunkPrepared[chunk] {
                prepareChunk(chunk, guest: guest, regionBase: regionBase, code: code, helper: helper, register: register)
            }
            switch entryStates[index] {
            case 2: return .rejected(CacheRejection(.corruptSection, "entry \(index) failed its checks earlier"))
            case 5: return .rejected(CacheRejection(.guestBytesChanged, "entry \(index)'s guest bytes changed"))
            case 3: return .ready(code + Int(view.codeOffset(ofEntry: index)), index, view.guestLength(ofEntry: index))
            default: break
            }
            // The code is checked through the executable mapping: its pages fault once, for
            // the check and for running, not a second time through the read-only mapping.
            switch view.checkEntry(index, guest: guest, checkGuestBytes: true, code: executableCode) {
            case .failure(let rejection):
                entryStates[index] = CacheFile.rejectedState(rejection)
                diagnostics?.recordRejectedEntry(path: path, rejection)
                return .rejected(rejection)
            case .success(let entry):
                fillTable(of: entry, code: code, regionBase: regionBase, helper: helper)
                entryStates[index] = 3
                diagnostics?.recordEntryServed()
                return .ready(code + Int(entry.codeOffset), index, entry.guestLength)
            }
        }
    }

    /// Number of hot entries prepared together: about 150 KB of code, so a run that uses a
    /// few of a broad codemap's hot entries prepares few more than it needs.
    public static let hotChunkSize = 512

    /// The hot chunk of entry `index`, or nil for a cold entry.
    @inline(__always) private func hotChunk(of index: Int) -> Int? {
        index < view.hotEntryCount ? index / CacheFile.hotChunkSize : nil
    }

    /// Prepares a chunk of hot entries (those the bake placed first, from codemaps) inside
    /// `guest` at once: they are checked in code order, reading a dense stretch of the file,
    /// and their link slots point straight at each other and at entries already ready, so the
    /// run they were recorded from flows through them without returning to the dispatcher for
    /// each first use and each first-taken exit. Links into a chunk not yet prepared are
    /// pointed at their target when it is. Entries flagged `indirectTarget` go to `register`,
    /// so BR/BLR to them stay in translated code too (each such first branch returned to the
    /// dispatcher before: ~1,600 per baked python3.11 start-up). Entries outside `guest`
    /// (another mapping of the file) are left for their own lookups. Caller holds `lock`.
    private func prepareChunk(_ chunk: Int, guest: GuestRegion, regionBase: UInt64, code: UnsafeRawPointer,
                              helper: (UInt64) -> UInt64, register: (UInt64, UnsafeRawPointer) -> Void) {
        hotChunkPrepared[chunk] = true
        var checked: [(index: Int, entry: CheckedCacheEntry)] = []
        checked.reserveCapacity(CacheFile.hotChunkSize)
        for index in (chunk * CacheFile.hotChunkSize)..<min((chunk + 1) * CacheFile.hotChunkSize, view.hotEntryCount) {
            guard entryStates[index] == 0 else { continue }
            let offset = view.guestOffset(ofEntry: index)
            guard offset >= guest.offset, offset - guest.offset < UInt64(guest.bytes.count) else { continue }
            switch view.checkEntry(index, guest: guest, checkGuestBytes: true, code: executableCode) {
            case .failure(let rejection):
                entryStates[index] = CacheFile.rejectedState(rejection)
                diagnostics?.recordRejectedEntry(path: path, rejection)
            case .success(let entry):
                entryStates[index] = CacheFile.checkedInSweep
                checked.append((index, entry))
            }
        }
        populateTables(of: checked.lazy.map(\.entry))
        // Tables only once all are checked: a link may then go straight to any of them.
        for (_, entry) in checked { fillTable(of: entry, code: code, regionBase: regionBase, helper: helper) }
        for (index, entry) in checked {
            entryStates[index] = 3
            if entry.flags.contains(.indirectTarget) { register(regionBase &+ entry.guestOffset, code + Int(entry.codeOffset)) }
        }
        chunkPreparedCount += checked.count
        let waiting = pendingLinks[chunk]
        pendingLinks[chunk] = []
        for (slot, target) in waiting where entryStates[target] == 3 {
            slot.pointee = UInt64(UInt(bitPattern: code)) &+ view.codeOffset(ofEntry: target)
        }
    }

    /// Maps the pages of the chunk's tables in one call before they are filled. The bake
    /// placed a chunk's tables together, so they span a few pages that would otherwise fault
    /// one by one (~140 faults for python3.11's 44 chunks). Allocating and clearing a page
    /// still costs ~3 us on this VM; the call saves the fault entries (44 calls took 0.4-0.55
    /// ms in all). Best effort: kernels before 5.14 refuse it and the pages fault as before.
    /// Caller holds `lock`.
    private func populateTables<S: Sequence>(of entries: S) where S.Element == CheckedCacheEntry {
        guard let tables else { return }
        var low = UInt64.max, high: UInt64 = 0
        for entry in entries where entry.tableSlots > 0 {
            low = min(low, UInt64(entry.tableOffset))
            high = max(high, UInt64(entry.tableOffset) + UInt64(entry.tableSlots))
        }
        guard low < high else { return }
        let page = UInt64(CacheFormat.pageSize)
        let start = (UInt(bitPattern: tables) + UInt(low * 8)) & ~UInt(page - 1)
        let end = UInt(bitPattern: tables) + UInt(high * 8)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), CacheFile.populateWrite)
    }

    /// MADV_POPULATE_WRITE (Linux 5.14), which Glibc's headers may not name.
    private static let populateWrite: Int32 = 23

    /// State of an entry checked by `prepareChunk` whose table is being filled: a link may
    /// point at it, since its table is filled before any code runs.
    private static let checkedInSweep: UInt8 = 4

    /// The state that keeps a rejected entry's reason for its later lookups (an entry
    /// `prepareChunk` rejected is first looked up after that).
    private static func rejectedState(_ rejection: CacheRejection) -> UInt8 {
        rejection.reason == .guestBytesChanged ? 5 : 2
    }

    /// Fills the table slots of a checked entry from its initialisers. Caller holds `lock`.
    private func fillTable(of entry: CheckedCacheEntry, code: UnsafeRawPointer, regionBase: UInt64, helper: (UInt64) -> UInt64) {
        guard entry.tableSlots > 0, let tables else { return }
        let table = tables + Int(entry.tableOffset)
        let entryCode = UInt64(UInt(bitPattern: code)) &+ entry.codeOffset
        for record in Int(entry.slotStart)..<(Int(entry.slotStart) + Int(entry.slotRecords)) {
            let initializer = view.slotInitializer(record)
            let value: UInt64
            switch initializer.kind {
            case .regionAddress: value = regionBase &+ initializer.target
            case .helper: value = helper(initializer.target)
            case .link:
                if let ready = readyCode(record: record, code: code) {
                    value = ready
                } else {
                    value = entryCode &+ initializer.addend
                    awaitChunk(of: record, slot: table + Int(initializer.slot))
                }
            }
            table[Int(initializer.slot)] = value
        }
    }

    /// Points every link slot of every entry in use back at its stub and returns the entries to
    /// unchecked, for a region whose mapping or bytes changed: cached code then leaves to the
    /// dispatcher at its next exit instead of running on into code that may be stale, and an
    /// entry used again is checked against the guest bytes again.
    public func unlinkAll() {
        lock.withLock {
            guard let code = executableCode?.baseAddress, let tables else { return }
            for chunk in hotChunkPrepared.indices { hotChunkPrepared[chunk] = false }
            for chunk in pendingLinks.indices { pendingLinks[chunk] = [] }
            for index in 0..<view.entryCount where entryStates[index] == 3 {
                entryStates[index] = 0
                guard case .success(let entry) = view.checkEntry(index, guest: nil, checkGuestBytes: false),
                      entry.tableSlots > 0 else { continue }
                let table = tables + Int(entry.tableOffset)
                let entryCode = UInt64(UInt(bitPattern: code)) &+ entry.codeOffset
                for record in Int(entry.slotStart)..<(Int(entry.slotStart) + Int(entry.slotRecords)) {
                    let initializer = view.slotInitializer(record)
                    if initializer.kind == .link { table[Int(initializer.slot)] = entryCode &+ initializer.addend }
                }
            }
        }
    }

    /// Notes link `slot` (of link record `record`), whose target is not ready, for the target's
    /// hot chunk if that is not prepared yet: preparing it will point the slot at the target.
    /// Caller holds `lock`.
    private func awaitChunk(of record: Int, slot: UnsafeMutablePointer<UInt64>) {
        guard let target = view.linkTargetEntry(record), let chunk = hotChunk(of: target), entryStates[target] == 0,
              !hotChunkPrepared[chunk] else { return }
        pendingLinks[chunk].append((slot, target))
    }

    /// Eager chaining: the host code of the entry link record `record` goes to when it is
    /// already checked and its table filled (state 3, or being filled by `prepareChunk`), so the link slot
    /// can point straight at it instead of at its stub; nil otherwise (the exit then returns
    /// to the dispatcher once, which prepares the target and chains the slot). The bake
    /// resolved the target's index into the record. Caller holds `lock`.
    private func readyCode(record: Int, code: UnsafeRawPointer) -> UInt64? {
        // (See awaitChunk for a target not ready yet.)
        // The record's target entry is as the bake wrote it: the entry hash, checked before any
        // of the entry's slot records is read, covers it.
        guard let index = view.linkTargetEntry(record), entryStates[index] == 3 || entryStates[index] == CacheFile.checkedInSweep else { return nil }
        return UInt64(UInt(bitPattern: code)) &+ view.codeOffset(ofEntry: index)
    }

    /// Around a fork, the forking thread holds the file's lock, so no other thread is half-way
    /// through changing its state at the fork; it releases it in the parent and in the child
    /// (whose only thread it is) after.
    public func holdForFork() { lock.acquire() }
    public func releaseAfterFork() { lock.release() }

    /// The table-area slot index of a host address, when it lies inside this file's tables.
    public func tableSlot(at address: UInt) -> Int? {
        guard let tables else { return nil }
        let start = UInt(bitPattern: tables)
        let count = UInt(view.header.tableSlots)
        guard address >= start, address < start + count * 8, (address - start) % 8 == 0 else { return nil }
        return Int((address - start) / 8)
    }

    /// The guest offset of the entry whose code holds host address `address`. Records are in
    /// code order, so a binary search by code offset finds it; the answer counts only if that
    /// entry passed its checks (code runs only from such entries), so a damaged record can make
    /// it nil, never wrong.
    public func entry(containingHostAddress address: UInt) -> UInt64? {
        guard let base = executableCode?.baseAddress, address >= UInt(bitPattern: base) else { return nil }
        let offset = UInt64(address - UInt(bitPattern: base))
        var low = 0, high = view.entryCount
        while low < high {
            let mid = (low + high) / 2
            if view.codeOffset(ofEntry: mid) <= offset { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let index = low - 1
        let checked = lock.withLock { entryStates[index] == 3 || entryStates[index] == CacheFile.checkedInSweep }
        guard checked, case .success(let entry) = view.checkEntry(index, guest: nil, checkGuestBytes: false),
              offset < entry.codeOffset + UInt64(entry.codeLength) else { return nil }
        return entry.guestOffset
    }

    /// Whether `address` lies in this file's executable code.
    public func containsCode(_ address: UInt) -> Bool {
        guard let code = executableCode, let base = code.baseAddress else { return false }
        let start = UInt(bitPattern: base)
        return address >= start && address < start + UInt(code.count)
    }
}

/// What `CacheFile.prepare` found for a guest offset.
public enum CacheLookup {
    /// Host code to run, the entry's index and its guest length.
    case ready(UnsafeRawPointer, Int, UInt32)
    /// No entry for the offset (or one rejected earlier).
    case notInCache
    /// The entry failed its checks just now (typically `guest-bytes-changed`).
    case rejected(CacheRejection)
}
