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
import KilnRootfs
import KilnRuntime

/// `kiln bench`: measures a program without a cache, with a baked cache and, if asked, under
/// qemu-aarch64 and natively, in alternating runs; writes report.md, report.svg, report.json.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a program cold, with a baked cache, under qemu and natively.",
        discussion: """
            Runs the baseline (kiln run --cache off: a cold JIT), records codemaps (one kiln run) \
            and bakes (kiln bake), then runs prebuilt (kiln run --cache readonly), and with \
            --qemu and --native the peers; every \
            round runs each variant once, A B A B, after the warmup rounds. Prints the table and \
            writes report.md, report.svg and report.json (schema: docs/BENCH.md) into the report \
            directory. With --suite, the workloads come from a JSON file (docs/BENCH.md).
            """
    )

    @Option(help: "Timed runs of each variant (at least 1; default: 5, or the suite's).")
    var runs: Int?

    @Option(help: "Untimed runs of each variant before the timed ones (default: 1, or the suite's).")
    var warmup: Int?

    @Option(name: .customLong("report-dir"), help: "Where report.md, report.svg and report.json go.")
    var reportDirectory = "kiln-bench"

    @OptionGroup var environment: ToolEnvironmentOptions

    @Flag(help: "Also run the program under qemu-aarch64 -L ROOTFS.")
    var qemu = false

    @Option(help: ArgumentHelp("A native command doing the same work, run with /bin/sh -c.", valueName: "command"))
    var native: String?

    @Option(help: "A file fed to every run's standard input.")
    var stdin: String?

    @Option(help: "Benchmark the workloads of this JSON file instead of one program.")
    var suite: String?

    @Flag(name: .customLong("no-bake"), help: "Measure the caches already in the cache directory instead of baking first.")
    var noBake = false

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments.")
    var command: [String] = []

    func run() throws {
        let command = try guestCommand(self.command, allowEmpty: suite != nil)
        let rootfs = try environment.rootfsDirectory()
        let tool = KilnTool.current(rootfs: rootfs, cacheDirectory: environment.cacheDirectory)

        var workloads: [(name: String, command: [String], qemu: Bool, native: String?, stdin: String?)] = []
        var suiteRuns: Int?, suiteWarmup: Int?
        if let suite {
            guard command.isEmpty else { throw ValidationError("--suite takes the workloads from the file; give no program.") }
            guard native == nil, !qemu, stdin == nil else { throw ValidationError("with --suite, --qemu, --native and --stdin go in the suite file.") }
            let parsed = try BenchSuite(path: suite)
            suiteRuns = parsed.runs
            suiteWarmup = parsed.warmup
            workloads = parsed.workloads.map { ($0.name, $0.command, $0.qemu, $0.native, $0.stdinPath) }
        } else {
            workloads = [(command.map { HostPath.lastComponent($0) }.joined(separator: " "), command, qemu, native, stdin)]
        }
        let runs = self.runs ?? suiteRuns ?? 5
        let warmup = self.warmup ?? suiteWarmup ?? 1
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1 (got \(runs)).") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more (got \(warmup)).") }

        let qemuPath = workloads.contains(where: \.qemu) ? try locateQemu() : nil
        let planner = BenchPlanner(tool: tool, runs: runs, warmup: warmup, qemu: qemuPath)
        var plans: [BenchPlan] = []
        for workload in workloads {
            let hostProgram = try locateProgram(workload.command[0], rootfs: rootfs)
            var input = Data()
            if let path = workload.stdin {
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read stdin file \(path)") }
                input = data
            }
            plans.append(planner.plan(name: workload.name, command: workload.command, hostProgram: hostProgram,
                                      qemu: workload.qemu, native: workload.native, stdin: input, bake: !noBake,
                                      bakeProgram: KilnTool.bakeName(hostProgram: hostProgram, rootfs: rootfs)))
        }

        let progress = ProgressLine()
        var results: [WorkloadResult] = []
        for plan in plans {
            let runner = BenchRunner { variant, round, timed in
                let preparing = plan.preparation.contains { $0.name == variant }
                let phase = preparing ? "" : timed ? "run \(round - warmup + 1)/\(runs) " : "warmup \(round + 1)/\(warmup) "
                progress.show("bench \(plan.workload): \(phase)\(variant)")
            }
            do {
                results.append(try runner.run(plan))
            } catch let error as BenchError {
                progress.clear()
                throw ToolError(error.description)
            }
        }
        progress.clear()
        let report = BenchReport(kilnVersion: KilnVersion.string, date: Date(), host: .current, runs: runs, warmup: warmup, workloads: results)
        print(report.table(), terminator: "")
        try report.write(to: reportDirectory)
        print("report: \(reportDirectory)/report.md, report.svg, report.json")
    }
}

/// Where guest programs and caches come from, shared by bench, validate and demo.
struct ToolEnvironmentOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Guest root filesystem.", discussion: "Default: $KILN_ROOTFS, else the directory `kiln rootfs fetch` fills, if it exists."))
    var rootfs: String?

    @Option(name: .customLong("cache-dir"), help: "Cache directory for the runs and the bake (default: kiln's, $KILN_CACHE_DIR or ~/.cache/kiln).")
    var cacheDirectory: String?

    /// The rootfs to pass on, or nil when there is none (static programs need none).
    func rootfsDirectory() throws -> String? {
        if let rootfs {
            guard FileManager.default.fileExists(atPath: rootfs) else { throw ToolError("rootfs \(rootfs) does not exist") }
            return rootfs
        }
        if let env = ProcessInfo.processInfo.environment["KILN_ROOTFS"], !env.isEmpty { return env }
        let fallback = RootfsLocation.defaultDirectory()
        return FileManager.default.fileExists(atPath: fallback) ? fallback : nil
    }
}

/// A failure with a message for the user; exits with status 1.
struct ToolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Splits off the `--` and checks a program was given, as `kiln run` does.
func guestCommand(_ raw: [String], allowEmpty: Bool = false) throws -> [String] {
    var command = raw
    if command.first == "--" {
        command.removeFirst()
    } else if let first = command.first, first.hasPrefix("-") {
        throw ValidationError("Unknown option '\(first)' (put -- before a program whose name starts with '-').")
    }
    if command.isEmpty, !allowEmpty { throw ValidationError("Missing the program to run.") }
    return command
}

/// The host path of a guest program as `kiln run` would find it; a clear error if missing.
func locateProgram(_ program: String, rootfs: String?) throws -> String {
    do {
        return try ProgramLocator(paths: PathResolver(rootfs: rootfs ?? "")).locate(program).host
    } catch {
        throw ToolError("program not found: \(program)" + (rootfs == nil ? " (no rootfs; fetch one with `kiln rootfs fetch`)" : " (looked on the host and in \(rootfs!))"))
    }
}

/// qemu-aarch64 on PATH.
func locateQemu() throws -> String {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let candidate = "\(dir)/qemu-aarch64"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw ToolError("--qemu: qemu-aarch64 not found on PATH (Debian: apt-get install qemu-user)")
}

/// One self-overwriting status line on stderr when it is a terminal; silent otherwise.
final class ProgressLine: @unchecked Sendable {
    private let enabled = isatty(2) == 1

    func show(_ text: String) {
        guard enabled else { return }
        Descriptor.writeError("\r\u{1B}[K" + text)
    }

    func clear() {
        guard enabled else { return }
        Descriptor.writeError("\r\u{1B}[K")
    }
}
