import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import KilnHost
import KilnRootfs

/// `kiln rootfs`: the arm64 Debian userland guest programs run against.
struct RootfsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rootfs",
        abstract: "Manage the arm64 Debian root filesystem guest programs run against.",
        subcommands: [RootfsFetchCommand.self]
    )
}

/// `kiln rootfs fetch`: builds or extends the rootfs from Debian's arm64 packages with apt.
struct RootfsFetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Build or extend an arm64 Debian bookworm rootfs with apt.",
        discussion: """
            Resolves the packages (plus libc6, libstdc++6 and busybox-static) and their full \
            dependency closure with an isolated apt (arm64, its own lists and status; the host's \
            dpkg is never changed), downloads and verifies them, and extracts them with a merged \
            /usr layout. Fetching again adds only what is missing.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Rootfs directory.", discussion: "Default: $KILN_ROOTFS, else $XDG_DATA_HOME/kiln/rootfs/debian-bookworm-arm64."))
    var dir: String?

    @Option(name: .long, help: "Debian archive URL (default: the host's configured Debian mirror).")
    var mirror: String?

    @Flag(name: .long, help: "Run apt-get update even when the package lists are fresh.")
    var refresh = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    @Argument(help: "Debian package names to add (arm64).")
    var packages: [String] = []

    func run() throws {
        let directory = dir ?? RootfsLocation.defaultDirectory()
        var fetcher = RootfsFetcher(directory: directory, sources: .fromHost(mirror: mirror))
        fetcher.refreshLists = refresh
        let display = ProgressDisplay(enabled: !quiet)
        let result = try fetcher.fetch(packages) { display.show($0) }
        display.finish()
        if !quiet {
            let verb = result.added.isEmpty ? "up to date" : "ready"
            print("rootfs \(verb): \(result.directory) (\(result.manifest.packages.count) packages)")
        }
    }
}

/// Renders fetch progress on stderr: one rewritten line on a terminal, plain lines otherwise.
final class ProgressDisplay {
    private let enabled: Bool
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lineOpen = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ event: RootfsProgress) {
        guard enabled else { return }
        switch event {
        case .updatingLists:
            line("updating arm64 package lists", transient: false)
        case let .resolved(total, missing):
            line("resolved \(total) packages, \(missing) to fetch", transient: false)
        case let .downloaded(name, index, total):
            line("downloaded \(index)/\(total) \(name)", transient: true)
        case let .extracted(name, index, total):
            line("extracted \(index)/\(total) \(name)", transient: true)
        case .upToDate, .finished:
            finish()
        }
    }

    func finish() {
        if lineOpen { Descriptor.writeError("\n") }
        lineOpen = false
    }

    private func line(_ text: String, transient: Bool) {
        if terminal && transient {
            Descriptor.writeError("\r\u{1B}[K\(text)")
            lineOpen = true
        } else if !transient || !terminal {
            finish()
            Descriptor.writeError(text + "\n")
        }
    }
}
