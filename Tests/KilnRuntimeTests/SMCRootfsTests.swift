import Foundation
import KilnTestSupport
import Testing

/// Debian programs that write and run code: PCRE2's JIT (grep -P, pcre2test), luajit, and
/// python's ctypes callbacks (libffi closures), under `kiln run` against qemu-aarch64 -L.
/// Required in CI (KILN_REQUIRE_ROOTFS=1; .ci/run fetches grep, pcre2-utils and luajit).
@Suite(.enabled(if: TestEnvironment.rootfsTestsEnabled)) struct SMCRootfsTests {
    static var rootfs: String { TestEnvironment.rootfsPath }
    static let environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": NSTemporaryDirectory(),
                              "PYTHONPYCACHEPREFIX": NSTemporaryDirectory() + "kiln-test-pycache"]

    /// Writes `text` to a new temporary file (unique: tests run in parallel) and returns its path.
    static func temporaryFile(_ name: String, _ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "kiln-smc-\(getpid())-\(UUID().uuidString)-\(name)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs `command` (first element a rootfs path) under qemu and under Kiln with each of
    /// `kilnOptions`; every Kiln run must print what qemu printed and end the same way.
    static func expectSameAsQemu(_ command: [String], kilnOptions: [[String]], stdin: String = "") throws {
        let qemu = try #require(TestEnvironment.which("qemu-aarch64"), "install qemu-user")
        let program = rootfs + command[0]
        try #require(FileManager.default.fileExists(atPath: program), "\(command[0]) missing from the rootfs (kiln rootfs fetch)")
        let hostCommand = [program] + command.dropFirst()
        let input = Data(stdin.utf8)
        let expected = try KilnBinary.run(qemu, ["-L", rootfs] + hostCommand, stdin: input, environment: environment)
        #expect(expected.status == 0, "qemu: \(expected.stderr)")
        for options in kilnOptions {
            let actual = try KilnBinary.run(hostCommand, tier: .jit, options: ["--rootfs", rootfs] + options, stdin: input, environment: environment)
            #expect(actual.status == expected.status && actual.signaled == expected.signaled, "\(options): \(actual.stderr)")
            #expect(actual.stdout == expected.stdout, "kiln \(options): \(actual.stdoutText)\nqemu: \(expected.stdoutText)\n\(actual.stderr)")
        }
    }

    static let everyMode = [["--smc", "icache"], ["--smc", "mtrack"], ["--smc", "full"]]

    /// The PCRE2 in the rootfs compiles patterns to ARM-64 code, so the grep -P tests below run
    /// guest-generated code.
    @Test func pcre2HasTheARM64JIT() throws {
        let result = try KilnBinary.run(["/usr/bin/pcre2test", "-C"], tier: .jit, options: ["--rootfs", Self.rootfs])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdoutText.contains("Just-in-time compiler support: ARM-64"), "\(result.stdoutText)")
    }

    @Test(arguments: [#"\d+[a-z]"#, #"^(\w+)@(\w+)\.com$"#, #"(?i)hello\s+world"#, #"(foo|bar)baz\1"#, #"x(?=y)"#])
    func grepPerlRegex(pattern: String) throws {
        let input = try Self.temporaryFile("grep-input", "foo123bar\nme@site.com\nHeLLo   WORLD\nfoobazfoo\nbarbazfoo\nxy xz\nnothing\n")
        defer { unlink(input) }
        try Self.expectSameAsQemu(["/usr/bin/grep", "-P", "-n", pattern, input], kilnOptions: Self.everyMode)
    }

    /// Many JIT-compiled patterns in one process: PCRE2 frees each pattern's code and reuses
    /// the executable memory for the next, so stale translations would run the old pattern
    /// (`--smc none` crashes here). `jitverify` marks each match "(JIT)".
    @Test func pcre2RecompilesPatternsIntoReusedMemory() throws {
        let patterns: [(String, [String])] = [
            (#"\d+[a-z]"#, ["foo123bar", "abc", "x99y7"]), ("(a|b)*c", ["ababc", "xyz"]),
            (#"^(\w+)@(\w+)\.com$"#, ["me@site.com", "bad@x"]), ("[aeiou]{2,}", ["queue", "rhythm"]),
            (#"(?i)hello\s+world"#, ["HeLLo   WORLD", "hello"]), (#"(\d{3})-(\d{4})"#, ["555-1234", "55-123"]),
            ("x(?=y)", ["xy", "xz"]), (#"(foo|bar)baz\1"#, ["foobazfoo", "barbazfoo"]),
        ]
        var script = ""
        for _ in 0..<4 {
            for (pattern, subjects) in patterns {
                script += "/\(pattern)/jitverify\n" + subjects.map { "    \($0)\n" }.joined() + "\n"
            }
        }
        let input = try Self.temporaryFile("pcre2test-input", script)
        defer { unlink(input) }
        try Self.expectSameAsQemu(["/usr/bin/pcre2test", input], kilnOptions: Self.everyMode)
    }

    static let luaNumeric = """
        local s = 0
        for i = 1, 300000 do s = (s + i * i) % 1000003 end
        local x = 0.0
        for i = 1, 100000 do x = x + math.sin(i) * 0.5 end
        print(s, string.format("%.6f", x))
        """

    static let luaStrings = """
        local t = {}
        for i = 1, 20000 do t[#t + 1] = tostring(i * 7) .. "x" end
        local s = table.concat(t, ",")
        local n = 0
        for w in s:gmatch("(%d+)x") do n = n + #w end
        local r = {}
        for i = 1, 5000 do r[i] = string.format("%05d", i):reverse():upper() end
        table.sort(r)
        print(#s, n, r[1], r[#r], s:sub(1, 30))
        """

    /// luajit with its trace compiler on (the default) and off (`-joff`), under Kiln in every
    /// mode and under qemu: the same output.
    static let luaPrograms = ["numeric": luaNumeric, "strings": luaStrings]

    @Test(arguments: ["numeric", "strings"])
    func luajitWithAndWithoutItsJIT(name: String) throws {
        let script = try Self.temporaryFile("luajit-\(name).lua", Self.luaPrograms[name] ?? "")
        defer { unlink(script) }
        try Self.expectSameAsQemu(["/usr/bin/luajit", script], kilnOptions: Self.everyMode + [["--smc", "icache", "--lockstep"]])
        try Self.expectSameAsQemu(["/usr/bin/luajit", "-joff", script], kilnOptions: [["--smc", "icache"]])
    }

    /// A python function turned into a C function pointer (libffi writes a closure
    /// trampoline) and called back by libc's qsort.
    @Test func pythonCtypesCallbackThroughQsort() throws {
        let script = try Self.temporaryFile("ctypes.py", """
            import ctypes
            libc = ctypes.CDLL(None)
            CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
            calls = 0
            def descending(a, b):
                global calls
                calls += 1
                return b[0] - a[0]
            values = [5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4]
            for cmp in (CMP(descending), CMP(lambda a, b: a[0] - b[0]), CMP(lambda a, b: (a[0] % 3) - (b[0] % 3) or a[0] - b[0])):
                array = (ctypes.c_int * len(values))(*values)
                libc.qsort(array, len(array), ctypes.sizeof(ctypes.c_int), cmp)
                print(list(array))
            print(calls > 0)

            """)
        defer { unlink(script) }
        try Self.expectSameAsQemu(["/usr/bin/python3.11", script], kilnOptions: [["--smc", "icache"], ["--smc", "mtrack"]])
    }
}
