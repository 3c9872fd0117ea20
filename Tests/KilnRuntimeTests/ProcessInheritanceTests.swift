import Foundation
import KilnCache
import KilnTestSupport
import Testing

/// What a guest gets from `kiln run` and passes on through execve: argv and environment
/// bytes that are not UTF-8, and the run options an arm64 child inherits.
@Suite struct ProcessInheritanceTests {
    static var argsFixture: String { TestEnvironment.fixturesBinDirectory.appendingPathComponent("args").path }
    static var forkexecFixture: String { TestEnvironment.fixturesBinDirectory.appendingPathComponent("forkexec").path }

    /// Runs `command` (kiln or qemu, then its arguments) from the host's shell with the
    /// argument a\377b and KILN_FIXTURE_RAW=x\376y: bytes that are not UTF-8, which Swift's
    /// own process APIs cannot pass.
    static func runWithRawBytes(_ command: [String], environment: [String: String] = [:]) throws -> KilnBinary.Result {
        let script = #"export KILN_FIXTURE_RAW="$(printf 'x\376y')"; exec "$@" "$(printf 'a\377b')" c"#
        return try KilnBinary.run("/bin/sh", ["-c", script, "sh"] + command,
                                  environment: environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a })
    }

    /// The bytes qemu-aarch64 gives the args fixture (a static program: no rootfs needed).
    static func qemuArgsOutput() throws -> Data {
        let qemu = try #require(TestEnvironment.which("qemu-aarch64"), "install qemu-user")
        let expected = try runWithRawBytes([qemu, argsFixture])
        #expect(expected.status == 0, "\(expected.stderr)")
        let text = expected.stdout
        // The oracle itself saw the raw bytes (guards against a shell that mangles them).
        #expect(text.range(of: Data("argv[1]=a\u{FF}b\n".unicodeScalars.map { UInt8($0.value) })) != nil)
        #expect(text.range(of: Data("env KILN_FIXTURE_RAW=x\u{FE}y\n".unicodeScalars.map { UInt8($0.value) })) != nil)
        return text
    }

    @Test(.enabled(if: TestEnvironment.which("qemu-aarch64") != nil || TestEnvironment.rootfsRequired), arguments: Tier.allCases)
    func nonUTF8ArgumentsAndEnvironmentReachTheGuestAsBytes(tier: Tier) throws {
        let expected = try Self.qemuArgsOutput()
        let result = try Self.runWithRawBytes([KilnBinary.path, "run", tier.flag, Self.argsFixture])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected, "kiln: \(result.stdoutText)")
    }

    /// The same bytes through an execve: Debian's env (arm64) runs the fixture as a child Kiln.
    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled), arguments: Tier.allCases)
    func nonUTF8ArgumentsAndEnvironmentSurviveExecve(tier: Tier) throws {
        let expected = try Self.qemuArgsOutput()
        let result = try Self.runWithRawBytes([KilnBinary.path, "run", tier.flag, "--rootfs", TestEnvironment.rootfsPath,
                                               "/usr/bin/env", Self.argsFixture])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected, "kiln: \(result.stdoutText)")
    }

    /// execve of a `#!` script whose interpreter is a host (x86-64) program runs it natively,
    /// as the host kernel would. The rootfs is an empty directory, so /bin/sh is the host's;
    /// Debian's static busybox (arm64) makes the execve; uname -m tells where the script ran.
    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled), arguments: Tier.allCases)
    func scriptWithAHostInterpreterRunsNatively(tier: Tier) throws {
        let empty = NSTemporaryDirectory() + "kiln-empty-rootfs-\(getpid())-\(tier)"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let script = try temporaryExecutable(Array("#!/bin/sh\necho \"native $(uname -m) $1\"\n".utf8), name: "host-script-\(tier)")
        defer { unlink(script) }
        let busybox = TestEnvironment.rootfsPath + "/usr/bin/busybox"
        let result = try KilnBinary.run([busybox, "env", script, "arg"], tier: tier, options: ["--rootfs", empty],
                                        environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 0 && result.stdoutText == "native x86_64 arg\n", "\(result.stdoutText) \(result.stderr)")
    }

    /// argv[0] passes through execve as it is, even when it starts with '-' (as a login
    /// shell's does) and is not UTF-8: busybox's `exec -a` sets it for Debian's python3.11,
    /// which prints it (sys.orig_argv[0]).
    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled), arguments: Tier.allCases)
    func argv0ThroughExecveIsKept(tier: Tier) throws {
        let script = #"exec "$@" sh -c 'exec -a "$(printf -- "-x\375")" /usr/bin/python3.11 -c "$PRINT_ARGV0"'"#
        let print = "import os, sys; sys.stdout.buffer.write(os.fsencode(sys.orig_argv[0]) + b'\\n')"
        let result = try KilnBinary.run("/bin/sh", ["-c", script, "sh", KilnBinary.path, "run", tier.flag,
                                                     "--rootfs", TestEnvironment.rootfsPath, "/usr/bin/busybox"],
                                        environment: ["PATH": "/usr/bin:/bin", "PRINT_ARGV0": print])
        #expect(result.status == 0 && result.stdout == Data([0x2d, 0x78, 0xfd, 0x0a]), "\(result.stdoutText) \(result.stderr)")
    }

    /// A private cache directory (mode 0700, as the cache layer requires).
    final class CacheDir {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "kiln-inherit-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var codemaps: [String] {
            let directory = path + "/codemaps"
            return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".kcodemap") }.map { directory + "/" + $0 }
        }
    }

    /// `--cache off` on the command line reaches the execve'd children: none of the four
    /// processes records a codemap (a child reading only KILN_CACHE would use `auto`).
    @Test func cacheModeFromTheCommandLineReachesExecvedChildren() throws {
        let cache = try CacheDir()
        let result = try KilnBinary.run([Self.forkexecFixture], tier: .jit, options: ["--cache", "off"],
                                        environment: ["KILN_CACHE_DIR": cache.path, "KILN_FIXTURE_GREETING": "hi"])
        #expect(result.status == 0 && result.stdoutText.contains("execveat: status 7"), "\(result.stderr)")
        #expect(cache.codemaps.isEmpty, "\(cache.codemaps)")
    }

    /// Codemap records still buffered when a process execs reach its codemap file: Debian's
    /// env runs for well under the 2 s flush interval and then execs the fixture, so its
    /// records are written only by the flush before the exec.
    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled)) func codemapRecordsAreFlushedBeforeExecve() throws {
        let cache = try CacheDir()
        let result = try KilnBinary.run(["/usr/bin/env", Self.argsFixture, "x"], tier: .jit,
                                        options: ["--cache", "auto", "--rootfs", TestEnvironment.rootfsPath],
                                        environment: ["KILN_CACHE_DIR": cache.path, "KILN_FIXTURE_GREETING": "hi"])
        #expect(result.status == 0, "\(result.stderr)")
        let files = cache.codemaps
        #expect(files.count == 2, "one codemap per process: \(files)")
        for file in files {
            let contents = Codemap.readContents(path: file)
            #expect(!contents.offsets.isEmpty && contents.clean, "\(file) holds no records")
        }
        let paths = files.flatMap { Codemap.readContents(path: $0).paths.values }
        #expect(paths.contains { $0.hasSuffix("/usr/bin/env") } && paths.contains { $0.hasSuffix("/args") }, "\(paths)")
    }

    /// `--strace-file` traces the whole process tree into one file: children (forked, vforked,
    /// spawned, execve'd and execveat'd) append to it with their own pid on each line.
    @Test(arguments: Tier.allCases) func straceFileCollectsEveryProcess(tier: Tier) throws {
        let file = NSTemporaryDirectory() + "kiln-strace-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(file) }
        let result = try KilnBinary.run([Self.forkexecFixture], tier: tier, options: ["--strace-file", file],
                                        environment: ["KILN_FIXTURE_GREETING": "hi"])
        #expect(result.status == 0 && result.stdoutText.contains("execveat: status 7"), "\(result.stderr)")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        // Each process's last line is its exit_group: the parent, the fork+exec child, the vfork
        // child, both posix_spawn children, the execveat child.
        let exits = lines.filter { $0.contains(" exit_group(") }
        #expect(Set(exits.map { $0.prefix { $0 != " " } }).count == 6, "\(exits)")
        #expect(exits.filter { $0.hasSuffix("exit_group(7) = ?") }.count == 3, "\(exits)")
        // fork+exec and posix_spawn: two successful execve calls, each line ended before the exec.
        #expect(lines.filter { $0.contains(" execve(\"\(Self.forkexecFixture)\"") && $0.hasSuffix(")") }.count == 2, "\(lines)")
        #expect(lines.allSatisfy { Int32($0.prefix { $0 != " " }) != nil }, "every line starts with a pid")
    }
}
