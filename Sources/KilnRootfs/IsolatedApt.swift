#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

/// A package version chosen by apt's resolver.
public struct ResolvedPackage: Equatable, Hashable, Codable {
    public var name: String
    public var version: String
    public var architecture: String
}

/// apt, run with a configuration of its own inside the rootfs directory.
///
/// Its lists, caches and (empty) dpkg status live under `<rootfs>/.kiln-apt`, the architecture
/// is arm64, and the host's dpkg database and architecture list are never read or changed.
/// Dependency resolution (Depends and Pre-Depends) and signature checks are apt's own.
struct IsolatedApt {
    /// `<rootfs>/.kiln-apt`.
    let stateDirectory: String
    let command: HostCommand

    /// How long downloaded package lists are trusted before `apt-get update` runs again.
    static let listsMaxAge: TimeInterval = 24 * 3600

    var sourcesListPath: String { stateDirectory + "/sources.list" }
    var listsDirectory: String { stateDirectory + "/lists" }

    /// Creates the directory layout apt expects and writes `sources`.
    /// Returns true when the sources changed, which makes the current lists stale.
    func prepare(sources: DebianSources) throws -> Bool {
        let fm = FileManager.default
        for dir in ["", "/lists/partial", "/cache/archives/partial", "/state", "/etc/preferences.d",
                    "/etc/sources.list.d", "/debs"] {
            try fm.createDirectory(atPath: stateDirectory + dir, withIntermediateDirectories: true)
        }
        if !fm.fileExists(atPath: stateDirectory + "/status") {
            guard fm.createFile(atPath: stateDirectory + "/status", contents: Data()) else {
                throw RootfsError.directoryNotWritable(path: stateDirectory, reason: "cannot create apt's status file")
            }
        }
        let text = sources.sourcesList
        let old = try? String(contentsOfFile: sourcesListPath, encoding: .utf8)
        if old != text { try text.write(toFile: sourcesListPath, atomically: true, encoding: .utf8) }
        return old != text
    }

    /// The options that isolate apt from the host's package state.
    var options: [String] {
        let d = stateDirectory
        let settings: [(String, String)] = [
            ("APT::Architecture", "arm64"),
            ("APT::Architectures::", "arm64"),
            ("Dir::State", d + "/state"),
            ("Dir::State::Lists", d + "/lists"),
            ("Dir::State::status", d + "/status"),
            ("Dir::Cache", d + "/cache"),
            ("Dir::Cache::archives", d + "/cache/archives"),
            ("Dir::Etc::SourceList", sourcesListPath),
            ("Dir::Etc::SourceParts", d + "/etc/sources.list.d"),
            ("Dir::Etc::Preferences", d + "/etc/preferences"),
            ("Dir::Etc::PreferencesParts", d + "/etc/preferences.d"),
            // The host's dpkg lock guards the host's database, which this apt never touches.
            ("Debug::NoLocking", "1"),
            ("APT::Sandbox::User", "root"),
            ("Acquire::Languages", "none"),
            ("APT::Install-Recommends", "0"),
            ("APT::Get::AllowUnauthenticated", "0"),
        ]
        return settings.flatMap { ["-o", "\($0.0)=\($0.1)"] }
    }

    /// Whether the package lists are missing or older than `listsMaxAge`.
    func listsAreStale(now: Date = Date()) -> Bool {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: listsDirectory) else { return true }
        let indexes = names.filter { $0.contains("_Packages") }
        guard !indexes.isEmpty else { return true }
        let oldest = indexes.compactMap {
            (try? fm.attributesOfItem(atPath: listsDirectory + "/" + $0))?[.modificationDate] as? Date
        }.min() ?? .distantPast
        return now.timeIntervalSince(oldest) > IsolatedApt.listsMaxAge
    }

    /// `apt-get update`: fetches and verifies the signed package lists.
    func update() throws {
        let result = try command.run("apt-get", options + ["-q", "update"])
        let text = result.stderr + result.stdout
        if Self.isNetworkFailure(text) {
            throw RootfsError.networkUnavailable(detail: Self.firstError(in: text) ?? "apt-get update failed")
        }
        try Self.checkDiskFull(text, path: listsDirectory)
        if result.status != 0 || !hasAnyLists {
            throw RootfsError.toolFailed(command: "apt-get update", status: result.status,
                                         message: Self.firstError(in: text) ?? text)
        }
    }

    private var hasAnyLists: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: listsDirectory)) ?? []).contains { $0.contains("_Packages") }
    }

    /// The full dependency closure of `packages`, as apt would install it on an empty system.
    func resolve(_ packages: [String]) throws -> [ResolvedPackage] {
        let result = try command.run("apt-get", options + ["-q", "-s", "install"] + packages)
        let unknown = Self.unknownPackages(in: result.stderr)
        if !unknown.isEmpty { throw RootfsError.unknownPackages(unknown) }
        guard result.status == 0 else {
            throw RootfsError.toolFailed(command: "apt-get install --simulate", status: result.status,
                                         message: Self.firstError(in: result.stderr) ?? result.stderr)
        }
        return Self.parseSimulation(result.stdout)
    }

    /// Downloads exactly these versions into `directory`; apt verifies each against the signed index.
    /// `onFetched` is called once per package as its download completes.
    func download(_ packages: [ResolvedPackage], into directory: String, onFetched: (String) -> Void) throws {
        let specs = packages.map { "\($0.name)=\($0.version)" }
        let result = try command.run("apt-get", options + ["download"] + specs, in: directory) { line in
            // "Get:3 http://deb.debian.org/debian bookworm/main arm64 lua5.4 arm64 5.4.4-3 [119 kB]"
            let words = line.split(separator: " ")
            if line.hasPrefix("Get:"), words.count >= 5 { onFetched(String(words[4])) }
        }
        let text = result.stderr + result.stdout
        try Self.checkDiskFull(text, path: directory)
        if Self.isNetworkFailure(text) {
            throw RootfsError.networkUnavailable(detail: Self.firstError(in: text) ?? "download failed")
        }
        guard result.status == 0 else {
            throw RootfsError.toolFailed(command: "apt-get download", status: result.status,
                                         message: Self.firstError(in: text) ?? text)
        }
    }

    /// One .deb that `apt-get download` would fetch, as the signed index describes it.
    struct PlannedDownload: Equatable {
        var fileName: String
        var size: UInt64
        var sha256: String
    }

    /// What downloading `packages` would fetch, without fetching: file names, sizes and the
    /// SHA-256 digests from the signed index.
    func plan(_ packages: [ResolvedPackage]) throws -> [PlannedDownload] {
        let specs = packages.map { "\($0.name)=\($0.version)" }
        let result = try command.run("apt-get", options + ["download", "--print-uris"] + specs)
        guard result.status == 0 else {
            throw RootfsError.toolFailed(command: "apt-get download", status: result.status,
                                         message: Self.firstError(in: result.stderr) ?? result.stderr)
        }
        return Self.parsePrintURIs(result.stdout)
    }

    // MARK: - Reading apt's output

    /// Parses `Inst name (version release [arch])` lines of `apt-get -s install`.
    static func parseSimulation(_ output: String) -> [ResolvedPackage] {
        var packages: [ResolvedPackage] = []
        for line in output.split(separator: "\n") where line.hasPrefix("Inst ") {
            let words = line.split(separator: " ")
            guard words.count >= 3, words[2].hasPrefix("(") else { continue }
            let name = String(words[1])
            let version = String(words[2].dropFirst())
            // The architecture is the bracketed word inside the parentheses; a trailing "[]"
            // (the installed version, empty here) is not it.
            var architecture = "arm64"
            if let paren = line.firstIndex(of: "("), let closeParen = line[paren...].firstIndex(of: ")"),
               let open = line[paren ..< closeParen].lastIndex(of: "["),
               let close = line[open ..< closeParen].firstIndex(of: "]") {
                architecture = String(line[line.index(after: open) ..< close])
            }
            packages.append(ResolvedPackage(name: name, version: version, architecture: architecture))
        }
        return packages.sorted { $0.name < $1.name }
    }

    /// Parses `'URL' file size SHA256:hex` lines of `apt-get download --print-uris`.
    static func parsePrintURIs(_ output: String) -> [PlannedDownload] {
        output.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count >= 4, words[0].hasPrefix("'"), let size = UInt64(words[2]),
                  words[3].hasPrefix("SHA256:") else { return nil }
            return PlannedDownload(fileName: String(words[1]), size: size, sha256: String(words[3].dropFirst(7)))
        }
    }

    static func unknownPackages(in stderr: String) -> [String] {
        var names: [String] = []
        for line in stderr.split(separator: "\n") {
            if let range = line.firstRange(of: "Unable to locate package ") {
                names.append(line[range.upperBound...].trimmingWhitespace())
            } else if line.contains("has no installation candidate"), let first = line.firstIndex(of: "'"),
                      let last = line.lastIndex(of: "'"), first < last {
                names.append(String(line[line.index(after: first) ..< last]))
            }
        }
        return names
    }

    static func isNetworkFailure(_ text: String) -> Bool {
        ["Could not resolve", "Temporary failure resolving", "Could not connect", "Network is unreachable",
         "Connection timed out", "Connection refused"].contains { text.contains($0) }
    }

    static func checkDiskFull(_ text: String, path: String) throws {
        if text.contains("No space left on device") { throw RootfsError.diskFull(path: path) }
    }

    static func firstError(in text: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix("E: ") || $0.hasPrefix("W: Failed") || $0.hasPrefix("Err:") }
            .map { String($0) }
    }
}
