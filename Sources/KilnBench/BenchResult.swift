#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// A whole benchmark report: what `report.json` holds (schema in docs/BENCH.md).
public struct BenchReport: Codable, Equatable, Sendable {
    /// `kiln-bench/1`; changes whenever a field changes meaning or goes away.
    public var schema: String
    public var kilnVersion: String
    /// ISO 8601, UTC.
    public var date: String
    public var host: BenchHost
    public var runs: Int
    public var warmup: Int
    public var workloads: [WorkloadResult]

    public static let schemaName = "kiln-bench/1"

    public init(kilnVersion: String, date: Date, host: BenchHost, runs: Int, warmup: Int, workloads: [WorkloadResult]) {
        schema = Self.schemaName
        self.kilnVersion = kilnVersion
        // To the nearest second, as ISO8601DateFormatter gave it.
        self.date = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded()).formatted(.iso8601)
        self.host = host; self.runs = runs; self.warmup = warmup; self.workloads = workloads
    }

    enum CodingKeys: String, CodingKey {
        case schema, date, host, runs, warmup, workloads
        case kilnVersion = "kiln_version"
    }
}

/// The machine a benchmark ran on.
public struct BenchHost: Codable, Equatable, Sendable {
    public var cpu: String
    public var cpus: Int
    public var kernel: String

    public init(cpu: String, cpus: Int, kernel: String) { self.cpu = cpu; self.cpus = cpus; self.kernel = kernel }

    /// This machine, from /proc/cpuinfo and uname.
    public static var current: BenchHost {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingWhitespace() } ?? "unknown"
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return BenchHost(cpu: model, cpus: ProcessInfo.processInfo.activeProcessorCount, kernel: "Linux " + release)
    }
}

/// One workload's results: a row per variant.
public struct WorkloadResult: Codable, Equatable, Sendable {
    public var name: String
    /// Steps run once before measuring (the bake), with their time.
    public var preparation: [StepResult]
    public var variants: [VariantResult]

    public init(name: String, preparation: [StepResult], variants: [VariantResult]) {
        self.name = name; self.preparation = preparation; self.variants = variants
    }
}

/// A preparation step's time.
public struct StepResult: Codable, Equatable, Sendable {
    public var name: String
    public var command: String
    public var seconds: Double
}

/// One variant's timed runs of a workload.
public struct VariantResult: Codable, Equatable, Sendable {
    public var name: String
    public var command: String
    /// "exit N" or "signal N" (every timed run ended the same way as the baseline's first).
    public var outcome: String
    /// Wall-clock seconds of each timed run, in the order they ran.
    public var samples: [Double]
    public var wall: Summary
    /// Medians of the runs' user and system CPU seconds.
    public var userSeconds: Double
    public var systemSeconds: Double
    /// Median relative change of this variant against the baseline: (median − baseline
    /// median) / baseline median; 0 for the baseline, −0.75 for four times faster.
    public var deltaVsBaseline: Double
    /// Baseline median / this median.
    public var speedupVsBaseline: Double
    /// Median seconds spent translating, from the cache report; nil when not a `kiln run`.
    public var translateSeconds: Double?
    /// Median seconds loading and attaching caches, from the cache report.
    public var loadSeconds: Double?
    /// translateSeconds / wall median.
    public var translateShare: Double?

    enum CodingKeys: String, CodingKey {
        case name, command, outcome, samples, wall
        case userSeconds = "user_seconds", systemSeconds = "system_seconds"
        case deltaVsBaseline = "delta_vs_baseline", speedupVsBaseline = "speedup_vs_baseline"
        case translateSeconds = "translate_seconds", loadSeconds = "load_seconds", translateShare = "translate_share"
    }
}

extension BenchReport {
    /// report.json's bytes: sorted keys, so reports diff cleanly.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}
