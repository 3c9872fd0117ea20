#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// What a fetch is doing, for progress display.
public enum RootfsProgress: Equatable {
    case updatingLists
    case resolved(total: Int, missing: Int)
    case downloaded(name: String, index: Int, total: Int)
    case extracted(name: String, index: Int, total: Int)
    case upToDate(packages: Int)
    case finished(added: Int, total: Int)
}

/// Summary of a completed fetch.
public struct RootfsFetchResult: Equatable {
    public var directory: String
    /// Packages extracted by this fetch (empty when the rootfs was already up to date).
    public var added: [ResolvedPackage]
    public var manifest: RootfsManifest
}

/// Builds or extends an arm64 Debian root filesystem: `kiln rootfs fetch`.
public struct RootfsFetcher {
    /// Packages every Kiln rootfs has: the C and C++ runtimes and a static shell toolbox.
    public static let defaultPackages = ["busybox-static", "libc6", "libstdc++6"]

    public var directory: String
    public var sources: DebianSources
    /// Forces `apt-get update` even when the lists are fresh.
    public var refreshLists = false
    var command: HostCommand

    /// - Parameters:
    ///   - directory: the rootfs directory (created when missing).
    ///   - sources: the Debian archives to use.
    ///   - toolSearchPath: where to find apt-get and dpkg-deb (default: `PATH`).
    public init(directory: String, sources: DebianSources, toolSearchPath: [String]? = nil) {
        self.directory = directory.hasPrefix("/") ? directory
            : FileManager.default.currentDirectoryPath + "/" + directory
        self.sources = sources
        self.command = HostCommand(searchPath: toolSearchPath)
    }

    private var aptDirectory: String { directory + "/.kiln-apt" }

    /// Makes the rootfs hold `packages`, the defaults, and everything fetched before, with their
    /// full dependency closure. A repeated fetch with nothing new is a quick no-op.
    public func fetch(_ packages: [String], progress: (RootfsProgress) -> Void = { _ in }) throws -> RootfsFetchResult {
        for tool in ["apt-get", "dpkg-deb"] where command.locate(tool) == nil {
            throw RootfsError.toolMissing(tool: tool, hint: "kiln rootfs fetch needs Debian's apt and dpkg (apt-get install apt dpkg)")
        }
        try ensureWritable()
        let lock = try acquireLock()
        defer { close(lock) }

        let apt = IsolatedApt(stateDirectory: aptDirectory, command: command)
        var listsUpdated = false
        if try apt.prepare(sources: sources) || refreshLists || apt.listsAreStale() {
            // apt hangs rather than failing when the disk fills during an update.
            try requireFreeSpace(Self.listsSpace)
            progress(.updatingLists)
            try apt.update()
            listsUpdated = true
        }
        do {
            return try fetchLocked(packages, apt: apt, progress: progress)
        } catch RootfsError.unknownPackages(_) where !listsUpdated {
            // The name may be newer than our lists: refresh once before calling it unknown.
        } catch RootfsError.toolFailed(command: "apt-get download", status: _, message: _) where !listsUpdated {
            // Stale lists name versions the mirror no longer carries: refresh and resolve again.
        }
        try requireFreeSpace(Self.listsSpace)
        progress(.updatingLists)
        try apt.update()
        return try fetchLocked(packages, apt: apt, progress: progress)
    }

    /// Room apt needs to download and unpack the bookworm arm64 package lists.
    static let listsSpace: UInt64 = 96 << 20

    /// Fails with `diskFull` unless the rootfs's file system has `bytes` available.
    private func requireFreeSpace(_ bytes: UInt64) throws {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return }
        let available = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        if available < bytes {
            throw RootfsError.diskFull(path: directory, needed: bytes, available: available)
        }
    }

    /// One resolve-download-extract pass with the lock held and the lists as they are.
    private func fetchLocked(_ packages: [String], apt: IsolatedApt, progress: (RootfsProgress) -> Void) throws -> RootfsFetchResult {
        let fm = FileManager.default
        let previous = try RootfsManifest.load(fromRootfs: directory)
        let requested = Array(Set(Self.defaultPackages + (previous?.requested ?? []) + packages)).sorted()
        let closure = try apt.resolve(requested)
        let wasIncomplete = fm.fileExists(atPath: directory + "/" + RootfsManifest.incompleteMarker)
        let have = Set((previous?.packages ?? []).map {
            ResolvedPackage(name: $0.name, version: $0.version, architecture: $0.architecture)
        })
        let missing = closure.filter { !have.contains($0) }
        progress(.resolved(total: closure.count, missing: missing.count))

        if missing.isEmpty, !wasIncomplete, let previous, previous.requested == requested {
            progress(.upToDate(packages: previous.packages.count))
            return RootfsFetchResult(directory: directory, added: [], manifest: previous)
        }

        let debDirectory = aptDirectory + "/debs"
        try? fm.removeItem(atPath: debDirectory)
        try fm.createDirectory(atPath: debDirectory, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: debDirectory) }
        let planned = missing.isEmpty ? [] : try apt.plan(missing)
        let expectedDigests = Dictionary(planned.map { ($0.fileName, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        // Unpacked packages take about three times their compressed size.
        try requireFreeSpace(planned.reduce(0) { $0 + $1.size } * 4 + (16 << 20))
        if !missing.isEmpty {
            var fetched = 0
            try apt.download(missing, into: debDirectory) { name in
                fetched += 1
                progress(.downloaded(name: name, index: fetched, total: missing.count))
            }
        }

        // From here on the tree changes: mark it incomplete until the manifest is written.
        guard fm.createFile(atPath: directory + "/" + RootfsManifest.incompleteMarker, contents: Data()) else {
            throw RootfsError.directoryNotWritable(path: directory, reason: "cannot create the in-progress marker")
        }
        let extractor = DebExtractor(rootfs: directory, command: command)
        try extractor.prepareLayout()
        var recorded = Dictionary(uniqueKeysWithValues: (previous?.packages ?? []).map { ($0.name, $0) })
        for (index, package) in missing.enumerated() {
            let deb = try locateDeb(package, in: debDirectory)
            let digest = try Self.sha256(ofFile: deb)
            let fileName = HostPath.lastComponent(deb)
            if let expected = expectedDigests[fileName], expected != digest {
                throw RootfsError.toolFailed(command: "verify \(fileName)", status: 0,
                                             message: "SHA-256 \(digest) does not match the signed index's \(expected)")
            }
            try extractor.extract(deb: deb, staging: aptDirectory + "/staging")
            recorded[package.name] = RootfsManifest.Package(
                name: package.name, version: package.version, architecture: package.architecture, sha256: digest)
            progress(.extracted(name: package.name, index: index + 1, total: missing.count))
        }

        let manifest = RootfsManifest(
            suite: sources.suite, requested: requested,
            packages: recorded.values.sorted { $0.name < $1.name })
        try writeAtomically(try manifest.encoded(), to: directory + "/" + RootfsManifest.fileName)
        try? fm.removeItem(atPath: directory + "/" + RootfsManifest.incompleteMarker)
        progress(.finished(added: missing.count, total: manifest.packages.count))
        return RootfsFetchResult(directory: directory, added: missing, manifest: manifest)
    }

    // MARK: - Steps

    private func ensureWritable() throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RootfsError.directoryNotWritable(path: directory, reason: Self.reason(error))
        }
        let probe = directory + "/.kiln-write-test"
        let fd = open(probe, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else {
            throw RootfsError.directoryNotWritable(path: directory, reason: String(cString: strerror(errno)))
        }
        close(fd)
        unlink(probe)
    }

    private func acquireLock() throws -> Int32 {
        try FileManager.default.createDirectory(atPath: aptDirectory, withIntermediateDirectories: true)
        let fd = open(aptDirectory + "/lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RootfsError.directoryNotWritable(path: aptDirectory, reason: String(cString: strerror(errno)))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw RootfsError.busy(path: directory)
        }
        return fd
    }

    /// apt-get download names files `name_version_arch.deb`, with ':' in epochs as "%3a".
    private func locateDeb(_ package: ResolvedPackage, in directory: String) throws -> String {
        let version = package.version.replacing(":", with: "%3a")
        let path = "\(directory)/\(package.name)_\(version)_\(package.architecture).deb"
        guard FileManager.default.fileExists(atPath: path) else {
            throw RootfsError.toolFailed(command: "locate downloaded package", status: 0,
                                         message: "expected \(path) after download, but it is missing")
        }
        return path
    }

    /// Hex SHA-256 of a file's contents, read in chunks.
    static func sha256(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RootfsError.toolFailed(command: "read \(path)", status: errno, message: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var hasher = SHA256()
        let error = Descriptor.readChunks(fd, size: 1 << 20) { chunk in chunk.withUnsafeBytes { hasher.update($0) } }
        guard error == 0 else { throw RootfsError.toolFailed(command: "read \(path)", status: error, message: String(cString: strerror(error))) }
        return SHA256.hexString(hasher.finalize())
    }

    /// Temporary file in the same directory, fsync, rename: readers see the old or the new file.
    private func writeAtomically(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp.\(getpid())"
        let fd = open(temporary, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RootfsError.directoryNotWritable(path: path, reason: String(cString: strerror(errno))) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let code = errno
        guard written == data.count, fsync(fd) == 0 else {
            close(fd)
            unlink(temporary)
            if code == ENOSPC { throw RootfsError.diskFull(path: path) }
            throw RootfsError.directoryNotWritable(path: path, reason: String(cString: strerror(code)))
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            throw RootfsError.directoryNotWritable(path: path, reason: String(cString: strerror(errno)))
        }
    }

    private static func reason(_ error: Error) -> String {
        if let cocoa = error as? CocoaError, let posix = cocoa.underlying as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return "\(error)"
    }
}
