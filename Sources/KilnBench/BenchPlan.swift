#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

/// One way of running a workload that a benchmark compares: Kiln without caches, Kiln with a
/// prebuilt cache, qemu-aarch64, or the same work done natively.
public struct BenchVariant: Sendable {
    /// The variant's name in reports: `baseline`, `prebuilt`, `qemu`, `native`.
    public var name: String
    /// What it runs, for the report.
    public var description: String
    public var command: ChildProcess
    /// Whether the command is `kiln run` with `--cache-report=json`, whose timings give the
    /// share of time spent translating.
    public var reportsCacheTimings: Bool

    public init(name: String, description: String, command: ChildProcess, reportsCacheTimings: Bool) {
        self.name = name; self.description = description
        self.command = command; self.reportsCacheTimings = reportsCacheTimings
    }
}

/// What to benchmark: one workload under several variants. The first variant is the baseline
/// every other is compared with.
public struct BenchPlan: Sendable {
    public var workload: String
    public var variants: [BenchVariant]
    /// Timed runs of each variant.
    public var runs: Int
    /// Untimed runs of each variant before the timed ones (page cache, CPU frequency).
    public var warmup: Int
    /// Fed to every run.
    public var stdin: Data
    /// Work done once before the first run (recording codemaps, `kiln bake`), each fed
    /// `stdin`, timed and reported.
    public var preparation: [BenchStep]

    public init(workload: String, variants: [BenchVariant], runs: Int, warmup: Int, stdin: Data = Data(), preparation: [BenchStep] = []) {
        self.workload = workload; self.variants = variants; self.runs = runs
        self.warmup = warmup; self.stdin = stdin; self.preparation = preparation
    }

    /// Variant indices in the order they run: each round runs every variant once, A B A B, so
    /// drift (thermal, other load) falls on all of them alike. Warmup rounds come first.
    public var schedule: [(round: Int, variant: Int, timed: Bool)] {
        var order: [(Int, Int, Bool)] = []
        for round in 0 ..< warmup + runs {
            for variant in variants.indices { order.append((round, variant, round >= warmup)) }
        }
        return order
    }
}

/// A command run once before measuring, such as baking the cache.
public struct BenchStep: Sendable {
    public var name: String
    public var command: ChildProcess
    /// Whether anything but exit status 0 is a failure (false for a run of the workload
    /// itself, whose status is the program's own).
    public var mustSucceed: Bool
    public init(name: String, command: ChildProcess, mustSucceed: Bool = true) {
        self.name = name; self.command = command; self.mustSucceed = mustSucceed
    }
}

/// Input a benchmark cannot run with.
public enum BenchError: Error, CustomStringConvertible, Equatable {
    case runsTooFew(Int)
    case warmupNegative(Int)
    case programMissing(String)
    case noVariants
    case stepFailed(name: String, outcome: String, stderr: String)
    case variantFailed(workload: String, variant: String, outcome: String, expected: String, stderr: String)
    case suite(String)

    public var description: String {
        switch self {
        case .runsTooFew(let n): return "--runs must be at least 1 (got \(n))"
        case .warmupNegative(let n): return "--warmup must be 0 or more (got \(n))"
        case .programMissing(let path): return "program not found: \(path)"
        case .noVariants: return "nothing to compare: no variants"
        case .stepFailed(let name, let outcome, let stderr):
            return "\(name) failed (\(outcome))" + excerpt(stderr)
        case .variantFailed(let workload, let variant, let outcome, let expected, let stderr):
            return "\(workload): \(variant) ended with \(outcome) but the baseline with \(expected); the runs do not do the same work" + excerpt(stderr)
        case .suite(let message): return message
        }
    }
}

/// The last lines of a child's stderr, indented, for an error message.
func excerpt(_ stderr: String) -> String {
    let lines = stderr.split(separator: "\n", omittingEmptySubsequences: true).suffix(8)
    return lines.isEmpty ? "" : ":\n" + lines.map { "  " + $0 }.joined(separator: "\n")
}
