import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnBench
import KilnHost

/// `kiln validate`: runs a program in several modes and checks they behave identically.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check that a program behaves the same on the interpreter, the JIT and a baked cache.",
        discussion: """
            Runs the program once per mode with the same standard input (read once from kiln's \
            own stdin unless it is a terminal), environment and working directory, and compares \
            exit status, stdout, stderr and the system call trace (names, arguments and results; \
            addresses and process ids normalised). Modes: interp (IR interpreter), jit, cache \
            (one kiln run recording codemaps and kiln bake first, then kiln run --cache \
            readonly). Prints the first difference with context; when the cache mode differs, \
            reruns under --cache verify to name the translated block. Exit status 0 only when all modes agree, 1 when they differ.
            """
    )

    @Option(help: "Comma-separated modes to compare; the first is the reference.")
    var modes = "interp,jit,cache"

    @OptionGroup var environment: ToolEnvironmentOptions

    @Flag(name: .customLong("no-bake"), help: "Use the caches already in the cache directory instead of baking first.")
    var noBake = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments.")
    var command: [String] = []

    func run() throws {
        let command = try guestCommand(self.command)
        let modes: [ValidationMode]
        do { modes = try ValidationMode.parseList(self.modes) } catch let error as ValidationFailure { throw ValidationError(error.description) }
        let rootfs = try environment.rootfsDirectory()
        let hostProgram = try locateProgram(command[0], rootfs: rootfs)
        let stdin = isatty(0) == 1 ? Data() : Data(Descriptor.readAll(STDIN_FILENO))

        let progress = ProgressLine()
        let validator = Validator(tool: .current(rootfs: rootfs, cacheDirectory: environment.cacheDirectory), modes: modes, bake: !noBake) {
            progress.show("validate: \($0)")
        }
        let report: ValidationReport
        do {
            report = try validator.validate(command: command, stdin: stdin, bakeProgram: KilnTool.bakeName(hostProgram: hostProgram, rootfs: rootfs))
        } catch let error as ValidationFailure {
            progress.clear()
            throw ToolError(error.description)
        }
        progress.clear()
        if json {
            Descriptor.writeAll(STDOUT_FILENO, try report.jsonData())
        } else {
            print("validate \(command.joined(separator: " ")) (\(modes.map(\.rawValue).joined(separator: ", ")))")
            print(report.renderText(), terminator: "")
        }
        if !report.aligned { throw ExitCode(1) }
    }
}
