import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnCache
import KilnHost
import KilnRootfs
import KilnRuntime

/// `kiln run`: runs an arm64 Linux program. Kiln's options come first; everything from the
/// program name on belongs to the guest.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an arm64 Linux program.",
        discussion: """
            Absolute guest paths resolve inside the rootfs first, then on the host; a program \
            name without a slash is searched in the rootfs's /usr/bin, /bin and so on. Kiln exits \
            with the guest's exit status, or dies of the signal that killed the guest. Its own \
            errors use 127 (program or interpreter not found), 126 (cannot execute: not an \
            arm64 ELF program) and 125 (an instruction Kiln cannot run).
            """
    )

    @Option(name: .long, help: ArgumentHelp("Guest root filesystem.", discussion: "Default: $KILN_ROOTFS, else the directory `kiln rootfs fetch` fills."))
    var rootfs: String?

    @Flag(name: .long, help: "Run guest code on the IR interpreter.")
    var interp = false

    @Flag(name: .long, help: "Run guest code as x86-64 code from the JIT (the default).")
    var jit = false

    @Flag(name: .long, help: "Run every block on the interpreter and on the JIT from the same state; stop at the first difference (exit status 120).")
    var lockstep = false

    @Option(name: .long, help: ArgumentHelp("How changed guest code is noticed: icache (IC IVAU, the default), mtrack (also write-protect translated pages), full (re-check bytes before each block), none.",
                                            discussion: "Default: $KILN_SMC, else icache."))
    var smc: String?

    @Flag(name: .long, help: "Print each system call with its arguments and result to stderr.")
    var strace = false

    @Option(name: .customLong("strace-file"), help: "Write --strace output to this file instead (implies --strace).")
    var straceFile: String?

    @Flag(name: .customLong("count-instructions"), help: "Print the number of guest instructions executed to stderr at exit (runs the interpreter tier: translated code does not count).")
    var countInstructions = false

    @Flag(name: .customLong("regions"), help: "Print the guest's code regions (file-backed executable mappings) to stderr at exit.")
    var showRegions = false

    @Option(name: .customLong("cache"), help: ArgumentHelp("Translation cache mode: auto, off, readonly, required or verify.",
                                                            discussion: "Default: $KILN_CACHE, else auto."))
    var cacheMode: String?

    @Flag(name: .customLong("cache-report"), help: "Print a per-region cache report to stderr at exit (--cache-report=json for JSON; also KILN_CACHE_REPORT=1|json).")
    var cacheReport = false

    @Flag(name: .customLong("cache-report-json"), help: .hidden)
    var cacheReportJSON = false

    @Option(name: .customLong("argv0"), help: .hidden)
    var argv0: String?

    /// An execve'd child of a `--strace-file` run traces to the file its parent left open.
    @Option(name: .customLong("strace-descriptor"), help: .hidden)
    var straceDescriptor: Int32?

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments.")
    var command: [String] = []

    func run() throws {
        try RunArguments(self).run()
    }
}

extension RunArguments {
    /// The values the argument parser read into `command`.
    init(_ command: RunCommand) {
        self.init(rootfs: command.rootfs, interp: command.interp, jit: command.jit, lockstep: command.lockstep, smc: command.smc,
                  strace: command.strace, straceFile: command.straceFile, countInstructions: command.countInstructions,
                  showRegions: command.showRegions, cacheMode: command.cacheMode, cacheReport: command.cacheReport,
                  cacheReportJSON: command.cacheReportJSON, argv0: command.argv0, straceDescriptor: command.straceDescriptor,
                  command: command.command)
    }
}

extension RunArguments {
    /// Runs the guest program as `kiln run` was asked to.
    func run() throws {
        var command = self.command
        if command.first == "--" {
            command.removeFirst()
        } else if let first = command.first, first.hasPrefix("-") {
            throw ValidationError("Unknown option '\(first)' (put -- before a program whose name starts with '-').")
        }
        guard !command.isEmpty else {
            throw ValidationError("Missing the program to run.")
        }
        let hostEnvironment = HostEnvironment.all()
        let rootfsDirectory: String
        if let rootfs {
            rootfsDirectory = rootfs
        } else {
            let fallback = RootfsLocation.defaultDirectory(environment: hostEnvironment)
            rootfsDirectory = HostPath.exists(fallback) ? fallback : ""
        }
        if !rootfsDirectory.isEmpty, !HostPath.exists(rootfsDirectory) {
            Descriptor.writeError("kiln: rootfs \(rootfsDirectory) does not exist\n")
            throw ExitCode(127)
        }

        if interp && (jit || lockstep) {
            throw ValidationError("--interp excludes --jit and --lockstep.")
        }
        let smcName = smc ?? hostEnvironment["KILN_SMC"] ?? SMCMode.icache.name
        guard let smcMode = SMCMode(name: smcName) else {
            throw ValidationError("Unknown --smc mode '\(smcName)' (one of \(SMCMode.allCases.map(\.name).joined(separator: ", "))).")
        }
        guard let mode = CacheMode(rawValue: cacheMode ?? hostEnvironment["KILN_CACHE"] ?? "auto") else {
            throw ValidationError("Unknown cache mode '\(cacheMode ?? hostEnvironment["KILN_CACHE"] ?? "")' (auto, off, readonly, required, verify).")
        }
        // A parent's strace file the guest closed before this exec: no tracing (never the
        // guest's stderr instead).
        let inheritedTrace = straceDescriptor.flatMap { fcntl($0, F_SETFD, FD_CLOEXEC) == 0 ? $0 : nil }
        var options = RunOptions(rootfs: rootfsDirectory, strace: strace || straceFile != nil || inheritedTrace != nil,
                                 tier: interp ? .interpreter : .jit, lockstep: lockstep, smc: smcMode, cache: mode)
        if let inheritedTrace {
            options.straceDescriptor = inheritedTrace
        } else if let straceFile {
            // O_APPEND: execve'd children write to the same file (see Exec.swift).
            let fd = open(straceFile, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                Descriptor.writeError("kiln: cannot open \(straceFile): \(String(cString: strerror(errno)))\n")
                throw ExitCode(1)
            }
            // Far from the descriptors a guest opens, so it does not see or reuse it.
            options.straceDescriptor = fcntl(fd, F_DUPFD_CLOEXEC, 900)
            close(fd)
        }

        let arguments = RawCommandLine(captured: command.count)
        var environment: [[UInt8]] = []
        var entry = environ
        while let e = entry.pointee {
            environment.append(RawCommandLine.bytes(e))
            entry += 1
        }

        let process: GuestProcess
        do {
            let paths = PathResolver(rootfs: rootfsDirectory)
            let plan = try LaunchPlan(command: arguments.command(decoded: command), argv0: argv0.map { arguments.argv0(decoded: $0) },
                                      locator: ProgramLocator(paths: paths))
            process = try GuestProcess(programHostPath: plan.hostPath, programGuestPath: plan.guestPath,
                                       arguments: plan.arguments, environment: environment, options: options)
        } catch let error as RuntimeError {
            Descriptor.writeError("kiln: \(error)\n")
            throw ExitCode(error.exitStatus)
        }
        let report = cacheReportJSON ? .json : cacheReport ? .text : CacheReportFormat(environmentValue: hostEnvironment["KILN_CACHE_REPORT"])
        if !interp { CacheAttach.install(mode: mode, report: report, environment: hostEnvironment, process: process) }
        if showRegions {
            process.atExit {
                let lines = process.addressSpace.codeRegions.map { "kiln: code region \($0)\n" }.joined()
                diagnostic(lines)
            }
        }
        if countInstructions {
            process.runCountingInstructions { count in
                diagnostic("kiln: \(count) guest instructions\n")
            }
        }
        process.run()
    }
}

/// Writes a diagnostic to stderr at guest exit. The guest may have closed descriptor 2 by
/// then (coreutils do), so errors are ignored rather than raised as FileHandle would.
private func diagnostic(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
