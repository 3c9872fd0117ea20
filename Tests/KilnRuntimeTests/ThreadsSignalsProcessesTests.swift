import Foundation
import KilnTestSupport
import Testing

/// Debian's python3.11 using threads, signal handlers and child processes under `kiln run`,
/// on both tiers. Required in CI (KILN_REQUIRE_ROOTFS=1).
@Suite(.enabled(if: TestEnvironment.rootfsTestsEnabled)) struct ThreadsSignalsProcessesTests {
    static var rootfs: String { TestEnvironment.rootfsPath }

    static func python(_ script: String, tier: Tier) throws -> KilnBinary.Result {
        try KilnBinary.run(["/usr/bin/python3.11", "-c", script], tier: tier, options: ["--rootfs", rootfs])
    }

    @Test(arguments: Tier.allCases) func pythonThreadsIncrementUnderALock(tier: Tier) throws {
        let script = """
            import threading
            n = 0
            lock = threading.Lock()
            def work():
                global n
                for _ in range(20000):
                    with lock:
                        n += 1
            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts: t.start()
            for t in ts: t.join()
            print(n, threading.active_count())
            """
        let result = try Self.python(script, tier: tier)
        #expect(result.stdoutText == "80000 1\n" && result.status == 0, "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func pythonSignalHandlerRunsForSIGUSR1(tier: Tier) throws {
        let script = """
            import os, signal
            signal.pthread_sigmask(signal.SIG_SETMASK, [])  # a test runner may hand down blocked signals
            got = []
            signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
            os.kill(os.getpid(), signal.SIGUSR1)
            print(got == [signal.SIGUSR1])
            """
        let result = try Self.python(script, tier: tier)
        #expect(result.stdoutText == "True\n" && result.status == 0, "\(result.stderr)")
    }

    @Test(arguments: Tier.allCases) func pythonSubprocessRunsItselfAsAChild(tier: Tier) throws {
        let script = """
            import subprocess, sys
            r = subprocess.run([sys.executable, "-c", "import sys; print(6*7); sys.exit(3)"], capture_output=True, text=True)
            print(r.returncode, r.stdout.strip())
            try:
                subprocess.run(["/nonexistent/program"])
            except FileNotFoundError:
                print("FileNotFoundError")
            """
        let result = try Self.python(script, tier: tier)
        #expect(result.stdoutText == "3 42\nFileNotFoundError\n" && result.status == 0, "\(result.stderr)")
    }

    /// CPython's own regression tests (Debian's libpython3.11-testsuite) on the default tier.
    /// Minutes of guest work, so only with a release binary or in CI (docs/RUNTIME.md,
    /// "CPython's regression tests"). test_subprocess's shell scripts need the rootfs's /bin/sh
    /// (dash, fetched by .ci/run).
    @Test(.enabled(if: KilnBinary.runsSlowCases)) func cpythonThreadSignalProcessSuitesPass() throws {
        let suites = ["test_thread", "test_queue", "test_threading", "test_signal", "test_subprocess"]
        let result = try KilnBinary.run(["/usr/bin/python3.11", "-m", "test"] + suites,
                                        tier: .jit, options: ["--rootfs", Self.rootfs])
        #expect(result.stdoutText.contains("Tests result: SUCCESS") && result.status == 0,
                "\(result.stdoutText.suffix(3000)) \(result.stderr.suffix(2000))")
    }
}
