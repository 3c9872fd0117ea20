import ArgumentParser

/// The `kiln` command: runs arm64 Linux programs on x86-64 and manages their translation caches.
@main
struct Kiln: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Run arm64 Linux programs on x86-64 Linux, fast, with ahead-of-time translation caches.",
        version: KilnVersion.string,
        subcommands: [
            CacheCommand.self,
            CoverageCommand.self,
            RootfsCommand.self,
            RunCommand.self,
            BenchCommand.self, ValidateCommand.self, DemoCommand.self,
        ]
    )
}

/// Kiln's release version, printed by `kiln --version`.
enum KilnVersion {
    static let string = "0.1.0"
}
