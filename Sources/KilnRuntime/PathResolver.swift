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
    /// The rootfs directory opened O_PATH, or -1: checks whether a path exists in the rootfs
    /// look it up from there, so the kernel walks only the guest's components and not the
    /// rootfs's own (six for ~/.local/share/kiln/rootfs/debian-bookworm-arm64) each time.
    public let rootDescriptor: Int32
    /// Paths that describe the host's own userland to the dynamic loader: with a rootfs they
    /// always resolve inside it, even when absent there (the host's ld.so.cache lists x86-64
    /// libraries; its ld.so.preload would make the guest loader try to load them).
    public static let rootfsOnlyPaths: [String] = ["/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/ld.so.conf.d"]

    /// `rootDescriptor`, when given, is `rootfs` opened O_PATH (the caller keeps it open and
    /// out of the guest's reach).
    public init(rootfs: String, home: String? = nil, rootDescriptor: Int32 = -1) {
        self.rootDescriptor = rootDescriptor
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
        if existsInRootfs(path) { return candidate }
        // A file about to be created belongs where its directory is.
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let parent = String(path[..<slash])
            if existsInRootfs(parent), lstat(parent, &st) != 0 { return candidate }
        }
        return path
    }

    /// Whether absolute guest path `path` names something (a dangling link too) in the rootfs.
    private func existsInRootfs(_ path: String) -> Bool {
        var st = stat()
        guard rootDescriptor >= 0 else { return lstat(rootfs + path, &st) == 0 }
        return path.withCString { c in
            // Relative to the rootfs: the path without its leading slashes ("." for "/").
            var relative = c
            while relative.pointee == CChar(UInt8(ascii: "/")) { relative += 1 }
            return relative.pointee == 0 ? fstatat(rootDescriptor, ".", &st, AT_SYMLINK_NOFOLLOW) == 0
                                         : fstatat(rootDescriptor, relative, &st, AT_SYMLINK_NOFOLLOW) == 0
        }
    }

    /// The guest's view of host path `path`: the rootfs prefix removed.
    public func guestPath(_ path: String) -> String {
        guard !rootfs.isEmpty else { return path }
        if path == rootfs { return "/" }
        if path.hasPrefix(rootfs + "/") { return String(path.dropFirst(rootfs.count)) }
        return path
    }
}
