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

/// `kiln demo`: the README's first command. Runs the bundled arm64 canary cold, bakes it, runs
/// it warm, benchmarks both and validates the cache, in a temporary cache directory.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the bundled arm64 canary cold, bake it, run it warm, bench and validate.",
        discussion: """
            The canary (fixtures/bin/canary, source fixtures/src/canary.c, built by \
            fixtures/build.sh) is a static arm64 program: no rootfs is needed. Caches go to a \
            temporary directory that is removed afterwards, so the demo neither uses nor changes \
            your own. Exit status 0 when the validate verdict is "aligned".
            """
    )

    @Option(help: "Timed runs of each variant in the benchmark.")
    var runs = 5

    @Option(help: "The canary program (default: fixtures/bin/canary of this checkout).")
    var canary: String?

    func run() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1 (got \(runs)).") }
        let program = try canary ?? Self.locateCanary()
        guard FileManager.default.isReadableFile(atPath: program) else { throw ToolError("canary not found: \(program)") }
        let cacheDirectory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: cacheDirectory) }
        // No rootfs: the canary is static, and the demo must not depend on the user's state.
        let tool = KilnTool.current(rootfs: nil, cacheDirectory: cacheDirectory)
        let command = [program]
        let report = ["--cache-report=json"]

        print("Kiln demo: \(program) (arm64, static; source fixtures/src/canary.c)")
        print("cache directory: \(cacheDirectory) (temporary)\n")

        // The default mode with an empty cache directory: a cold JIT that records codemaps.
        let cold = try step("1. cold run, empty cache", tool.run(cache: "auto", options: report, command: command))
        print(indent(String(decoding: cold.stdout, as: UTF8.self)))
        _ = try step("2. bake", tool.bake(program: program))
        let files = Self.cacheFiles(in: cacheDirectory)
        let bytes = files.reduce(0) { $0 + $1.size }
        print("   \(files.count) cache file\(files.count == 1 ? "" : "s"), \(bytes) bytes: \(files.map(\.name).joined(separator: ", "))")
        let warm = try step("3. warm run, baked cache", tool.run(cache: "readonly", options: report, command: command))
        guard warm.stdout == cold.stdout else { throw ToolError("the warm run printed something else than the cold run") }
        print("   same output; \(String(printf: "%.2fx", cold.wallSeconds / max(warm.wallSeconds, 1e-9))) the speed of the cold run\n")

        let qemu = try? locateQemu()
        print("4. bench: \(runs) runs each after 1 warmup, alternating\(qemu == nil ? " (qemu-aarch64 not found: no qemu column)" : "")")
        let plan = BenchPlanner(tool: tool, runs: runs, warmup: 1, qemu: qemu)
            .plan(name: "canary", command: command, hostProgram: program, qemu: qemu != nil, native: nil, stdin: Data(), bake: false)
        let progress = ProgressLine()
        let workload: WorkloadResult
        do {
            workload = try BenchRunner { variant, _, _ in progress.show("   \(variant)") }.run(plan)
        } catch let error as BenchError {
            progress.clear()
            throw ToolError(error.description)
        }
        progress.clear()
        let benchReport = BenchReport(kilnVersion: KilnVersion.string, date: Date(), host: .current, runs: runs, warmup: 1, workloads: [workload])
        print(benchReport.table())
        if let prebuilt = workload.variants.first(where: { $0.name == "prebuilt" }) {
            print(prebuilt.speedupVsBaseline > 1
                  ? String(printf: "   prebuilt beats baseline: %.2fx faster (median)\n", prebuilt.speedupVsBaseline)
                  : String(printf: "   prebuilt does not beat baseline (%.2fx)\n", prebuilt.speedupVsBaseline))
        }

        print("5. validate: interp, jit, cache")
        let validation: ValidationReport
        do {
            validation = try Validator(tool: tool, modes: [.interp, .jit, .cache], bake: false) { progress.show("   \($0)") }
                .validate(command: command, stdin: Data())
        } catch let error as ValidationFailure {
            progress.clear()
            throw ToolError(error.description)
        }
        progress.clear()
        print(validation.renderText(), terminator: "")
        if !validation.aligned { throw ExitCode(1) }
    }

    /// Runs one demo step, prints its time, and fails on a non-zero status.
    private func step(_ title: String, _ command: ChildProcess) throws -> ChildResult {
        let result = try command.run()
        guard result.status == 0, !result.signaled else {
            throw ToolError("\(title): `\(render(command))` ended with \(result.outcome)\n" + String(decoding: result.stderr, as: UTF8.self))
        }
        var line = "\(title): \(formatSeconds(result.wallSeconds))"
        if let timings = CacheReportTimings.parse(stderr: String(decoding: result.stderr, as: UTF8.self)) {
            line += ", of which translating \(formatSeconds(timings.translateSeconds))"
        }
        // The kiln executable's own path is long and says nothing here.
        print(line + "   (" + (["kiln"] + command.arguments).map(shellQuoted).joined(separator: " ") + ")")
        return result
    }

    private func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "   | " + $0 }.joined(separator: "\n")
    }

    /// fixtures/bin/canary in the working directory, else above the kiln executable
    /// (.build/release/kiln inside a checkout).
    static func locateCanary() throws -> String {
        let relative = "fixtures/bin/canary"
        let cwd = FileManager.default.currentDirectoryPath + "/" + relative
        if FileManager.default.fileExists(atPath: cwd) { return cwd }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent(relative).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw ToolError("cannot find \(relative): run kiln demo from a Kiln checkout, or pass --canary PATH")
    }

    /// A new private directory (mode 0700, as the cache directory must be).
    static func temporaryDirectory() throws -> String {
        var template = Array(temporaryPath("kiln-demo.XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ToolError("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// Cache files (*.kcache) under `directory`, by name.
    static func cacheFiles(in directory: String) -> [(name: String, size: Int)] {
        guard let paths = try? FileManager.default.subpathsOfDirectory(atPath: directory) else { return [] }
        var files: [(String, Int)] = []
        for path in paths where path.hasSuffix(".kcache") {
            // The size attribute is a UInt (corelibs Foundation bridged it to Int through NSNumber).
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + path)[.size] as? any BinaryInteger).map { Int($0) } ?? 0
            files.append((HostPath.lastComponent(path), size))
        }
        return files.sorted { $0.0 < $1.0 }
    }
}
