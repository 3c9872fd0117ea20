#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `<rootfs>/.kiln-rootfs.json`: what a rootfs was built from.
///
/// The manifest is written last, atomically, after every listed package has been extracted, and
/// `.kiln-rootfs.incomplete` exists while a fetch is changing the tree: a rootfs is complete
/// exactly when the manifest exists and the marker does not.
public struct RootfsManifest: Codable, Equatable {
    /// One extracted Debian package.
    public struct Package: Codable, Equatable {
        public var name: String
        public var version: String
        public var architecture: String
        /// SHA-256 of the .deb file as downloaded (and verified by apt).
        public var sha256: String
    }

    public static let fileName = ".kiln-rootfs.json"
    public static let incompleteMarker = ".kiln-rootfs.incomplete"
    public static let currentFormat = 1

    public var format: Int = RootfsManifest.currentFormat
    public var architecture: String = "arm64"
    public var suite: String
    /// The package names asked for (defaults included), sorted; later fetches add to them.
    public var requested: [String]
    /// Every package in the rootfs, sorted by name.
    public var packages: [Package]

    public init(suite: String, requested: [String], packages: [Package]) {
        self.suite = suite
        self.requested = requested
        self.packages = packages
    }

    /// Reads the manifest of the rootfs at `directory`, or nil when there is none.
    public static func load(fromRootfs directory: String) throws -> RootfsManifest? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let manifest = try JSONDecoder().decode(RootfsManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            guard manifest.format == currentFormat else {
                throw RootfsError.corruptManifest(path: path, reason: "unknown format \(manifest.format)")
            }
            return manifest
        } catch let error as RootfsError {
            throw error
        } catch {
            throw RootfsError.corruptManifest(path: path, reason: "\(error)")
        }
    }

    /// Deterministic JSON (sorted keys, pretty printed) so manifests diff cleanly.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Whether `directory` holds a rootfs whose last fetch completed.
    public static func isComplete(rootfs directory: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: directory + "/" + fileName)
            && !fm.fileExists(atPath: directory + "/" + incompleteMarker)
    }
}
