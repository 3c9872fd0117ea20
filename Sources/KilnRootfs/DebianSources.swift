#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

/// The Debian archives an arm64 rootfs is fetched from, as apt `deb` source lines.
///
/// Kiln reuses the mirrors the host is already configured with (so proxies, snapshots and local
/// mirrors keep working), but always for the rootfs's own release and architecture.
public struct DebianSources: Equatable {
    /// The main archive, e.g. http://deb.debian.org/debian.
    public var archive: String
    /// The security archive, when the host has one configured.
    public var security: String?
    /// The keyring apt checks release signatures against.
    public var keyring: String
    /// The Debian release the rootfs follows.
    public var suite: String

    public static let defaultArchive = "http://deb.debian.org/debian"
    public static let defaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

    public init(archive: String, security: String?, keyring: String = DebianSources.defaultKeyring, suite: String = "bookworm") {
        self.archive = archive
        self.security = security
        self.keyring = keyring
        self.suite = suite
    }

    /// The sources.list text for the isolated apt: release, its updates, and security when known.
    public var sourcesList: String {
        let options = "[arch=arm64 signed-by=\(keyring)]"
        var lines = [
            "deb \(options) \(archive) \(suite) main",
            "deb \(options) \(archive) \(suite)-updates main",
        ]
        if let security { lines.append("deb \(options) \(security) \(suite)-security main") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Sources taken from the host's apt configuration (`/etc/apt/sources.list`,
    /// `sources.list.d/*.list` and deb822 `*.sources`); `mirror` replaces the main archive.
    public static func fromHost(mirror: String?, aptRoot: String = "/etc/apt") -> DebianSources {
        var files: [String] = []
        let fm = FileManager.default
        if fm.fileExists(atPath: aptRoot + "/sources.list") { files.append(aptRoot + "/sources.list") }
        if let parts = try? fm.contentsOfDirectory(atPath: aptRoot + "/sources.list.d") {
            files += parts.sorted().filter { $0.hasSuffix(".list") || $0.hasSuffix(".sources") }
                .map { aptRoot + "/sources.list.d/" + $0 }
        }
        var entries: [Entry] = []
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            entries += file.hasSuffix(".sources") ? parseDeb822(text) : parseOneLine(text)
        }
        return choose(from: entries, mirror: mirror)
    }

    /// One `deb` entry of the host's configuration.
    struct Entry: Equatable {
        var uri: String
        var suites: [String]
        var signedBy: String?
    }

    static func choose(from entries: [Entry], mirror: String?) -> DebianSources {
        // Only Debian's own archives: third-party repositories have no arm64 bookworm userland.
        let debian = entries.filter { $0.uri.contains("debian") }
        let securityEntry = debian.first { entry in entry.suites.contains { $0.hasSuffix("-security") } || entry.uri.contains("security") }
        let archiveEntry = debian.first { entry in !entry.uri.contains("security") && entry.suites.contains { !$0.hasSuffix("-security") } }
        let keyring = [archiveEntry?.signedBy, securityEntry?.signedBy]
            .compactMap { $0 }
            .first { FileManager.default.fileExists(atPath: $0) } ?? defaultKeyring
        return DebianSources(
            archive: mirror ?? archiveEntry?.uri ?? defaultArchive,
            security: securityEntry?.uri,
            keyring: keyring)
    }

    static func parseOneLine(_ text: String) -> [Entry] {
        var entries: [Entry] = []
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.first == "deb" else { continue }
            words.removeFirst()
            var signedBy: String?
            if let first = words.first, first.hasPrefix("[") {
                var options: [String] = []
                while let word = words.first {
                    words.removeFirst()
                    options.append(word.trimming { $0 == "[" || $0 == "]" })
                    if word.hasSuffix("]") { break }
                }
                signedBy = options.first { $0.hasPrefix("signed-by=") }.map { String($0.dropFirst("signed-by=".count)) }
            }
            guard words.count >= 2 else { continue }
            entries.append(Entry(uri: trimSlash(words[0]), suites: [words[1]], signedBy: signedBy))
        }
        return entries
    }

    static func parseDeb822(_ text: String) -> [Entry] {
        var entries: [Entry] = []
        for stanza in text.components(separatedBy: "\n\n") {
            var fields: [String: String] = [:]
            for line in stanza.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix(" ") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = line[..<colon].lowercased()
                fields[key] = line[line.index(after: colon)...].trimmingWhitespace()
            }
            guard let types = fields["types"], types.split(separator: " ").contains("deb"),
                  fields["enabled"]?.lowercased() != "no",
                  let uris = fields["uris"], let suites = fields["suites"] else { continue }
            let suiteList = suites.split(separator: " ").map(String.init)
            for uri in uris.split(separator: " ") {
                entries.append(Entry(uri: trimSlash(String(uri)), suites: suiteList, signedBy: fields["signed-by"]))
            }
        }
        return entries
    }

    private static func trimSlash(_ uri: String) -> String {
        uri.hasSuffix("/") ? String(uri.dropLast()) : uri
    }
}
