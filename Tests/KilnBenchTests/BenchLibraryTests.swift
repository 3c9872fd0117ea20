import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import KilnHost
import KilnTestSupport
import Testing
@testable import KilnBench

@Suite struct SummaryTests {
    @Test func medianOfOddAndEvenCounts() {
        #expect(Summary([3, 1, 2]) == Summary([1, 2, 3]))
        #expect(Summary([5, 1, 3])?.median == 3)
        #expect(Summary([4, 1, 3, 2])?.median == 2.5)
        #expect(Summary([4, 1, 3, 2])?.min == 1)
        #expect(Summary([4, 1, 3, 2])?.max == 4)
        #expect(Summary([]) == nil)
    }
}

@Suite struct ScheduleTests {
    @Test func variantsAlternateAfterWarmups() {
        let command = ChildProcess(executable: "/bin/true", arguments: [])
        let plan = BenchPlan(workload: "w", variants: ["a", "b", "c"].map { BenchVariant(name: $0, description: $0, command: command, reportsCacheTimings: false) },
                             runs: 2, warmup: 1)
        let order = plan.schedule.map { "\(plan.variants[$0.variant].name)\($0.timed ? "" : "*")" }
        #expect(order == ["a*", "b*", "c*", "a", "b", "c", "a", "b", "c"])
    }
}

@Suite struct KilnToolTests {
    @Test func commandLinesAreKilnsOwn() {
        let tool = KilnTool(executable: "/k/kiln", rootfs: "/r", environment: [:])
        #expect(render(tool.run(cache: "readonly", tier: "jit", options: ["--strace-file", "/t"], command: ["/usr/bin/lua5.4", "-e", "print(1)"]))
                == "/k/kiln run --rootfs /r --cache readonly --jit --strace-file /t -- /usr/bin/lua5.4 -e 'print(1)'")
        #expect(render(tool.bake(program: "/usr/bin/lua5.4")) == "/k/kiln bake --rootfs /r /usr/bin/lua5.4")
    }

    @Test func programsInTheRootfsAreBakedByTheirGuestPath() {
        #expect(KilnTool.bakeName(hostProgram: "/r/fs/usr/bin/python3.11", rootfs: "/r/fs") == "/usr/bin/python3.11")
        #expect(KilnTool.bakeName(hostProgram: "/r/fs/usr/bin/python3.11", rootfs: "/r/fs/") == "/usr/bin/python3.11")
        #expect(KilnTool.bakeName(hostProgram: "/r/fsx/bin/a", rootfs: "/r/fs") == "/r/fsx/bin/a")
        #expect(KilnTool.bakeName(hostProgram: "/work/fixtures/bin/canary", rootfs: nil) == "/work/fixtures/bin/canary")
        #expect(KilnTool.bakeName(hostProgram: "/work/fixtures/bin/canary", rootfs: "/") == "/work/fixtures/bin/canary")
    }
}

@Suite struct BenchRunnerTests {
    private func variant(_ name: String, _ script: String) -> BenchVariant {
        BenchVariant(name: name, description: name, command: ChildProcess(executable: "/bin/sh", arguments: ["-c", script]), reportsCacheTimings: true)
    }

    @Test func rejectsBadInput() {
        let one = [variant("a", "exit 0")]
        #expect(throws: BenchError.runsTooFew(0)) { try BenchRunner().run(BenchPlan(workload: "w", variants: one, runs: 0, warmup: 0)) }
        #expect(throws: BenchError.warmupNegative(-1)) { try BenchRunner().run(BenchPlan(workload: "w", variants: one, runs: 1, warmup: -1)) }
        #expect(throws: BenchError.noVariants) { try BenchRunner().run(BenchPlan(workload: "w", variants: [], runs: 1, warmup: 0)) }
    }

    @Test func aVariantThatEndsDifferentlyIsAnError() {
        #expect(throws: BenchError.self) {
            try BenchRunner().run(BenchPlan(workload: "w", variants: [variant("a", "exit 0"), variant("b", "echo broken >&2; exit 1")], runs: 1, warmup: 0))
        }
    }

    @Test func failedPreparationIsAnError() {
        let step = BenchStep(name: "bake", command: ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo no cache >&2; exit 2"]))
        do {
            _ = try BenchRunner().run(BenchPlan(workload: "w", variants: [variant("a", "exit 0")], runs: 1, warmup: 0, preparation: [step]))
            Issue.record("expected an error")
        } catch let error as BenchError {
            #expect(error.description.contains("bake failed (exit 2)"))
            #expect(error.description.contains("no cache"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func aRecordingStepMayEndAsTheProgramDoes() throws {
        let record = BenchStep(name: "record", command: ChildProcess(executable: "/bin/sh", arguments: ["-c", "exit 42"]), mustSucceed: false)
        let result = try BenchRunner().run(BenchPlan(workload: "w", variants: [variant("a", "exit 42")], runs: 1, warmup: 0, preparation: [record]))
        #expect(result.preparation.map(\.name) == ["record"])
        #expect(result.variants[0].outcome == "exit 42")
    }

    @Test func measuresEveryVariantAgainstTheBaseline() throws {
        let report = #"{"totals": {"translate_ns": 20000000, "load_ns": 1000000}}"#
        let plan = BenchPlan(workload: "sleepers", variants: [
            variant("baseline", "sleep 0.2; echo '\(report)' >&2"),
            variant("prebuilt", "sleep 0.05"),
        ], runs: 3, warmup: 1)
        let result = try BenchRunner().run(plan)
        #expect(result.variants.map(\.name) == ["baseline", "prebuilt"])
        #expect(result.variants.allSatisfy { $0.samples.count == 3 })
        let baseline = result.variants[0], prebuilt = result.variants[1]
        #expect(baseline.deltaVsBaseline == 0)
        #expect(baseline.wall.median >= 0.2)
        #expect(prebuilt.wall.median < baseline.wall.median)
        #expect(prebuilt.deltaVsBaseline < -0.3)
        #expect(prebuilt.speedupVsBaseline > 1.5)
        #expect(abs((baseline.translateSeconds ?? 0) - 0.02) < 1e-9)
        #expect(abs((baseline.loadSeconds ?? 0) - 0.001) < 1e-9)
        #expect((baseline.translateShare ?? 1) < 0.1)
        #expect(prebuilt.translateSeconds == nil)
    }
}

@Suite struct CacheReportTimingsTests {
    @Test func readsTheLastJSONObjectAfterGuestOutput() {
        let stderr = "guest says {not json}\n{\"totals\": {\"translate_ms\": 12}}\ntrailing\n{\n  \"regions\": [],\n  \"totals\": {\n    \"translate_seconds\": 0.5,\n    \"load_seconds\": 0.01\n  }\n}\n"
        #expect(CacheReportTimings.parse(stderr: stderr) == CacheReportTimings(translateSeconds: 0.5, loadSeconds: 0.01))
        #expect(CacheReportTimings.parse(stderr: "{\"totals\": {\"translate_ms\": 12}}") == CacheReportTimings(translateSeconds: 0.012, loadSeconds: nil))
        #expect(CacheReportTimings.parse(stderr: "no report\n") == nil)
        #expect(CacheReportTimings.parse(stderr: #"{"totals": {"translatingMs": 0.00, "loadingMs": 1}}"#) == CacheReportTimings(translateSeconds: 0, loadSeconds: 0.001))
        // kiln run --cache-report=json's own shape, after guest stderr without a final newline.
        let kiln = #"guest{"a": 1}{"mode": "off", "regions": [{"translatingMs": 9.5}], "totals": {"regions": 1, "attachMs": 0.25, "loadingMs": 0.75, "translatingMs": 12.5}}"# + "\n"
        #expect(CacheReportTimings.parse(stderr: kiln) == CacheReportTimings(translateSeconds: 0.0125, loadSeconds: 0.001))
        #expect(CacheReportTimings.parse(stderr: "{\"totals\": {\"entries\": 3}}") == nil)
    }
}

@Suite struct SyscallTraceTests {
    /// A child's id from clone names it wherever it appears later (wait4), so two runs whose
    /// children got different pids agree.
    @Test func normalisesProcessIdsAddressesAndIdResults() {
        let trace = """
            4242 brk(0x0) = 0x4a3000
            4242 mmap(0x0,0x21000,0x3,0x22,-1,0x0) = 0x7f12a000
            4242 openat(AT_FDCWD,"/tmp/0x7fff0000-4242",0x80000,0) = 3
            4242 getpid() = 4242
            4242 clone(0x1200011,0x0,0x0,0x0,0x0) = 4250
            4243 write(1,0x4a2010,14) = 14
            4242 wait4(4250,0x7ffd0010,0x0,0x0) = 4250
            4242 exit_group(0) = ?
            """
        #expect(SyscallTrace.normalize(trace) == [
            "P1 brk(0x0) = <addr>",
            "P1 mmap(0x0,0x21000,0x3,0x22,-1,0x0) = <addr>",
            "P1 openat(AT_FDCWD,\"/tmp/0x7fff0000-P1\",0x80000,0) = 3",
            "P1 getpid() = <pid>",
            "P1 clone(<addr>,0x0,0x0,0x0,0x0) = <pid>",
            "P3 write(1,<addr>,14) = 14",
            "P1 wait4(P2,<addr>,0x0,0x0) = P2",
            "P1 exit_group(0) = ?",
        ])
    }

    @Test func tracesOfDifferentRunsOfTheSameProgramAgree() {
        let a = "100 mmap(0x0,0x1000,0x3,0x22,-1,0x0) = 0x7f0000001000\n100 write(1,0x7f0000001000,3) = 3\n"
        let b = "200 mmap(0x0,0x1000,0x3,0x22,-1,0x0) = 0x7f5555551000\n200 write(1,0x7f5555551000,3) = 3\n"
        #expect(SyscallTrace.normalize(a) == SyscallTrace.normalize(b))
        let c = "200 mmap(0x0,0x1000,0x3,0x22,-1,0x0) = 0x7f5555551000\n200 write(1,0x7f5555551000,4) = 4\n"
        #expect(SyscallTrace.normalize(a) != SyscallTrace.normalize(c))
    }
}

@Suite struct ValidationReportTests {
    private func outcome(_ mode: String, _ status: String = "exit 0", stdout: String = "a\nb\nc\n", trace: [String] = ["P1 exit_group(0) = ?"]) -> ModeOutcome {
        ModeOutcome(mode: mode, outcome: status, stdout: Data(stdout.utf8), stderr: Data(), trace: trace)
    }

    @Test func identicalRunsAreAligned() {
        let report = ValidationReport(program: ["p"], outcomes: [outcome("interp"), outcome("jit"), outcome("cache")])
        #expect(report.aligned)
        #expect(report.verdict == "aligned")
        #expect(report.renderText().hasSuffix("verdict: aligned\n"))
    }

    @Test func firstDifferenceHasContextAndLineNumbers() throws {
        let expected = (1 ... 10).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let actual = expected.replacingOccurrences(of: "line 6\n", with: "line six\n")
        let report = ValidationReport(program: ["p"], outcomes: [outcome("jit", stdout: expected), outcome("cache", stdout: actual)])
        #expect(report.verdict == "differs")
        let difference = try #require(report.differences.first)
        #expect(difference.aspect == "stdout")
        #expect(difference.line == 6)
        #expect(difference.contextStart == 3)
        #expect(difference.expected == ["line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9"])
        #expect(difference.actual[3] == "line six")
        let text = report.renderText()
        #expect(text.contains("cache differs from jit in stdout at line 6:"))
        #expect(text.contains("      6 - line 6   [jit]"))
        #expect(text.contains("      6 + line six   [cache]"))
        #expect(text.hasSuffix("verdict: differs\n"))
    }

    @Test func everyAspectIsCompared() {
        let report = ValidationReport(program: ["p"], outcomes: [
            outcome("interp"),
            outcome("jit", "exit 1", stdout: "a\nb\n", trace: ["P1 exit_group(1) = ?"]),
        ])
        #expect(report.differences.map(\.aspect) == ["exit status", "stdout", "syscall trace"])
        #expect(report.differences[1].line == 3)
        #expect(report.differences[1].actual == ["a", "b"])
    }

    @Test func missingFinalNewlineIsADifference() {
        let report = ValidationReport(program: ["p"], outcomes: [outcome("interp", stdout: "x\n"), outcome("jit", stdout: "x")])
        #expect(report.differences.map(\.aspect) == ["stdout"])
    }

    @Test func jsonHasTheDocumentedFields() throws {
        let report = ValidationReport(program: ["p", "1"], outcomes: [outcome("interp"), outcome("jit", stdout: "z\n")])
        let object = try #require(try JSONSerialization.jsonObject(with: report.jsonData()) as? [String: Any])
        #expect(Set(object.keys) == ["verdict", "program", "modes", "differences", "blocks", "verify_run"])
        let difference = try #require((object["differences"] as? [[String: Any]])?.first)
        #expect(Set(difference.keys) == ["aspect", "mode", "reference", "line", "expected", "actual", "context_start"])
        let mode = try #require((object["modes"] as? [[String: Any]])?.first)
        #expect(Set(mode.keys) == ["mode", "outcome", "stdout_bytes", "stderr_bytes", "syscalls"])
    }
}

@Suite struct BenchSuiteTests {
    private func parse(_ json: String) throws -> BenchSuite { try BenchSuite(json: Data(json.utf8), baseDirectory: "/suites") }

    @Test func parsesWorkloadsWithDefaults() throws {
        #expect(try parse(#"{"runs": 1, "warmup": 0, "workloads": [{"command": ["a"], "qemu": false}]}"#).runs == 1)
        let suite = try parse(#"{"runs": 7, "workloads": [{"command": ["/usr/bin/lua5.4", "-e", "print(1)"], "qemu": true, "native": "lua -e 'print(1)'", "stdin": "in.txt"}, {"name": "canary", "command": ["fixtures/bin/canary", "3"]}]}"#)
        #expect(suite.runs == 7)
        #expect(suite.warmup == nil)
        #expect(suite.workloads[0].name == "lua5.4 -e print(1)")
        #expect(suite.workloads[0].qemu)
        #expect(suite.workloads[0].native == "lua -e 'print(1)'")
        #expect(suite.workloads[0].stdinPath == "/suites/in.txt")
        #expect(suite.workloads[1].name == "canary")
        #expect(!suite.workloads[1].qemu)
        #expect(suite.workloads[1].stdinPath == nil)
    }

    @Test func rejectsMalformedSuitesWithAReason() {
        let cases: [(String, String)] = [
            ("[1]", "must be a JSON object"),
            ("{", "not valid JSON"),
            (#"{"workloads": []}"#, "non-empty array"),
            (#"{"workloads": [{"command": []}]}"#, "workloads[0]: \"command\""),
            (#"{"workloads": [{"command": ["a"], "qemu": "yes"}]}"#, "\"qemu\" must be true or false"),
            (#"{"workloads": [{"command": ["a"], "colour": 1}]}"#, "unknown field \"colour\""),
            (#"{"runs": "five", "workloads": [{"command": ["a"]}]}"#, "\"runs\" must be an integer"),
            (#"{"runs": true, "workloads": [{"command": ["a"]}]}"#, "\"runs\" must be an integer"),
            (#"{"runs": 2.5, "workloads": [{"command": ["a"]}]}"#, "\"runs\" must be an integer"),
            (#"{"workloads": [{"command": ["a"], "qemu": 1}]}"#, "\"qemu\" must be true or false"),
            (#"{"workloads": [{"command": ["a"]}, {"command": ["a"]}]}"#, "two workloads are named \"a\""),
        ]
        for (json, message) in cases {
            do {
                _ = try parse(json)
                Issue.record("accepted \(json)")
            } catch {
                #expect("\(error)".contains(message), "\(json): \(error)")
            }
        }
    }
}

@Suite struct BenchReportTests {
    static func sample() -> BenchReport {
        func variant(_ name: String, _ samples: [Double], translate: Double?) -> VariantResult {
            let wall = Summary(samples)!
            return VariantResult(name: name, command: "kiln run x", outcome: "exit 0", samples: samples, wall: wall, userSeconds: 0.1, systemSeconds: 0.01,
                                 deltaVsBaseline: (wall.median - 0.4) / 0.4, speedupVsBaseline: 0.4 / wall.median,
                                 translateSeconds: translate, loadSeconds: translate.map { _ in 0.001 }, translateShare: translate.map { $0 / wall.median })
        }
        let workload = WorkloadResult(name: "canary <3>", preparation: [StepResult(name: "bake", command: "kiln bake x", seconds: 1.5)], variants: [
            variant("baseline", [0.4, 0.5, 0.3], translate: 0.3),
            variant("prebuilt", [0.1, 0.12, 0.09], translate: 0.0),
            variant("qemu", [0.2, 0.2, 0.2], translate: nil),
            variant("native", [0.002, 0.003, 0.002], translate: nil),
        ])
        return BenchReport(kilnVersion: "0.1.0", date: Date(timeIntervalSince1970: 0), host: BenchHost(cpu: "cpu", cpus: 2, kernel: "Linux 6"), runs: 3, warmup: 1, workloads: [workload])
    }

    @Test func tableHasEveryVariantWithDeltaAndShare() {
        let table = Self.sample().table()
        let rows = table.split(separator: "\n")
        #expect(rows.count == 6)
        #expect(rows[2] == "| canary <3> | baseline | 400.0 ms | 300.0 ms | 500.0 ms | — | 1.00x | 75% (300.0 ms) |")
        #expect(rows[3] == "| canary <3> | prebuilt | 100.0 ms | 90.0 ms | 120.0 ms | -75.0% | 4.00x | 0% (0.0 ms) |")
        #expect(rows[5].hasPrefix("| canary <3> | native | 2.0 ms |"))
    }

    @Test func svgHasABarPerVariantAndEscapesNames() throws {
        let svg = Self.sample().svg()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.components(separatedBy: "<rect x=").count - 1 == 4)
        #expect(svg.contains("canary &lt;3&gt;"))
        #expect(!svg.contains("canary <3>"))
        // Well-formed XML.
        _ = try XMLDocument(xmlString: svg)
    }

    @Test func writesTheThreeFilesWithTheDocumentedSchema() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-report-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.sample().write(to: directory + "/nested")
        let markdown = try String(contentsOfFile: directory + "/nested/report.md", encoding: .utf8)
        #expect(markdown.contains("![Median wall time per variant](report.svg)"))
        #expect(markdown.contains("| workload | variant | median | min | max | vs baseline | speed-up | translating |"))
        #expect(FileManager.default.fileExists(atPath: directory + "/nested/report.svg"))
        let data = try #require(FileManager.default.contents(atPath: directory + "/nested/report.json"))
        try BenchReportSchema.check(data)
        #expect(try JSONDecoder().decode(BenchReport.self, from: data) == Self.sample())
    }
}

/// The report.json schema as docs/BENCH.md documents it: exact key sets at every level.
enum BenchReportSchema {
    struct Mismatch: Error, CustomStringConvertible { var description: String }

    static func check(_ data: Data) throws {
        guard let top = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw Mismatch(description: "not an object") }
        try keys(top, ["schema", "kiln_version", "date", "host", "runs", "warmup", "workloads"], "top level")
        guard top["schema"] as? String == "kiln-bench/1" else { throw Mismatch(description: "schema is \(top["schema"] ?? "missing")") }
        try keys(top["host"], ["cpu", "cpus", "kernel"], "host")
        guard let workloads = top["workloads"] as? [[String: Any]], !workloads.isEmpty else { throw Mismatch(description: "no workloads") }
        for workload in workloads {
            try keys(workload, ["name", "preparation", "variants"], "workload")
            for step in workload["preparation"] as? [Any] ?? [] { try keys(step, ["name", "command", "seconds"], "preparation step") }
            guard let variants = workload["variants"] as? [[String: Any]], !variants.isEmpty else { throw Mismatch(description: "no variants") }
            for variant in variants {
                // Optional fields are omitted when absent (JSONEncoder), so they may be missing.
                let required: Set<String> = ["name", "command", "outcome", "samples", "wall", "user_seconds", "system_seconds", "delta_vs_baseline", "speedup_vs_baseline"]
                let optional: Set<String> = ["translate_seconds", "load_seconds", "translate_share"]
                let present = Set(variant.keys)
                guard required.isSubset(of: present), present.isSubset(of: required.union(optional)) else {
                    throw Mismatch(description: "variant keys \(present.sorted())")
                }
                try keys(variant["wall"], ["median", "min", "max"], "wall")
            }
        }
    }

    private static func keys(_ value: Any?, _ expected: Set<String>, _ place: String) throws {
        guard let object = value as? [String: Any], Set(object.keys) == expected else {
            throw Mismatch(description: "\(place): keys \((value as? [String: Any]).map { $0.keys.sorted() } ?? []) != \(expected.sorted())")
        }
    }
}
