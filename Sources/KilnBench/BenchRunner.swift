import KilnHost

/// Runs a `BenchPlan`: preparation once, then warmups and timed runs in alternating order.
public struct BenchRunner {
    /// Called before each run with (variant name, round, timed), for progress output.
    public var progress: (String, Int, Bool) -> Void

    public init(progress: @escaping (String, Int, Bool) -> Void = { _, _, _ in }) { self.progress = progress }

    public func run(_ plan: BenchPlan) throws -> WorkloadResult {
        guard plan.runs >= 1 else { throw BenchError.runsTooFew(plan.runs) }
        guard plan.warmup >= 0 else { throw BenchError.warmupNegative(plan.warmup) }
        guard !plan.variants.isEmpty else { throw BenchError.noVariants }

        var preparation: [StepResult] = []
        for step in plan.preparation {
            progress(step.name, 0, false)
            let result = try step.command.run(stdin: plan.stdin)
            guard !step.mustSucceed || (result.status == 0 && !result.signaled) else {
                throw BenchError.stepFailed(name: step.name, outcome: result.outcome, stderr: String(decoding: result.stderr, as: UTF8.self))
            }
            preparation.append(StepResult(name: step.name, command: render(step.command), seconds: result.wallSeconds))
        }

        var samples = [[ChildResult]](repeating: [], count: plan.variants.count)
        var expected: String?
        for (round, index, timed) in plan.schedule {
            let variant = plan.variants[index]
            progress(variant.name, round, timed)
            let result = try variant.command.run(stdin: plan.stdin)
            // Every variant must do the same work: a crash or a different status is not a time.
            if let expected, result.outcome != expected {
                throw BenchError.variantFailed(workload: plan.workload, variant: variant.name, outcome: result.outcome,
                                               expected: expected, stderr: String(decoding: result.stderr, as: UTF8.self))
            }
            expected = expected ?? result.outcome
            if timed { samples[index].append(result) }
        }

        let baselineMedian = Summary(samples[0].map(\.wallSeconds))!.median
        let variants = plan.variants.indices.map { index -> VariantResult in
            let runs = samples[index]
            let wall = Summary(runs.map(\.wallSeconds))!
            let timings = plan.variants[index].reportsCacheTimings
                ? runs.compactMap { CacheReportTimings.parse(stderr: String(decoding: $0.stderr, as: UTF8.self)) } : []
            let translate = Summary(timings.map(\.translateSeconds))?.median
            let load = Summary(timings.compactMap(\.loadSeconds))?.median
            return VariantResult(
                name: plan.variants[index].name, command: render(plan.variants[index].command), outcome: runs[0].outcome,
                samples: runs.map(\.wallSeconds), wall: wall,
                userSeconds: Summary(runs.map(\.userSeconds))!.median, systemSeconds: Summary(runs.map(\.systemSeconds))!.median,
                deltaVsBaseline: (wall.median - baselineMedian) / baselineMedian,
                speedupVsBaseline: wall.median > 0 ? baselineMedian / wall.median : 0,
                translateSeconds: translate, loadSeconds: load,
                translateShare: translate.map { wall.median > 0 ? $0 / wall.median : 0 })
        }
        return WorkloadResult(name: plan.workload, preparation: preparation, variants: variants)
    }
}

/// A command line as a shell would accept it back.
public func render(_ command: ChildProcess) -> String {
    ([command.executable] + command.arguments).map(shellQuoted).joined(separator: " ")
}

/// `word` quoted for a POSIX shell when it needs to be.
public func shellQuoted(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+%@")
    if !word.isEmpty, word.allSatisfy({ safe.contains($0) }) { return word }
    return "'" + word.replacing("'", with: "'\\''") + "'"
}
