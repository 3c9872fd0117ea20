import ArgumentParser

/// The `kiln` command: runs arm64 Linux programs on x86-64 and manages their translation caches.
@main
struct Kiln: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Run arm64 Linux programs on x86-64 Linux, fast, with ahead-of-time translation caches.",
        version: KilnVersion.string,
        subcommands: [
            BakeCommand.self,
            CacheCommand.self,
            CoverageCommand.self,
            RootfsCommand.self,
            RunCommand.self,
            BenchCommand.self, ValidateCommand.self, DemoCommand.self,
        ]
    )
}

extension Kiln {
    /// `kiln run --cache-report=json` is spelled as the issue gives it; the argument parser
    /// has no optional-value options, so the `=json`/`=text` forms of Kiln's own options (those
    /// before the program) become flags first. `run`, `bench` and `validate` hand everything
    /// from the program on to it, and the argument parser would take a `--help` among Kiln's
    /// own options for part of the program: it is asked for that subcommand's help instead.
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let helpWords: Set<String> = ["--help", "-h"]
        if arguments.first == "run" {
            var i = 1
            while i < arguments.count {
                let argument = arguments[i]
                if argument == "--" || !argument.hasPrefix("-") { break }
                if helpWords.contains(argument) { main(["help", "run"]) }
                if argument == "--cache-report=json" { arguments[i] = "--cache-report-json" }
                if argument == "--cache-report=text" { arguments[i] = "--cache-report" }
                switch RunArguments.options[argument] {
                case .value?, .descriptor?: i += 2
                default: i += 1
                }
            }
        }
        if let command = arguments.first, ["bench", "validate"].contains(command), arguments.count > 1, helpWords.contains(arguments[1]) {
            main(["help", command])
        }
        // `kiln run` is read without the argument parser when it is a plain command line (see
        // `RunArguments.parseQuickly`), else parsed on its own: building the parser of the
        // whole command tree (every subcommand's options, by reflection) cost ~0.5 ms more.
        // Anything neither accepts (help, errors) goes through the full parser for its messages.
        if arguments.first == "run", let quick = RunArguments.parseQuickly(Array(arguments.dropFirst())) {
            do {
                try quick.run()
            } catch {
                exit(withError: error)
            }
            exit()
        }
        if arguments.first == "run", let command = try? RunCommand.parse(Array(arguments.dropFirst())) {
            do {
                try command.run()
            } catch {
                exit(withError: error)
            }
            exit()
        }
        main(arguments)
    }
}

/// Kiln's release version, printed by `kiln --version`.
enum KilnVersion {
    static let string = "0.1.0"
}
