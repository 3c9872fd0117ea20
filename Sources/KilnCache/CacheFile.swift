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
    private let diagnostics: CacheDiagnostics?
    /// Per entry: 0 unchecked, 1 valid, 2 rejected. Guarded by `lock`.
    private var entryStates: [UInt8]
    private let lock = Lock()

    private init(path: String, fd: Int32, mapping: UnsafeRawBufferPointer, view: CacheFileView, diagnostics: CacheDiagnostics?) {
        self.path = path
        self.fd = fd
        self.mapping = mapping
        self.view = view
        self.diagnostics = diagnostics
        self.entryStates = [UInt8](repeating: 0, count: view.entryCount)
    }

    deinit {
        if let code = executableCode, let base = code.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), code.count) }
        if let base = mapping.baseAddress, mapping.count > 0 { munmap(UnsafeMutableRawPointer(mutating: base), mapping.count) }
        close(fd)
    }

    /// Opens, checks and maps the cache file at `path`. Every failure is one typed rejection,
    /// also counted in `diagnostics`. `markUsed` records the access time used for LRU eviction.
    public static func open(path: String, expectedKey: CacheKey?, hostFeatures: HostFeatures,
                            diagnostics: CacheDiagnostics? = nil, markUsed: Bool = true) -> Result<CacheFile, CacheRejection> {
        let result = attach(path: path, expectedKey: expectedKey, hostFeatures: hostFeatures, diagnostics: diagnostics, markUsed: markUsed)
        switch result {
        case .success: diagnostics?.recordAttached(path: path)
        case .failure(let rejection): diagnostics?.recordRejectedFile(path: path, rejection)
        }
        return result
    }

    private static func attach(path: String, expectedKey: CacheKey?, hostFeatures: HostFeatures,
                               diagnostics: CacheDiagnostics?, markUsed: Bool) -> Result<CacheFile, CacheRejection> {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let e = errno
            return .failure(CacheRejection(e == ENOENT ? .missing : .permissions, "\(path): \(errnoDescription(e))"))
        }
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
        switch CacheFileView.attach(mapping, expectedKey: expectedKey, hostFeatures: hostFeatures) {
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
        if state == 2 { diagnostics?.recordEntryMiss(); return nil }
        switch view.validateEntry(index, guest: guest, checkGuestBytes: state == 0) {
        case .success(let entry):
            if state == 0 { lock.withLock { entryStates[index] = 1 } }
            diagnostics?.recordEntryServed()
            return entry
        case .failure(let rejection):
            lock.withLock { entryStates[index] = 2 }
            diagnostics?.recordRejectedEntry(path: path, rejection)
            return nil
        }
    }

    /// Maps the code section read-only and executable straight from the file, so processes
    /// share its pages. Fails with `.permissions` where mappings cannot be executable (noexec
    /// mounts, hardened kernels).
    public func mapCodeExecutable() -> Result<UnsafeRawBufferPointer, CacheRejection> {
        lock.withLock {
            if let code = executableCode { return .success(code) }
            guard view.code.count > 0 else { return .success(UnsafeRawBufferPointer(start: nil, count: 0)) }
            guard let base = mmap(nil, view.code.count, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, off_t(view.codeFileOffset)),
                  base != MAP_FAILED else {
                return .failure(CacheRejection(.permissions, "cannot map code of \(path) executable: \(errnoDescription(errno))"))
            }
            let code = UnsafeRawBufferPointer(start: base, count: view.code.count)
            executableCode = code
            return .success(code)
        }
    }
}
