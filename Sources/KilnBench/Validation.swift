#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

/// What one mode's run of a program produced, as `kiln validate` compares it.
public struct ModeOutcome: Sendable {
    public var mode: String
    /// "exit N" or "signal N".
    public var outcome: String
    public var stdout: Data
    public var stderr: Data
    /// The normalised syscall trace (`SyscallTrace.normalize`).
    public var trace: [String]

    public init(mode: String, outcome: String, stdout: Data, stderr: Data, trace: [String]) {
        self.mode = mode; self.outcome = outcome; self.stdout = stdout; self.stderr = stderr; self.trace = trace
    }
}

/// The first place where two modes' runs differ in one aspect, with the lines around it.
public struct ValidationDifference: Codable, Equatable, Sendable {
    /// `exit status`, `stdout`, `stderr` or `syscall trace`.
    public var aspect: String
    /// The mode compared with the reference.
    public var mode: String
    public var reference: String
    /// 1-based line of the first difference (1 for the exit status).
    public var line: Int
    /// The reference's and the mode's lines from a few before the difference to a few after.
    public var expected: [String]
    public var actual: [String]
    /// Line number of the first entry of `expected` and `actual`.
    public var contextStart: Int

    enum CodingKeys: String, CodingKey {
        case aspect, mode, reference, line, expected, actual
        case contextStart = "context_start"
    }
}

/// The verdict of `kiln validate`: every mode against the first.
public struct ValidationReport: Codable, Equatable, Sendable {
    public struct Mode: Codable, Equatable, Sendable {
        public var mode: String
        public var outcome: String
        public var stdoutBytes: Int
        public var stderrBytes: Int
        public var syscalls: Int
        enum CodingKeys: String, CodingKey {
            case mode, outcome, syscalls
            case stdoutBytes = "stdout_bytes", stderrBytes = "stderr_bytes"
        }
    }

    /// `aligned` or `differs`.
    public var verdict: String
    public var program: [String]
    public var modes: [Mode]
    /// Every aspect that differs, for each mode other than the reference, in aspect order.
    public var differences: [ValidationDifference]
    /// Translated blocks blamed for a difference, from `--cache verify` (cache mode only).
    public var blocks: [String]
    /// Whether the `--cache verify` run was made (the cache mode differed).
    public var verifyRun: Bool

    public var aligned: Bool { differences.isEmpty }

    enum CodingKeys: String, CodingKey {
        case verdict, program, modes, differences, blocks
        case verifyRun = "verify_run"
    }

    /// Lines of context shown before and after a difference.
    public static let contextLines = 3

    /// Compares every outcome with the first.
    public init(program: [String], outcomes: [ModeOutcome]) {
        self.program = program
        modes = outcomes.map {
            Mode(mode: $0.mode, outcome: $0.outcome, stdoutBytes: $0.stdout.count, stderrBytes: $0.stderr.count, syscalls: $0.trace.count)
        }
        var differences: [ValidationDifference] = []
        if let reference = outcomes.first {
            for other in outcomes.dropFirst() {
                let aspects: [(String, [String], [String])] = [
                    ("exit status", [reference.outcome], [other.outcome]),
                    ("stdout", lines(reference.stdout), lines(other.stdout)),
                    ("stderr", lines(reference.stderr), lines(other.stderr)),
                    ("syscall trace", reference.trace, other.trace),
                ]
                for (aspect, expected, actual) in aspects {
                    if let difference = Self.firstDifference(aspect: aspect, mode: other.mode, reference: reference.mode, expected, actual) {
                        differences.append(difference)
                    }
                }
            }
        }
        self.differences = differences
        verdict = differences.isEmpty ? "aligned" : "differs"
        blocks = []
        verifyRun = false
    }

    /// The first line where `expected` and `actual` differ (a missing line counts), with context.
    static func firstDifference(aspect: String, mode: String, reference: String, _ expected: [String], _ actual: [String]) -> ValidationDifference? {
        guard expected != actual else { return nil }
        var index = 0
        while index < expected.count, index < actual.count, expected[index] == actual[index] { index += 1 }
        let start = max(0, index - contextLines)
        let end = index + contextLines + 1
        return ValidationDifference(
            aspect: aspect, mode: mode, reference: reference, line: index + 1,
            expected: Array(expected[start ..< min(end, expected.count)]), actual: Array(actual[start ..< min(end, actual.count)]),
            contextStart: start + 1)
    }

    /// Text for people: the verdict, each mode's outcome, and per mode the first difference
    /// with context (the remaining differing aspects named).
    public func renderText() -> String {
        var out = ""
        for mode in modes {
            out += "  \(mode.mode): \(mode.outcome), stdout \(mode.stdoutBytes) bytes, stderr \(mode.stderrBytes) bytes, \(mode.syscalls) syscalls\n"
        }
        var shown = Set<String>()
        for difference in differences {
            guard shown.insert(difference.mode).inserted else {
                out += "\(difference.mode) also differs from \(difference.reference) in \(difference.aspect) (line \(difference.line))\n"
                continue
            }
            out += "\(difference.mode) differs from \(difference.reference) in \(difference.aspect)"
            out += difference.aspect == "exit status" ? ":\n" : " at line \(difference.line):\n"
            out += Self.renderContext(difference)
        }
        if !blocks.isEmpty {
            out += "blocks whose cached code differs from a fresh translation (--cache verify):\n"
            for block in blocks { out += "  \(block)\n" }
        } else if verifyRun {
            out += "--cache verify: every cached block the run used matches a fresh translation; the difference is not in the cached code\n"
        }
        out += "verdict: \(verdict)\n"
        return out
    }

    /// A unified-diff-like view: shared lines once, then `- reference` / `+ mode` lines.
    static func renderContext(_ d: ValidationDifference) -> String {
        var out = ""
        let shared = d.line - d.contextStart
        for (offset, line) in d.expected.prefix(shared).enumerated() { out += String(printf: "  %5ld   ", d.contextStart + offset) + line + "\n" }
        let expectedRest = d.expected.dropFirst(shared), actualRest = d.actual.dropFirst(shared)
        for (offset, line) in expectedRest.enumerated() { out += String(printf: "  %5ld - ", d.line + offset) + line + "   [\(d.reference)]\n" }
        if expectedRest.isEmpty { out += "        - (end)   [\(d.reference)]\n" }
        for (offset, line) in actualRest.enumerated() { out += String(printf: "  %5ld + ", d.line + offset) + line + "   [\(d.mode)]\n" }
        if actualRest.isEmpty { out += "        + (end)   [\(d.mode)]\n" }
        return out
    }

    /// The report as JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}

/// `data` split into lines (a final line without a newline is a line too; a missing final
/// newline shows as a difference because the last line then carries a marker).
func lines(_ data: Data) -> [String] {
    var result = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if result.last == "" {
        result.removeLast()
    } else if !result.isEmpty {
        result[result.count - 1] += "\\ (no newline at end)"
    }
    return result
}
