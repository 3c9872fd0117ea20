#if canImport(Glibc)
import Glibc
#endif

/// Maps guest paths to host paths, as `qemu -L` does: an absolute guest path names the file
/// inside the rootfs when it exists there, else the host's file. /proc, /dev, /sys, /run and
/// /tmp always come from the host, and so do paths under the user's home directory. Relative
/// paths are left alone: the guest's working directory is a host directory.
public struct PathResolver: Sendable {
    /// The rootfs directory without a trailing slash ("" when running without one).
    public let rootfs: String
    /// Host path prefixes that never resolve into the rootfs.
    public let hostOnlyPrefixes: [String]
    /// `hostOnlyPrefixes` and `rootfsOnlyPaths` as bytes: every path system call tests them,
    /// and String's prefix tests (Unicode-aware, each on a new `prefix + "/"`) made an
    /// openat ~19,000 instructions.
    private let hostOnlyBytes: [[UInt8]]
    private static let rootfsOnlyBytes: [[UInt8]] = rootfsOnlyPaths.map { Array($0.utf8) }
    /// Paths that describe the host's own userland to the dynamic loader: with a rootfs they
    /// always resolve inside it, even when absent there (the host's ld.so.cache lists x86-64
    /// libraries; its ld.so.preload would make the guest loader try to load them).
    public static let rootfsOnlyPaths: [String] = ["/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/ld.so.conf.d"]

    public init(rootfs: String, home: String? = nil) {
        var root = rootfs
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        self.rootfs = root == "/" ? "" : root
        var prefixes = ["/proc", "/dev", "/sys", "/run", "/tmp"]
        if let home, home.count > 1 { prefixes.append(home) }
        hostOnlyPrefixes = prefixes
        hostOnlyBytes = prefixes.map { Array($0.utf8) }
    }

    /// Whether `path` is `prefix` or lies below it.
    private static func isAtOrBelow(_ path: UnsafeBufferPointer<UInt8>, _ prefix: [UInt8]) -> Bool {
        guard path.count >= prefix.count, path.count == prefix.count || path[prefix.count] == UInt8(ascii: "/") else { return false }
        for k in prefix.indices where path[k] != prefix[k] { return false }
        return true
    }

    /// Which fixed rule decides `path`: host-only, rootfs-only, or neither.
    private func fixedRule(_ path: String) -> (hostOnly: Bool, rootfsOnly: Bool) {
        var path = path
        return path.withUTF8 { bytes in
            if hostOnlyBytes.contains(where: { Self.isAtOrBelow(bytes, $0) }) { return (true, false) }
            return (false, Self.rootfsOnlyBytes.contains { Self.isAtOrBelow(bytes, $0) })
        }
    }

    /// The host path for guest `path`.
    public func hostPath(_ path: String) -> String {
        guard !rootfs.isEmpty, path.utf8.first == UInt8(ascii: "/") else { return path }
        let rule = fixedRule(path)
        if rule.hostOnly { return path }
        if rule.rootfsOnly { return rootfs + path }
        let candidate = rootfs + path
        var st = stat()
        if lstat(candidate, &st) == 0 { return candidate }
        // A file about to be created belongs where its directory is.
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let parent = rootfs + path[..<slash]
            if lstat(parent, &st) == 0, lstat(String(path[..<slash]), &st) != 0 { return candidate }
        }
        return path
    }

    /// The guest's view of host path `path`: the rootfs prefix removed.
    public func guestPath(_ path: String) -> String {
        guard !rootfs.isEmpty else { return path }
        if path == rootfs { return "/" }
        if path.hasPrefix(rootfs + "/") { return String(path.dropFirst(rootfs.count)) }
        return path
    }
}
