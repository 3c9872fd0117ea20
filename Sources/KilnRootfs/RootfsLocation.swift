#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where Kiln keeps its arm64 root filesystem unless told otherwise.
public enum RootfsLocation {
    /// The directory name of the default rootfs, naming distribution, release and architecture.
    public static let defaultName = "debian-bookworm-arm64"

    /// `$KILN_ROOTFS`, else `$XDG_DATA_HOME/kiln/rootfs/debian-bookworm-arm64`, with
    /// `$XDG_DATA_HOME` defaulting to `~/.local/share` as the XDG base-directory spec says.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["KILN_ROOTFS"], !dir.isEmpty { return dir }
        let dataHome: String
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            dataHome = xdg
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? FileManager.default.homeDirectoryForCurrentUser.path
            dataHome = home + "/.local/share"
        }
        return dataHome + "/kiln/rootfs/" + defaultName
    }
}
