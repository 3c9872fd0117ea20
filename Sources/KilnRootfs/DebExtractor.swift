#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// Unpacks .deb files into a rootfs laid out the way Debian bookworm systems are: merged /usr.
///
/// Packages still ship files under /bin, /sbin and /lib; on a merged system those are symlinks
/// into /usr, so both `/lib/ld-linux-aarch64.so.1` and `/usr/lib/...` resolve. `dpkg-deb -x`
/// would replace such a symlink with a real directory, so each package is extracted into a
/// staging directory first and then moved into place with the top-level directories mapped.
struct DebExtractor {
    let rootfs: String
    let command: HostCommand

    /// Top-level directories that are symlinks into /usr on a merged-/usr system.
    static let mergedDirectories = ["bin", "sbin", "lib"]

    /// Creates the rootfs directory with the merged-/usr symlinks.
    func prepareLayout() throws {
        let fm = FileManager.default
        for dir in Self.mergedDirectories {
            try fm.createDirectory(atPath: rootfs + "/usr/" + dir, withIntermediateDirectories: true)
            let link = rootfs + "/" + dir
            if (try? fm.destinationOfSymbolicLink(atPath: link)) == "usr/" + dir { continue }
            if fm.fileExists(atPath: link) {
                // A tree from an older, unmerged extraction: fold it into /usr before linking.
                try merge(from: link, into: rootfs + "/usr/" + dir, mapTopLevel: false)
                try fm.removeItem(atPath: link)
            }
            try fm.createSymbolicLink(atPath: link, withDestinationPath: "usr/" + dir)
        }
    }

    /// Extracts one package with `dpkg-deb -x` and moves its files into the rootfs.
    func extract(deb: String, staging: String) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: staging) }
        let result = try command.run("dpkg-deb", ["-x", deb, staging])
        try IsolatedApt.checkDiskFull(result.stderr, path: rootfs)
        guard result.status == 0 else {
            throw RootfsError.toolFailed(command: "dpkg-deb -x \(HostPath.lastComponent(deb))",
                                         status: result.status, message: result.stderr)
        }
        try merge(from: staging, into: rootfs, mapTopLevel: true)
    }

    /// Moves every entry of `source` into `destination`, creating directories as needed and
    /// replacing files; with `mapTopLevel`, /bin, /sbin and /lib entries land under /usr.
    private func merge(from source: String, into destination: String, mapTopLevel: Bool) throws {
        let fm = FileManager.default
        // Collect first: entries are renamed away while the tree is walked.
        guard let relativePaths = try? fm.subpathsOfDirectory(atPath: source) else { return }
        for relative in relativePaths {
            let from = source + "/" + relative
            let to = destination + "/" + (mapTopLevel ? Self.mergedPath(relative) : relative)
            var info = stat()
            guard lstat(from, &info) == 0 else { continue }  // moved with its parent already
            if info.st_mode & S_IFMT == S_IFDIR {
                var isDirectory = false
                if fm.fileExists(atPath: to, isDirectory: &isDirectory) {
                    if isDirectory { continue }
                    try fm.removeItem(atPath: to)
                }
                try createDirectory(to)
            } else {
                var existing = stat()
                if lstat(to, &existing) == 0, existing.st_mode & S_IFMT == S_IFDIR {
                    try fm.removeItem(atPath: to)
                }
                if rename(from, to) != 0 {
                    let code = errno
                    if code == ENOSPC { throw RootfsError.diskFull(path: to) }
                    throw RootfsError.toolFailed(command: "rename \(relative)", status: code,
                                                 message: String(cString: strerror(code)))
                }
            }
        }
    }

    private func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch let error as CocoaError where (error.underlying as? POSIXError)?.code == .ENOSPC {
            throw RootfsError.diskFull(path: path)
        }
    }

    /// `lib/x` -> `usr/lib/x` for the merged top-level directories.
    static func mergedPath(_ relative: String) -> String {
        let top = relative.split(separator: "/", maxSplits: 1).first.map(String.init) ?? relative
        return mergedDirectories.contains(top) ? "usr/" + relative : relative
    }
}
