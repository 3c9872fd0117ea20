#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// A way `kiln validate` runs a program.
public enum ValidationMode: String, CaseIterable, Sendable {
    /// The IR interpreter, no cache.
    case interp
    /// The JIT, no cache.
    case jit
    /// The JIT serving baked translations (`--cache readonly`).
    case cache

    /// Parses `interp,jit,cache`.
    public static func parseList(_ text: String) throws -> [ValidationMode] {
        let names = text.split(separator: ",").map { $0.trimmingWhitespace() }
        var modes: [ValidationMode] = []
        for name in names {
            guard let mode = ValidationMode(rawValue: name) else {
                throw ValidationFailure("unknown mode '\(name)' (modes: \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard !modes.contains(mode) else { throw ValidationFailure("mode '\(name)' given twice") }
            modes.append(mode)
        }
        guard modes.count >= 2 else { throw ValidationFailure("--modes needs at least two modes to compare (got '\(text)')") }
        return modes
    }
}

/// A failure to carry out a validation (as opposed to a difference it found).
public struct ValidationFailure: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs one program in several modes from the same stdin, environment and working directory,
/// and compares what they did.
public struct Validator: Sendable {
    public var tool: KilnTool
    public var modes: [ValidationMode]
    /// Bake before the cache mode runs; false uses the caches already in the directory.
    public var bake: Bool
    /// Called as each step starts, for progress output.
    public var progress: @Sendable (String) -> Void

    public init(tool: KilnTool, modes: [ValidationMode], bake: Bool = true, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.tool = tool; self.modes = modes; self.bake = bake; self.progress = progress
    }

    /// - Parameter bakeProgram: the program as `kiln bake` should be given it (default: `command[0]`).
    public func validate(command: [String], stdin: Data, bakeProgram: String? = nil) throws -> ValidationReport {
        var outcomes: [ModeOutcome] = []
        for mode in modes {
            if mode == .cache, bake {
                // Recording first puts every block the program runs into the cache, so the
                // cache mode runs cached code, not the JIT's, wherever it can.
                for step in tool.recordAndBake(command: command, bakeProgram: bakeProgram) {
                    progress(step.name)
                    let result = try step.command.run(stdin: stdin)
                    if step.mustSucceed, result.status != 0 || result.signaled {
                        throw ValidationFailure("\(render(step.command)) failed (\(result.outcome))" + excerpt(String(decoding: result.stderr, as: UTF8.self)))
                    }
                }
            }
            progress(mode.rawValue)
            outcomes.append(try run(mode, command: command, stdin: stdin))
        }
        var report = ValidationReport(program: command, outcomes: outcomes)
        if modes.contains(.cache), report.differences.contains(where: { $0.mode == ValidationMode.cache.rawValue }) {
            progress("verify")
            report.blocks = try blamedBlocks(command: command, stdin: stdin)
            report.verifyRun = true
        }
        return report
    }

    /// One run with its syscall trace written to a temporary file.
    func run(_ mode: ValidationMode, command: [String], stdin: Data) throws -> ModeOutcome {
        let traceFile = temporaryPath("kiln-validate-\(getpid())-\(mode.rawValue).strace")
        defer { unlink(traceFile) }
        let options = ["--strace-file", traceFile]
        let child: ChildProcess
        switch mode {
        case .interp: child = tool.run(cache: "off", tier: "interp", options: options, command: command)
        case .jit: child = tool.run(cache: "off", tier: "jit", options: options, command: command)
        case .cache: child = tool.run(cache: "readonly", tier: "jit", options: options, command: command)
        }
        let result = try child.run(stdin: stdin)
        let trace = (try? String(contentsOfFile: traceFile, encoding: .utf8)) ?? ""
        return ModeOutcome(mode: mode.rawValue, outcome: result.outcome, stdout: result.stdout, stderr: result.stderr, trace: SyscallTrace.normalize(trace))
    }

    /// Runs the program under `--cache verify`, which recompiles each cached entry on first
    /// use and stops at one whose bytes differ; returns the lines naming those blocks.
    func blamedBlocks(command: [String], stdin: Data) throws -> [String] {
        let result = try tool.run(cache: "verify", tier: "jit", command: command).run(stdin: stdin)
        return VerifyReport.blocks(inStderr: String(decoding: result.stderr, as: UTF8.self))
    }
}

/// Reads what `kiln run --cache verify` printed about blocks whose cached code differs.
public enum VerifyReport {
    /// What Kiln's `kiln: --cache verify: ...` lines say (the block, its entry and file, and
    /// how the code differs).
    public static func blocks(inStderr stderr: String) -> [String] {
        let prefix = "kiln: --cache verify: "
        return stderr.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }
}
