#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

/// The `kiln` executable's own commands, run as child processes so each run is a fresh
/// process exactly as a user starts it: `kiln run` in a cache mode and tier, `kiln bake`.
public struct KilnTool: Sendable {
    /// Path of the kiln executable (normally this process's own, /proc/self/exe).
    public var executable: String
    /// `--rootfs` for every command, or nil for kiln's default.
    public var rootfs: String?
    /// The children's complete environment.
    public var environment: [String: String]

    public init(executable: String, rootfs: String?, environment: [String: String]) {
        self.executable = executable; self.rootfs = rootfs; self.environment = environment
    }

    /// This process's own executable, with the inherited environment less KILN_CACHE and
    /// KILN_CACHE_REPORT: each command says its cache mode and report itself, and a report
    /// the user asked for would otherwise land in every run's stderr.
    public static func current(rootfs: String?, cacheDirectory: String?) -> KilnTool {
        var environment = ProcessInfo.processInfo.environment
        environment["KILN_CACHE"] = nil
        environment["KILN_CACHE_REPORT"] = nil
        if let cacheDirectory { environment["KILN_CACHE_DIR"] = cacheDirectory }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return KilnTool(executable: executable, rootfs: rootfs, environment: environment)
    }

    /// `kiln run --cache MODE [--interp|--jit] OPTIONS... -- PROGRAM ARGS...`.
    public func run(cache: String, tier: String? = nil, options: [String] = [], command: [String]) -> ChildProcess {
        var arguments = ["run"] + rootfsArguments + ["--cache", cache]
        if let tier { arguments.append("--" + tier) }
        arguments += options + ["--"] + command
        return ChildProcess(executable: executable, arguments: arguments, environment: environment)
    }

    /// `kiln bake PROGRAM`: the program, its interpreter and libraries.
    public func bake(program: String) -> ChildProcess {
        ChildProcess(executable: executable, arguments: ["bake"] + rootfsArguments + [program], environment: environment)
    }

    private var rootfsArguments: [String] { rootfs.map { ["--rootfs", $0] } ?? [] }

    /// The caching workflow before a cached run: one run in the default mode (`auto`), which
    /// records in codemaps the code it executed, so the bake covers what static seeding cannot
    /// find (code reached only through computed branches); then `kiln bake`.
    public func recordAndBake(command: [String], bakeProgram: String?) -> [BenchStep] {
        [BenchStep(name: "record", command: run(cache: "auto", command: command), mustSucceed: false),
         BenchStep(name: "bake", command: bake(program: bakeProgram ?? command[0]))]
    }

    /// The program as `kiln bake` takes it: a file inside the rootfs by its guest path, so the
    /// bake closes over the libraries the guest's ld.so loads for it (given the host path of a
    /// file in the rootfs, `kiln bake` bakes that file alone).
    public static func bakeName(hostProgram: String, rootfs: String?) -> String {
        guard let rootfs, !rootfs.isEmpty else { return hostProgram }
        let root = HostPath.standardized(rootfs)
        let path = HostPath.standardized(hostProgram)
        return root != "/" && path.hasPrefix(root + "/") ? String(path.dropFirst(root.count)) : hostProgram
    }
}

/// Builds the benchmark of one workload: baseline (`--cache off`, a cold JIT); a recording run
/// and the bake; prebuilt (`--cache readonly`); and the peers asked for.
public struct BenchPlanner: Sendable {
    public var tool: KilnTool
    public var runs: Int
    public var warmup: Int
    /// qemu-aarch64's path, when the qemu variant is wanted.
    public var qemu: String?

    public init(tool: KilnTool, runs: Int, warmup: Int, qemu: String?) {
        self.tool = tool; self.runs = runs; self.warmup = warmup; self.qemu = qemu
    }

    /// - Parameters:
    ///   - command: the program (as `kiln run` takes it) and its arguments.
    ///   - hostProgram: the program's path on the host, for qemu.
    ///   - native: a shell command doing the same natively.
    ///   - bake: whether to bake before measuring (false measures the caches already there).
    ///   - bakeProgram: the program as `kiln bake` should be given it (default: `command[0]`).
    public func plan(name: String, command: [String], hostProgram: String, qemu wantsQemu: Bool, native: String?, stdin: Data,
                     bake: Bool = true, bakeProgram: String? = nil) -> BenchPlan {
        let report = ["--cache-report=json"]
        var variants = [
            BenchVariant(name: "baseline", description: "kiln, no cache (cold JIT)", command: tool.run(cache: "off", options: report, command: command), reportsCacheTimings: true),
            BenchVariant(name: "prebuilt", description: "kiln, baked cache", command: tool.run(cache: "readonly", options: report, command: command), reportsCacheTimings: true),
        ]
        if wantsQemu, let qemu {
            let rootfs = tool.rootfs.map { ["-L", $0] } ?? []
            // qemu opens the program by its host path; -0 gives the guest the argv[0] it gets
            // under kiln run. Programs derive paths from it: python3.11 takes its prefix from
            // argv[0], and with the rootfs path as prefix its start-up does other work (under
            // qemu 273 ms against 241 ms with -0 /usr/bin/python3.11).
            let arguments = ["-0", command[0]] + rootfs + [hostProgram] + command.dropFirst()
            variants.append(BenchVariant(name: "qemu", description: "qemu-aarch64", command: ChildProcess(executable: qemu, arguments: arguments, environment: tool.environment), reportsCacheTimings: false))
        }
        if let native {
            variants.append(BenchVariant(name: "native", description: "native x86-64", command: ChildProcess(executable: "/bin/sh", arguments: ["-c", native], environment: tool.environment), reportsCacheTimings: false))
        }
        let preparation = bake ? tool.recordAndBake(command: command, bakeProgram: bakeProgram) : []
        return BenchPlan(workload: name, variants: variants, runs: runs, warmup: warmup, stdin: stdin, preparation: preparation)
    }
}
