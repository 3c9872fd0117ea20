import Foundation
import KilnHost
import Testing

@Suite struct ChildProcessTests {
    @Test func capturesOutputStatusAndStdin() throws {
        let result = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "cat; echo err >&2; exit 3"]).run(stdin: Data("in\n".utf8))
        #expect(result.status == 3)
        #expect(!result.signaled)
        #expect(String(decoding: result.stdout, as: UTF8.self) == "in\n")
        #expect(String(decoding: result.stderr, as: UTF8.self) == "err\n")
        #expect(result.wallSeconds > 0)
    }

    @Test func reportsDeathBySignal() throws {
        let result = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "kill -SEGV $$"]).run()
        #expect(result.signaled)
        #expect(result.status == SIGSEGV)
        #expect(result.outcome == "signal 11")
    }

    @Test func environmentIsTheGivenOne() throws {
        let result = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo $KILN_X; echo ${HOME:-unset}"], environment: ["KILN_X": "y", "PATH": "/usr/bin:/bin"]).run()
        #expect(String(decoding: result.stdout, as: UTF8.self) == "y\nunset\n")
    }

    @Test func missingExecutableIsAnError() {
        #expect(throws: ChildProcessError.self) { try ChildProcess(executable: "/nonexistent/kiln-nothing", arguments: []).run() }
    }

    @Test func streamsStdoutAndRunsInTheGivenDirectory() throws {
        var pieces: [UInt8] = []
        let result = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "pwd; echo err >&2"], workingDirectory: "/usr")
            .run { pieces += $0 }
        #expect(String(decoding: pieces, as: UTF8.self) == "/usr\n")
        #expect(String(decoding: result.stdout, as: UTF8.self) == "/usr\n")
        #expect(String(decoding: result.stderr, as: UTF8.self) == "err\n")
    }
}

@Suite struct HostPathTests {
    @Test func existsFollowsLinks() {
        #expect(HostPath.exists("/") && HostPath.exists("/proc/self/exe"))
        #expect(!HostPath.exists("/nonexistent/kiln"))
    }

    @Test func componentsAsNSStringTakesThem() {
        #expect(HostPath.lastComponent("/a/b/c") == "c")
        #expect(HostPath.lastComponent("a//b/") == "b")
        #expect(HostPath.lastComponent("/") == "/")
        #expect(HostPath.lastComponent("") == "")
        #expect(HostPath.deletingLastComponent("/a/b/c") == "/a/b")
        #expect(HostPath.deletingLastComponent("/a") == "/")
        #expect(HostPath.deletingLastComponent("ab") == "")
        #expect(HostPath.deletingLastComponent("a//b/") == "a")
    }

    @Test func standardizingRemovesDotsAndFollowsAbsoluteLinks() throws {
        #expect(HostPath.standardized("/r/fs/./usr//bin/../lib/") == "/r/fs/usr/lib")
        #expect(HostPath.standardized("a/./b/../c") == "a/b/../c")  // `..` is resolved in absolute paths only
        let directory = FileManager.default.temporaryDirectory.path + "/kiln-hostpath-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory + "/real/usr/bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let resolved = try #require(realpath(directory, nil))
        defer { free(resolved) }
        let real = String(cString: resolved)
        try FileManager.default.createSymbolicLink(atPath: directory + "/absolute", withDestinationPath: real + "/real")
        try FileManager.default.createSymbolicLink(atPath: directory + "/real/bin", withDestinationPath: "usr/bin")
        #expect(HostPath.standardized(directory + "/absolute/usr/bin/x") == real + "/real/usr/bin/x")
        #expect(HostPath.standardized(directory + "/absolute/../x") == real + "/x")
        #expect(HostPath.standardized(real + "/real/bin/x") == real + "/real/bin/x")
    }
}

@Suite struct TextTests {
    @Test func printfFormatsAsStringFormatDid() {
        #expect(String(printf: "%.1f ms", 12.25) == "12.2 ms")
        #expect(String(printf: "%+.1f%%", -0.04) == "-0.0%")
        #expect(String(printf: "%+.1f%%", 12.5) == "+12.5%")
        #expect(String(printf: "%.0f%%", 62.5) == "62%")
        #expect(String(printf: "  %5ld - ", 42) == "     42 - ")
        #expect(String(printf: "%.1f", 1e300).count == 303)
    }

    @Test func trimmingAsCharacterSetsDid() {
        #expect(" \t a b\u{00A0}".trimmingWhitespace() == "a b")
        #expect("\n a".trimmingWhitespace() == "\n a")
        #expect("   ".trimmingWhitespace() == "")
        #expect("[arch=arm64]".trimming { $0 == "[" || $0 == "]" } == "arch=arm64")
    }

    @Test func lastRangeSearchesBackwards() {
        let text = "wait4(P1) = = 5"
        #expect(text.lastRange(of: " = ").map { text.distance(from: text.startIndex, to: $0.lowerBound) } == 11)
        #expect("none".lastRange(of: " = ") == nil)
    }
}

@Suite struct HostEnvironmentTests {
    @Test func readsWhatFoundationReads() {
        setenv("KILN_TEST_VALUE_WITH_EQUALS", "a=b=c", 1)
        setenv("KILN_TEST_EMPTY", "", 1)
        let environment = HostEnvironment.all()
        #expect(environment == ProcessInfo.processInfo.environment)
        #expect(environment["KILN_TEST_VALUE_WITH_EQUALS"] == "a=b=c" && environment["KILN_TEST_EMPTY"] == "")
    }
}
