import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnCache
import KilnELF
import KilnHost
import KilnTranslator

/// `kiln cache`: inspect and maintain the translation cache directory.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Inspect and maintain translation caches.",
        subcommands: [Key.self, List.self, Stats.self, Verify.self, Import.self, GC.self, Clear.self, Hash.self, MergeCodemaps.self]
    )
}

/// Options naming the cache directory.
struct CacheDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("cache-dir"), help: "Cache directory (default: $KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln or ~/.cache/kiln).")
    var cacheDirectory: String?

    /// The checked directory; fails with the rejection's text.
    func open(create: Bool) throws -> CacheDirectory {
        let result: Result<CacheDirectory, CacheRejection>
        if let cacheDirectory {
            result = CacheDirectory.open(path: cacheDirectory, create: create)
        } else if create {
            result = CacheDirectory.open(environment: ProcessInfo.processInfo.environment)
        } else {
            guard let path = CacheDirectory.defaultPath(environment: ProcessInfo.processInfo.environment) else {
                throw ValidationError("no cache directory: set KILN_CACHE_DIR or HOME")
            }
            result = CacheDirectory.open(path: path, create: false)
        }
        switch result {
        case .success(let directory): return directory
        case .failure(let rejection): throw CacheCommandError(rejection.description)
        }
    }
}

/// Options that make up the translation configuration.
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "Optimisation level.")
    var optLevel: UInt8 = TranslationOptions().optimizationLevel

    @Option(help: "Self-modifying-code mode: \(SMCMode.allCases.map(\.name).joined(separator: ", ")).")
    var smc: String = TranslationOptions().smcMode.name

    @Option(help: "Memory-model mode: \(MemoryModelMode.allCases.map(\.name).joined(separator: ", ")).")
    var memoryModel: String = TranslationOptions().memoryModel.name

    @Option(help: "Host features the backend uses: 'runtime' (what kiln run and kiln bake use on this host), 'detected' (every feature this host has) or a comma-separated list of /proc/cpuinfo flag names.")
    var hostFeatures: String = "runtime"

    @Option(help: "Guest AT_HWCAP value.")
    var hwcap: UInt64 = GuestFeatures.current.hwcap

    func configuration() throws -> TranslationConfiguration {
        guard let smcMode = SMCMode(name: smc) else { throw ValidationError("unknown SMC mode \(smc)") }
        guard let memory = MemoryModelMode.allCases.first(where: { $0.name == memoryModel }) else {
            throw ValidationError("unknown memory model \(memoryModel)")
        }
        let features: HostFeatures
        if hostFeatures == "runtime" {
            features = Translator().configuration.hostFeatures
        } else if hostFeatures == "detected" {
            features = HostFeatures.detect()
        } else {
            let names = hostFeatures.split(separator: ",").map { String($0) }
            guard let parsed = HostFeatures(names: names) else { throw ValidationError("unknown host feature in \(hostFeatures)") }
            features = parsed
        }
        return TranslationConfiguration(hostFeatures: features, guestFeatures: GuestFeatures(hwcap: hwcap),
                                        options: TranslationOptions(optimizationLevel: optLevel, smcMode: smcMode, memoryModel: memory))
    }
}

struct CacheCommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints `object` (dictionaries, arrays, strings, Ints, Doubles, Bools) as sorted, pretty JSON.
/// Keys sort by code point; JSONSerialization, used before, sorted them case-insensitively
/// with digit runs as numbers, which is the same order for every key printed here (lowercase
/// snake_case, the bake's camelCase, the rejection reasons).
func printJSON(_ object: Any) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    if let data = try? encoder.encode(JSONTree(object)) {
        print(String(decoding: data, as: UTF8.self))
    }
}

/// An untyped `[String: Any]` tree, encodable; anything else in it is an encoding error.
private struct JSONTree: Encodable {
    let value: Any
    init(_ value: Any) { self.value = value }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case let value as Bool: try container.encode(value)
        case let value as Int: try container.encode(value)
        case let value as Double: try container.encode(value)
        case let value as String: try container.encode(value)
        case let value as [String: Any]: try container.encode(value.mapValues(JSONTree.init))
        case let value as [Any]: try container.encode(value.map(JSONTree.init))
        default:
            throw EncodingError.invalidValue(value, .init(codingPath: encoder.codingPath, debugDescription: "not a JSON value"))
        }
    }
}

extension CacheCommand {
    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the identity and cache key of an ELF file.")

        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var directory: CacheDirectoryOptions
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The ELF file.") var file: String

        func run() throws {
            // The identity index is an optimisation: without a usable cache directory, hash.
            let indexPath = try? directory.open(create: true).identityIndexPath
            let identity: ContentIdentity
            do {
                identity = try IdentityIndex(path: indexPath).identity(ofFileAt: file)
            } catch {
                throw CacheCommandError("\(file): \(error)")
            }
            let config = try options.configuration()
            let key = cacheKey(identity: identity, configuration: config, baseName: file)
            if json {
                printJSON([
                    "path": file, "build_id": identity.buildIDHex, "content_hash": identity.contentHash.hex,
                    "config_key": hex64(key.configurationHash), "file_name": key.fileName,
                    "configuration": configurationJSON(config),
                ])
            } else {
                print("build_id: \(identity.buildID.isEmpty ? "(none)" : identity.buildIDHex)")
                print("content_hash: \(identity.contentHash.hex)")
                print("config_key: \(hex64(key.configurationHash))")
                print("file_name: \(key.fileName)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List cache files with their state.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var directory: CacheDirectoryOptions

        func run() throws {
            let dir = try directory.open(create: false)
            let host = HostFeatures.detect()
            var rows: [[String: Any]] = []
            for (name, st) in dir.cacheFiles() {
                var row: [String: Any] = ["name": name, "size": Int(st.st_size)]
                switch CacheFile.open(path: dir.path + "/" + name, expectedKey: nil, hostFeatures: host, markUsed: false) {
                case .success(let file):
                    row["state"] = "valid"
                    row["entries"] = file.view.entryCount
                    row["build_id"] = file.view.header.identity.buildIDHex
                    row["content_hash"] = file.view.header.identity.contentHash.hex
                    row["config_key"] = hex64(file.view.header.configurationHash)
                case .failure(let rejection):
                    row["state"] = rejection.reason.rawValue
                    row["detail"] = rejection.detail
                }
                rows.append(row)
            }
            if json {
                printJSON(["directory": dir.path, "files": rows])
            } else {
                for row in rows {
                    let state = row["state"] as? String ?? ""
                    let extra = state == "valid" ? "\(row["entries"] ?? 0) entries" : (row["detail"] as? String ?? "")
                    print("\(row["name"] ?? "")\t\(row["size"] ?? 0)\t\(state)\t\(extra)")
                }
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Summarise the cache directory.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var directory: CacheDirectoryOptions

        func run() throws {
            let dir = try directory.open(create: false)
            let diagnostics = CacheDiagnostics()
            var totalBytes = 0, entries = 0, files = 0
            for (name, st) in dir.cacheFiles() {
                files += 1
                totalBytes += Int(st.st_size)
                if case .success(let file) = CacheFile.open(path: dir.path + "/" + name, expectedKey: nil, hostFeatures: HostFeatures.detect(),
                                                             diagnostics: diagnostics, markUsed: false) {
                    entries += file.view.entryCount
                }
            }
            let codemaps = listCodemaps(dir)
            let snapshot = diagnostics.snapshot
            if json {
                printJSON(["directory": dir.path, "files": files, "bytes": totalBytes, "valid_files": snapshot.filesAttached,
                           "rejected_files": snapshot.filesRejected, "entries": entries, "codemap_files": codemaps])
            } else {
                print("directory: \(dir.path)")
                print("files: \(files) (\(totalBytes) bytes)")
                print("valid: \(snapshot.filesAttached), entries: \(entries)")
                for reason in CacheRejectionReason.allCases {
                    if let n = snapshot.filesRejected[reason.rawValue] { print("rejected \(reason.rawValue): \(n)") }
                }
                print("codemap files: \(codemaps)")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check cache files completely; exits non-zero with the reason if any is invalid.")
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "The ELF file the cache was built from: also check every entry's guest bytes.")
        var region: String?
        @Argument(help: "Cache files.") var files: [String]

        func run() throws {
            let image: RegionImage?
            do {
                image = try region.map { try RegionImage(elf: ELFFile(contentsOfFile: $0)) }
            } catch {
                throw CacheCommandError("\(region ?? ""): \(error)")
            }
            var results: [[String: Any]] = []
            var failed = false
            for path in files {
                let rejection = verify(path: path, image: image)
                failed = failed || rejection != nil
                if json {
                    var row: [String: Any] = ["path": path, "valid": rejection == nil]
                    if let rejection { row["reason"] = rejection.reason.rawValue; row["detail"] = rejection.detail }
                    results.append(row)
                } else if let rejection {
                    print("\(path): invalid: \(rejection.reason.rawValue): \(rejection.detail)")
                } else {
                    print("\(path): valid")
                }
            }
            if json { printJSON(["files": results]) }
            if failed { throw ExitCode(1) }
        }

        /// Attach (host features not considered: the file may be for another machine), then
        /// every entry's records, and with a region every entry's guest bytes.
        func verify(path: String, image: RegionImage?) -> CacheRejection? {
            switch CacheFile.open(path: path, expectedKey: nil, hostFeatures: HostFeatures(rawValue: ~0), markUsed: false) {
            case .failure(let rejection):
                return rejection
            case .success(let file):
                let check: (GuestRegion?) -> CacheRejection? = { guest in
                    for i in 0..<file.view.entryCount {
                        if case .failure(let rejection) = file.view.validateEntry(i, guest: guest) { return rejection }
                    }
                    return nil
                }
                if let image { return image.withGuestRegion { check($0) } }
                return check(nil)
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check cache files and publish them atomically into the cache directory under their key's name.")
        @OptionGroup var directory: CacheDirectoryOptions
        @Argument(help: "Cache files.") var files: [String]

        func run() throws {
            let writer = CacheWriter(directory: try directory.open(create: true))
            for path in files {
                let name = String(path.split(separator: "/").last ?? "")
                do {
                    let bytes = try ELFBytes(mappingFileAt: path)
                    let published = try writer.importFile([UInt8](bytes.buffer), baseName: String(name.split(separator: "-").first ?? ""))
                    print(published)
                } catch {
                    throw CacheCommandError("\(path): \(error)")
                }
            }
        }
    }

    struct GC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Remove invalid files, stale temporaries, then least recently used files above the size cap; fold per-process codemaps into one.")
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Size cap in bytes.") var maxSize: UInt64 = 1 << 30
        @OptionGroup var directory: CacheDirectoryOptions

        func run() throws {
            let dir = try directory.open(create: false)
            let report = CacheWriter(directory: dir).enforceSizeCap(maximumBytes: maxSize)
            // Every JIT run in auto mode leaves a codemap file; only a bake folded them, so a
            // directory nobody bakes from grew by one file a run. The merged codemap grows
            // only with code never seen before.
            var folded = 0
            if case .success(let codemaps) = CacheDirectory.open(path: dir.codemapDirectory, create: false) {
                folded = CodemapMerge.perProcessFiles(in: codemaps.path).count
                if folded > 0 { _ = try CodemapMerge.mergeDirectory(codemaps) }
            }
            if json {
                printJSON(["removed_invalid": report.removedInvalid, "removed_lru": report.removedLeastRecentlyUsed,
                           "removed_temporaries": report.removedTemporaries, "remaining_bytes": Int(report.remainingBytes),
                           "folded_codemaps": folded])
            } else {
                for name in report.removedInvalid { print("removed invalid: \(name)") }
                for name in report.removedTemporaries { print("removed temporary: \(name)") }
                for name in report.removedLeastRecentlyUsed { print("evicted: \(name)") }
                if folded > 0 { print("folded \(folded) codemaps into \(CodemapMerge.mergedFileName)") }
                print("remaining: \(report.remainingBytes) bytes")
            }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove all cache files (and with --all, codemaps and the identity index).")
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Also remove codemaps and the identity index.") var all = false
        @OptionGroup var directory: CacheDirectoryOptions

        func run() throws {
            let dir = try directory.open(create: false)
            var removed: [String] = []
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in names.sorted() where name.hasSuffix("." + CacheKey.fileExtension) || name.hasPrefix(".tmp-") {
                if unlink(dir.path + "/" + name) == 0 { removed.append(name) }
            }
            if all {
                for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir.codemapDirectory)) ?? []).sorted() {
                    if unlink(dir.codemapDirectory + "/" + name) == 0 { removed.append("codemaps/" + name) }
                }
                if unlink(dir.identityIndexPath) == 0 { removed.append("identity-index") }
            }
            if json { printJSON(["removed": removed]) } else { print("removed \(removed.count) files") }
        }
    }

    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hash files with XXH3, printing lines as xxhsum does.")
        @Option(help: "xxh3-64 or xxh128.") var algorithm: String = HashAlgorithm.xxh3_64.rawValue
        @Option(help: "Instead of hashing files, measure in-memory throughput on a buffer of this many bytes (xxhsum -b uses 102400).")
        var benchmark: Int?
        @Argument(help: "Files.") var files: [String] = []

        func run() throws {
            guard let algorithm = HashAlgorithm(rawValue: algorithm) else { throw ValidationError("unknown algorithm \(algorithm)") }
            if let size = benchmark {
                guard size > 0 else { throw ValidationError("benchmark size must be positive") }
                let rate = algorithm.throughput(size: size)
                print("\(algorithm.rawValue) \(size) bytes: \(String(printf: "%.1f", rate / 1e6)) MB/s")
                return
            }
            var failed = false
            for path in files {
                do {
                    let bytes = try ELFBytes(mappingFileAt: path)
                    print(xxhsumLine(algorithm: algorithm, digest: algorithm.hexDigest(bytes.buffer), path: path))
                } catch {
                    Descriptor.writeError("\(path): \(error)\n")
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct MergeCodemaps: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge-codemaps", abstract: "Fold per-process codemaps into one deduplicated codemap.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var directory: CacheDirectoryOptions

        func run() throws {
            let dir = try directory.open(create: false)
            guard case .success(let codemaps) = CacheDirectory.open(path: dir.codemapDirectory, create: true) else {
                throw CacheCommandError("cannot open \(dir.codemapDirectory)")
            }
            let merged = try CodemapMerge.mergeDirectory(codemaps)
            let regions = merged.keys.sorted().map { ["region": $0.hex, "offsets": merged[$0, default: []].count] as [String: Any] }
            if json { printJSON(["regions": regions]) } else {
                for region in regions { print("\(region["region"] ?? "")\t\(region["offsets"] ?? 0) offsets") }
            }
        }
    }
}

private func listCodemaps(_ dir: CacheDirectory) -> Int {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.codemapDirectory)) ?? []).filter { $0.hasSuffix(".kcodemap") }.count
}

private func configurationJSON(_ config: TranslationConfiguration) -> [String: Any] {
    [
        "abi_version": Int(config.abiVersion),
        "host_features": config.hostFeatures.names,
        "hwcap": Int(config.guestFeatures.hwcap),
        "hwcap2": Int(config.guestFeatures.hwcap2),
        "opt_level": Int(config.options.optimizationLevel),
        "smc": config.options.smcMode.name,
        "memory_model": config.options.memoryModel.name,
    ]
}
