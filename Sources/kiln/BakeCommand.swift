import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnAOT
import KilnCache
import KilnHost
import KilnRootfs
import KilnRuntime

/// `kiln bake`: translates programs and their libraries ahead of time into cache files.
struct BakeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bake",
        abstract: "Translate programs and the libraries they load ahead of time.",
        discussion: """
            For each PROGRAM (a name searched in the rootfs's bin directories, a guest path, or \
            a host file), bakes one cache file per code region: the program, its interpreter and \
            every DT_NEEDED library as ld.so would find them in the rootfs. Entries come from \
            static seeds (entry point, symbols, init/fini, PLT, .eh_frame, call targets, code \
            pointers, then direct branches followed) and from the codemaps real runs recorded. \
            With --codemaps and no PROGRAM, bakes every region the codemaps name.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Guest root filesystem.", discussion: "Default: $KILN_ROOTFS, else the directory `kiln rootfs fetch` fills."))
    var rootfs: String?

    @Option(name: .long, help: "Translation threads (default: all cores).")
    var jobs: Int?

    @Option(name: .long, help: "Seed sources: static, codemaps or both (comma-separated).")
    var seeds: String = "static,codemaps"

    @Flag(name: .long, help: "Bake every region that recorded codemaps name (alone, or in addition to PROGRAMs).")
    var codemaps = false

    @Flag(name: .long, help: "Print the summary as JSON on stdout.")
    var json = false

    @Option(name: .customLong("cache-dir"), help: "Cache directory (default: $KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln or ~/.cache/kiln).")
    var cacheDirectory: String?

    @Argument(help: "Programs to bake.")
    var programs: [String] = []

    func run() throws {
        guard !programs.isEmpty || codemaps else { throw ValidationError("Name a PROGRAM to bake, or pass --codemaps.") }
        var sources: BakeSeeds = []
        for name in seeds.split(separator: ",") {
            switch name {
            case "static": sources.insert(.staticSeeds)
            case "codemaps": sources.insert(.codemaps)
            default: throw ValidationError("Unknown seed source '\(name)' (static, codemaps).")
            }
        }
        let environment = ProcessInfo.processInfo.environment
        let directory: CacheDirectory
        switch cacheDirectory.map({ CacheDirectory.open(path: $0, create: true) }) ?? CacheDirectory.open(environment: environment) {
        case .success(let d): directory = d
        case .failure(let rejection): throw CacheCommandError(rejection.description)
        }
        let rootfsDirectory = rootfs ?? environment["KILN_ROOTFS"] ?? {
            let fallback = RootfsLocation.defaultDirectory()
            return FileManager.default.fileExists(atPath: fallback) ? fallback : ""
        }()

        // Codemaps recorded so far, merged (the per-process files fold into merged.kcodemap).
        var recorded: Codemap.Offsets = [:]
        var recordedPaths: Codemap.Paths = [:]
        if sources.contains(.codemaps) || codemaps, case .success(let maps) = CacheDirectory.open(path: directory.codemapDirectory, create: true) {
            _ = try? CodemapMerge.mergeDirectory(maps)
            let merged = CodemapMerge.mergeContents(paths: [maps.path + "/merged." + Codemap.fileExtension])
            recorded = merged.offsets
            recordedPaths = merged.paths
        }

        var regions: [(hostPath: String, role: String)] = []
        func add(_ hostPath: String, _ role: String) {
            if !regions.contains(where: { $0.hostPath == hostPath }) { regions.append((hostPath, role)) }
        }
        let closure = LibraryClosure(rootfs: rootfsDirectory.isEmpty ? "/" : rootfsDirectory)
        for program in programs {
            for object in try closureObjects(of: program, closure: closure, rootfs: rootfsDirectory) { add(object.hostPath, object.role) }
        }
        if codemaps {
            for region in recordedPaths.keys.sorted() {
                if let path = recordedPaths[region], FileManager.default.fileExists(atPath: path) { add(path, "codemap") }
            }
        }

        let store = CacheStore(directory: directory)
        let baker = RegionBaker(store: store, jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount, seeds: sources)
        let progress = ProgressBar(enabled: !json && isatty(STDERR_FILENO) == 1)
        var results: [BakeRegionResult] = []
        let started = Date()
        let count = regions.count
        for (index, region) in regions.enumerated() {
            let name = HostPath.lastComponent(region.hostPath)
            let identity = try? store.identityIndex.identity(ofFileAt: region.hostPath)
            let offsets = identity.flatMap { recorded[$0.contentHash] } ?? []
            do {
                let result = try baker.bake(hostPath: region.hostPath, recorded: offsets) { done, total in
                    progress.update("[\(index + 1)/\(count)] \(name)", done: done, total: total)
                }
                progress.clear()
                results.append(result)
                if !json { print(Self.summaryLine(result)) }
            } catch {
                progress.clear()
                throw CacheCommandError("cannot bake \(region.hostPath): \(error)")
            }
        }
        let total = Date().timeIntervalSince(started)
        if json {
            printJSON(["regions": results.map(Self.jsonObject), "seconds": total, "jobs": baker.jobs])
        } else {
            let entries = results.reduce(0) { $0 + $1.entries }, bytes = results.reduce(0) { $0 + $1.cacheBytes }
            print("baked \(results.count) regions: \(entries) entries, \(bytes) cache bytes in \(String(printf: "%.2f", total)) s")
        }
    }

    /// The objects to bake for one PROGRAM argument.
    func closureObjects(of program: String, closure: LibraryClosure, rootfs: String) throws -> [(hostPath: String, role: String)] {
        var guestPath: String?
        if let inside = Self.guestPath(ofHostPath: program, rootfs: rootfs), closure.resolve(inside) != nil {
            // A host path inside the rootfs (R/usr/bin/X) is the guest's /usr/bin/X: baked
            // with its closure, as the guest path would be.
            guestPath = inside
        } else if program.hasPrefix("/") {
            if closure.resolve(program) != nil, !rootfs.isEmpty { guestPath = program }
        } else if !program.contains("/") {
            guestPath = ProgramLocator.defaultSearchPath.split(separator: ":").map { "\($0)/\(program)" }.first { closure.resolve($0) != nil }
        }
        if let guestPath {
            return try closure.closure(ofProgram: guestPath).map { ($0.hostPath, $0.role.rawValue) }
        }
        // A host file outside the rootfs (a static test program): baked on its own.
        guard FileManager.default.fileExists(atPath: program) else {
            throw CacheCommandError("\(program) not found in the rootfs \(rootfs.isEmpty ? "(none)" : rootfs) or on the host")
        }
        return [(HostPath.standardized(program).hasPrefix("/") ? program : FileManager.default.currentDirectoryPath + "/" + program, "program")]
    }

    /// The guest path of `path` when it names a file inside `rootfs` (relative paths are
    /// taken from the current directory; the rootfs may be given through a symbolic link).
    static func guestPath(ofHostPath path: String, rootfs: String) -> String? {
        guard !rootfs.isEmpty, path.contains("/") else { return nil }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let standardized = HostPath.standardized(absolute)
        var roots = [HostPath.standardized(rootfs)]
        if let real = realpath(rootfs, nil) {
            roots.append(String(cString: real))
            free(real)
        }
        for root in roots where root != "/" && standardized.hasPrefix(root + "/") {
            return String(standardized.dropFirst(root.count))
        }
        return nil
    }

    static func summaryLine(_ r: BakeRegionResult) -> String {
        let ratio = r.guestBytes == 0 ? 0 : Double(r.cacheBytes) / Double(r.guestBytes)
        return "\(r.hostPath): \(r.entries) entries (static \(r.staticEntries), codemap \(r.codemapEntries)"
            + (r.skipped > 0 ? ", \(r.skipped) left to the JIT" : "") + "), "
            + "\(r.guestBytes) of \(r.regionCodeBytes) guest bytes, \(r.cacheBytes) cache bytes (\(String(printf: "%.1f", ratio)) per guest byte), "
            + String(printf: "%.2f s", r.seconds)
    }

    static func jsonObject(_ r: BakeRegionResult) -> [String: Any] {
        ["path": r.hostPath, "identity": r.identity.contentHash.hex, "cacheFile": r.cachePath,
         "entries": r.entries, "staticEntries": r.staticEntries, "codemapEntries": r.codemapEntries, "skipped": r.skipped,
         "guestBytes": r.guestBytes, "regionCodeBytes": r.regionCodeBytes, "cacheBytes": r.cacheBytes, "seconds": r.seconds]
    }
}

/// A one-line progress bar on stderr (only on a terminal).
final class ProgressBar: @unchecked Sendable {
    let enabled: Bool
    private let lock = Lock()
    private var lastDraw = Date.distantPast

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ label: String, done: Int, total: Int) {
        guard enabled else { return }
        lock.withLock {
            let now = Date()
            guard done == total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 30
            let filled = total == 0 ? width : width * done / total
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            Descriptor.writeError("\r\u{1B}[K\(label) [\(bar)] \(done)/\(total)")
        }
    }

    func clear() {
        guard enabled else { return }
        Descriptor.writeError("\r\u{1B}[K")
    }
}
