import Foundation
import KilnTestSupport
import Testing

/// One Debian program run: the command line (program resolved in the rootfs), its stdin, and
/// an optional shell pipeline for round trips.
struct DebianRun: CustomStringConvertible, Sendable {
    var name: String
    var command: [String]
    var stdin: String = ""
    /// Hundreds of millions of guest instructions (see `KilnBinary.runsSlowCases`).
    var slow = false
    var description: String { name }

    static var selected: [DebianRun] { all.filter { KilnBinary.runsSlowCases || !$0.slow } }

    static let all: [DebianRun] = [
        DebianRun(name: "lua-arithmetic", command: ["/usr/bin/lua5.4", "-e", "local s=0 for i=1,2000 do s=s+i*i%7 end print(s, 7//2, 2^10, 10/4, math.floor(-3.5))"]),
        DebianRun(name: "lua-strings-tables", command: ["/usr/bin/lua5.4", "-e",
            "local t={} for w in ('the quick brown fox'):gmatch('%a+') do t[#t+1]=w:upper() end table.sort(t) print(table.concat(t,','), string.format('%5.2f|%x', 3.14159, 255), ('abc'):rep(3))"]),
        DebianRun(name: "sqlite3-script", command: ["/usr/bin/sqlite3"],
                  stdin: "create table t(a integer, b text); insert into t values (1,'x'),(2,'y'),(3,'z'); select count(*), sum(a), group_concat(b) from t; select upper(b) from t order by a desc;\n"),
        DebianRun(name: "python-json-re-hashlib", command: ["/usr/bin/python3.11", "-c",
            "import json,re,hashlib,decimal,math,struct,zlib\nprint(json.dumps({'a':[1,2.5,None]},sort_keys=True))\nprint(re.findall(r'\\d+','a1b22c333'))\nprint(hashlib.sha256(b'kiln').hexdigest())\nprint(decimal.Decimal(1)/decimal.Decimal(7))\nprint(math.factorial(20), struct.pack('<IH',1,2).hex(), zlib.crc32(b'abc'))"], slow: true),
        DebianRun(name: "busybox-sha256sum", command: ["/bin/busybox", "sha256sum"], stdin: "hello kiln\n"),
        DebianRun(name: "busybox-sort", command: ["/bin/busybox", "sort", "-n"], stdin: "10\n9\n100\n-1\n"),
        DebianRun(name: "busybox-awk", command: ["/bin/busybox", "awk", "{s+=$1} END {print s, NR}"], stdin: "1\n2\n3\n"),
        DebianRun(name: "busybox-gzip", command: ["/bin/busybox", "gzip", "-c", "-n"], stdin: "gzip text\n"),
        DebianRun(name: "coreutils-sort", command: ["/usr/bin/sort", "-r"], stdin: "b\na\nc\n"),
        DebianRun(name: "coreutils-factor", command: ["/usr/bin/factor", "1234567", "600851475143"]),
        DebianRun(name: "coreutils-sha1sum", command: ["/usr/bin/sha1sum"], stdin: "kiln\n"),
        DebianRun(name: "coreutils-seq", command: ["/usr/bin/seq", "1", "3", "20"]),
        DebianRun(name: "perl-e", command: ["/usr/bin/perl", "-e", "my %h=(a=>1,b=>2); print join(',', map {\"$_=$h{$_}\"} sort keys %h), \"\\n\"; printf(\"%.3f\\n\", atan2(1,1)*4)"]),
        DebianRun(name: "gawk", command: ["/usr/bin/gawk", "BEGIN{for(i=1;i<=5;i++) s+=i*i; printf \"%d %s\\n\", s, toupper(\"ok\")}"]),
        DebianRun(name: "jq", command: ["/usr/bin/jq", "-c", "[.[] | .a * 2]"], stdin: "[{\"a\":1},{\"a\":21}]", slow: true),
        DebianRun(name: "bc", command: ["/usr/bin/bc", "-l"], stdin: "scale=10; 4*a(1)\n2^64\n"),
        DebianRun(name: "xz-roundtrip", command: ["/usr/bin/xz", "-c", "-1"], stdin: "xz round trip\n"),
    ]
}

/// Debian's arm64 programs under `kiln run` on both tiers against qemu-aarch64 -L on the same
/// command: same stdout, same exit status. Required in CI (KILN_REQUIRE_ROOTFS=1).
@Suite(.enabled(if: TestEnvironment.rootfsTestsEnabled)) struct RootfsProgramTests {
    static var rootfs: String { TestEnvironment.rootfsPath }

    @Test(arguments: DebianRun.selected)
    func matchesQemu(run: DebianRun) throws {
        let qemu = try #require(TestEnvironment.which("qemu-aarch64"), "install qemu-user")
        // Both run the program by its host path, so that python's prefix and so its bytecode
        // cache paths agree: qemu (first) compiles the modules, Kiln reads the cache.
        let program = Self.rootfs + run.command[0]
        try #require(FileManager.default.fileExists(atPath: program), "\(run.command[0]) missing from the rootfs (kiln rootfs fetch)")
        let command = [program] + run.command.dropFirst()
        let environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": NSTemporaryDirectory(),
                           "PYTHONPYCACHEPREFIX": NSTemporaryDirectory() + "kiln-test-pycache"]
        let stdin = Data(run.stdin.utf8)
        let expected = try KilnBinary.run(qemu, ["-L", Self.rootfs] + command, stdin: stdin, environment: environment)
        // Both tiers against one qemu run (the slow cases are slow under qemu too).
        for tier in Tier.allCases {
            let actual = try KilnBinary.run(command, tier: tier, options: ["--rootfs", Self.rootfs], stdin: stdin, environment: environment)
            #expect(actual.status == expected.status && actual.signaled == expected.signaled, "\(tier): \(actual.stderr)")
            #expect(actual.stdout == expected.stdout, "kiln \(tier): \(actual.stdoutText)\nqemu: \(expected.stdoutText)\n\(actual.stderr)")
        }
    }

    /// Every block of the quick programs under both the interpreter and the JIT from the same
    /// state (`--lockstep`, exit status 120 and the block on a difference). The random vectors
    /// and idioms miss shapes compilers emit: this found a pinned-register clobber in
    /// python3.11 (`sub w1, w3, w0; mov x0, x3`).
    @Test(arguments: DebianRun.all.filter { !$0.slow })
    func agreesInLockstep(run: DebianRun) throws {
        let program = Self.rootfs + run.command[0]
        try #require(FileManager.default.fileExists(atPath: program), "\(run.command[0]) missing from the rootfs (kiln rootfs fetch)")
        let result = try KilnBinary.run([program] + run.command.dropFirst(), tier: .jit,
                                        options: ["--rootfs", Self.rootfs, "--lockstep", "--cache", "off"],
                                        stdin: Data(run.stdin.utf8), environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C"])
        #expect(result.status == 0 && !result.stderr.contains("lockstep"), "\(result.stderr)")
    }

    @Test(arguments: [["/usr/bin/xz", "-c", "-1"], ["/bin/busybox", "gzip", "-c"]], Tier.allCases)
    func compressionRoundTrip(compress: [String], tier: Tier) throws {
        let input = Data((0..<2000).map { "line \($0)\n" }.joined().utf8)
        let compressed = try KilnBinary.run(compress, tier: tier, options: ["--rootfs", Self.rootfs], stdin: input)
        #expect(compressed.status == 0 && compressed.stdout.count < input.count, "\(compressed.stderr)")
        let decompress = compress[0].hasSuffix("xz") ? ["/usr/bin/xz", "-d", "-c"] : ["/bin/busybox", "gunzip", "-c"]
        let restored = try KilnBinary.run(decompress, tier: tier, options: ["--rootfs", Self.rootfs], stdin: compressed.stdout)
        #expect(restored.status == 0 && restored.stdout == input, "\(restored.stderr)")
    }

    @Test(arguments: Tier.allCases) func shellPipelineExecsArm64ChildrenUnderKiln(tier: Tier) throws {
        let script = "busybox gzip -c | busybox gunzip -c; uname -m; /usr/bin/lua5.4 -e 'print(6*7)'; exit 3"
        let result = try KilnBinary.run(["/bin/busybox", "sh", "-c", script], tier: tier, options: ["--rootfs", Self.rootfs],
                                        stdin: Data("through gzip\n".utf8), environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.stdoutText == "through gzip\naarch64\n42\n", "\(result.stderr)")
        #expect(result.status == 3)
    }

    @Test(arguments: Tier.allCases) func shebangScriptRunsItsInterpreter(tier: Tier) throws {
        let path = try temporaryExecutable(Array("#!/bin/busybox sh\necho \"script $0 $1\"\n".utf8), name: "script-\(tier).sh")
        defer { unlink(path) }
        let result = try KilnBinary.run([path, "arg"], tier: tier, options: ["--rootfs", Self.rootfs])
        #expect(result.stdoutText == "script \(path) arg\n", "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func procSelfExeIsTheGuestProgram(tier: Tier) throws {
        let result = try KilnBinary.run(["/usr/bin/readlink", "/proc/self/exe"], tier: tier, options: ["--rootfs", Self.rootfs])
        #expect(result.stdoutText == "/usr/bin/readlink\n", "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func procSelfAuxvIsTheGuests(tier: Tier) throws {
        let result = try KilnBinary.run(["/usr/bin/od", "-An", "-tx8", "-w16", "/proc/self/auxv"], tier: tier, options: ["--rootfs", Self.rootfs])
        let pairs = result.stdoutText.split(separator: "\n").map { $0.split(separator: " ").compactMap { UInt64($0, radix: 16) } }
        #expect(pairs.contains([6, 4096]), "AT_PAGESZ: \(result.stdoutText) \(result.stderr)")
        #expect(pairs.contains([16, 3]), "AT_HWCAP = FP|ASIMD")
        #expect(pairs.contains { $0.count == 2 && $0[0] == 7 && $0[1] != 0 && $0[1] < 0x100_0000_0000 }, "AT_BASE: the interpreter, in the guest range")
        #expect(pairs.last == [0, 0])
    }

    @Test(arguments: Tier.allCases) func codeRegionsNameTheMappedLibraries(tier: Tier) throws {
        let result = try KilnBinary.run(["/usr/bin/lua5.4", "-e", ""], tier: tier, options: ["--rootfs", Self.rootfs, "--regions"])
        #expect(result.status == 0)
        let regions = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: code region") }
        for file in ["/usr/bin/lua5.4", "/libc.so.6", "/ld-linux-aarch64.so.1"] {
            #expect(regions.contains { $0.contains(file) && $0.contains("inode") }, "\(file) in \(result.stderr)")
        }
        #expect(regions.contains { $0.hasPrefix("kiln: code region 0x5500000000-") && $0.contains("base 0x5500000000") }, "the PIE at its base")
    }

    @Test(arguments: Tier.allCases) func unameReportsAarch64(tier: Tier) throws {
        let result = try KilnBinary.run(["/usr/bin/uname", "-m"], tier: tier, options: ["--rootfs", Self.rootfs])
        #expect(result.stdoutText == "aarch64\n", "\(result.stderr)")
    }
}
