/// Why building a rootfs failed, phrased for the user who ran `kiln rootfs fetch`.
public enum RootfsError: Error, Equatable, CustomStringConvertible {
    /// A required host tool (apt-get, dpkg-deb) is not installed.
    case toolMissing(tool: String, hint: String)
    /// apt does not know these package names for the rootfs's architecture.
    case unknownPackages([String])
    /// The Debian mirror could not be reached (DNS, connection, proxy).
    case networkUnavailable(detail: String)
    /// The rootfs directory cannot be created or written.
    case directoryNotWritable(path: String, reason: String)
    /// The disk filled up while downloading or extracting, or has too little room to start;
    /// `needed` and `available` are known (in bytes) when the check happened up front.
    case diskFull(path: String, needed: UInt64? = nil, available: UInt64? = nil)
    /// A host tool failed for a reason not covered above; its own message is kept.
    case toolFailed(command: String, status: Int32, message: String)
    /// The manifest in an existing rootfs cannot be read.
    case corruptManifest(path: String, reason: String)
    /// Another `kiln rootfs fetch` holds the rootfs lock.
    case busy(path: String)

    public var description: String {
        switch self {
        case let .toolMissing(tool, hint):
            return "\(tool) not found on PATH; \(hint)"
        case let .unknownPackages(names):
            return "unknown package\(names.count == 1 ? "" : "s") for arm64: \(names.joined(separator: ", ")) "
                + "(not found in the configured Debian sources; check the spelling with `apt-cache search`)"
        case let .networkUnavailable(detail):
            return "cannot reach the Debian mirror: \(detail) (check the network, or pass --mirror URL)"
        case let .directoryNotWritable(path, reason):
            return "rootfs directory \(path) is not writable: \(reason)"
        case let .diskFull(path, needed?, available?):
            return "not enough disk space for \(path): needs about \(needed >> 20) MiB, \(available >> 20) MiB available"
        case let .diskFull(path, _, _):
            return "no space left on device while writing \(path); the rootfs is marked incomplete"
        case let .toolFailed(command, status, message):
            return "\(command) failed (exit \(status)): \(message)"
        case let .corruptManifest(path, reason):
            return "cannot read rootfs manifest \(path): \(reason); remove the directory and fetch again"
        case let .busy(path):
            return "another kiln rootfs fetch is working on \(path)"
        }
    }
}
