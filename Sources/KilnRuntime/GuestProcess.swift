#if canImport(Glibc)
import Glibc
#endif
import KilnA64
import KilnCache
import KilnELF
import KilnIR

/// How to run a guest program.
public struct RunOptions: Sendable {
    /// The rootfs directory ("" for none).
    public var rootfs: String
    /// Print every system call to `straceDescriptor`.
    public var strace: Bool
    /// Where `--strace` writes (stderr by default).
    public var straceDescriptor: Int32
    /// The engine that runs guest code (execve'd arm64 children inherit it).
    public var tier: ExecutionTier
    /// JIT tier only: run every block on the interpreter too and stop at the first difference.
    public var lockstep: Bool
    /// How changed guest code is noticed (`--smc`, `KILN_SMC`).
    public var smc: SMCMode
    /// How translation caches are used (`--cache`, `KILN_CACHE`); execve'd children inherit it.
    public var cache: CacheMode
    public init(rootfs: String, strace: Bool = false, straceDescriptor: Int32 = 2, tier: ExecutionTier = .jit, lockstep: Bool = false,
                smc: SMCMode = .icache, cache: CacheMode = .auto) {
        self.rootfs = rootfs; self.strace = strace; self.straceDescriptor = straceDescriptor; self.tier = tier
        self.lockstep = lockstep; self.smc = smc; self.cache = cache
    }
}

/// A guest Linux process: its memory map, its threads, system call and signal state. One
/// `GuestProcess` per host process; each guest thread is a host thread (see `GuestThread`).
public final class GuestProcess {
    public let options: RunOptions
    public let paths: PathResolver
    public let addressSpace = GuestAddressSpace()
    /// The live guest threads; `postToEveryThread` reaches each one's dispatcher.
    public let threads = ThreadRegistry()
    /// The thread that ran the program's entry point.
    public let mainThread = GuestThread(state: GuestCPUState())
    /// The CPU state of the guest thread running on the calling host thread.
    public var state: GuestCPUState { currentThread.state }
    /// The guest thread running on the calling host thread.
    var currentThread: GuestThread { GuestThread.current ?? mainThread }
    /// Host path of the program file, and the path the guest knows it by (/proc/self/exe).
    public let programHostPath: String
    public let programGuestPath: String
    /// Kiln's own executable (execve of arm64 programs runs it again).
    let kilnExecutable = readLink("/proc/self/exe") ?? "/proc/self/exe"
    /// The auxiliary vector given to the guest (/proc/self/auxv).
    public private(set) var auxv: [(UInt64, UInt64)] = []
    public private(set) var entryPoint: UInt64 = 0

    /// Guest signal dispositions: handler, flags, restorer, mask (struct sigaction, arm64),
    /// shared by all threads and guarded by `signalLock`.
    var signalActions = [[UInt64]](repeating: [0, 0, 0, 0], count: 65)
    let signalLock = HostMutex()
    /// Guest address of the rt_sigreturn trampoline (mapped at the first signal delivery).
    var signalReturnTrampoline: UInt64 = 0
    var warnedSyscalls = Set<UInt64>()
    /// Guards `warnedSyscalls` (threads' calls run concurrently).
    let warningLock = HostMutex()
    /// Host descriptors Kiln itself uses (strace file, codemap, report, the rootfs); the guest
    /// may not close them. A few at most, so an array: a Set<Int32> made every start look up
    /// Int32's Hashable conformance, a scan of the binary's ~4,000 conformance records.
    private(set) var reservedDescriptors: [Int32] = [] {
        didSet { lowestReservedDescriptor = reservedDescriptors.min() ?? .max }
    }

    /// Adds `fd` to `reservedDescriptors`.
    func reserveDescriptor(_ fd: Int32) {
        if !reservedDescriptors.contains(fd) { reservedDescriptors.append(fd) }
    }

    /// The smallest reserved descriptor: a system call's descriptor arguments are compared
    /// with it before the list is searched.
    private(set) var lowestReservedDescriptor = Int32.max
    /// `--smc mtrack`'s write-protected code pages (see `codeWriteTracker()`).
    var codeWrites: CodeWriteTracker?
    let codeWritesLock = HostMutex()
    let strace: Strace?
    /// Run just before the process exits (diagnostic reports).
    private var exitHooks: [() -> Void] = []

    /// O_PATH (x86-64 Linux), which Glibc's Swift overlay does not export.
    static let openPath: Int32 = 0o10000000

    /// Loads `program` (a guest path or host path, already located) with `arguments` (argv,
    /// including argv[0]) and `environment` ("NAME=value"), each a C string's bytes without
    /// the NUL: they reach the guest byte for byte, UTF-8 or not.
    public init(programHostPath: String, programGuestPath: String, arguments: [[UInt8]], environment: [[UInt8]], options: RunOptions) throws {
        self.options = options
        // The rootfs opened once, for the resolver's existence checks: kept above the guest's
        // descriptors and reserved, so the guest can neither see it nor close or replace it.
        var rootDescriptor: Int32 = -1
        if !options.rootfs.isEmpty {
            let opened = open(options.rootfs, GuestProcess.openPath | O_DIRECTORY | O_CLOEXEC)
            if opened >= 0 { rootDescriptor = CacheFile.moveOutOfGuestRange(opened) }
        }
        self.paths = PathResolver(rootfs: options.rootfs, home: getenv("HOME").map { String(cString: $0) }, rootDescriptor: rootDescriptor)
        self.programHostPath = programHostPath
        self.programGuestPath = programGuestPath
        strace = options.strace ? Strace(descriptor: options.straceDescriptor) : nil
        if rootDescriptor >= 0 { reserveDescriptor(rootDescriptor) }
        if options.strace, options.straceDescriptor > 2 { reserveDescriptor(options.straceDescriptor) }
        mainThread.makeCurrent()
        threads.add(mainThread)
        addressSpace.invalidate = { [unowned self] start, end in
            self.issueInvalidation(start, end)
        }
        CrashReporter.install(self)

        let loader = ELFLoader(addressSpace: addressSpace)
        let elf = try ELFLoader.open(programHostPath)
        let program = try loader.load(elf, path: programHostPath, isMain: true)
        addressSpace.setBreakStart(program.end)
        var interpreterBase: UInt64 = 0
        entryPoint = program.entry
        if let interp = program.interpreter {
            // The interpreter must come from the rootfs: the host's would be an x86-64 one.
            let hostInterp = options.rootfs.isEmpty ? interp : options.rootfs + interp
            guard access(hostInterp, F_OK) == 0 else {
                throw RuntimeError.missingInterpreter(programGuestPath, tried: options.rootfs.isEmpty ? interp : options.rootfs + interp)
            }
            let interpELF: ELFFile
            do {
                interpELF = try ELFLoader.open(hostInterp)
            } catch RuntimeError.programNotFound {
                throw RuntimeError.missingInterpreter(programGuestPath, tried: hostInterp)
            }
            let image = try loader.load(interpELF, path: hostInterp, isMain: false)
            interpreterBase = image.bias
            entryPoint = image.entry
        }

        let stackBottom = GuestLayout.stackTop - GuestLayout.stackSize
        let stackProt = PROT_READ | PROT_WRITE | (program.executableStack ? PROT_EXEC : 0)
        let r = addressSpace.map(address: stackBottom, length: GuestLayout.stackSize, protection: stackProt,
                                 flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, fd: -1, offset: 0)
        guard r >= 0 else { throw RuntimeError.cannotMap(path: "[stack]", address: stackBottom, errno: Int32(-r)) }
        let stack = InitialStack.build(top: GuestLayout.stackTop, arguments: arguments, environment: environment,
                                       executableName: programGuestPath, program: program, interpreterBase: interpreterBase)
        auxv = stack.auxv
        state.sp = stack.sp
        state.pc = entryPoint
    }

    /// The auxiliary vector as the bytes /proc/self/auxv holds.
    var auxvBytes: [UInt8] {
        var bytes: [UInt8] = []
        for (tag, value) in auxv {
            withUnsafeBytes(of: tag.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
        }
        return bytes
    }

    /// "file+0xoffset" for a guest address in a file mapping, else the bare address.
    public func describe(_ address: UInt64) -> String {
        guard let m = addressSpace.mapping(containing: address), let file = m.file else { return hex(address) }
        return "\(hex(address)) (\(paths.guestPath(file.path))+\(hex(m.fileOffset + (address - m.start))))"
    }

    /// Registers `report` to run when the guest exits (not when it dies of a signal).
    public func atExit(_ report: @escaping () -> Void) { exitHooks.append(report) }

    /// Ends the process with the guest's exit status. With other threads still running
    /// guest code, the host process ends without running its own exit-time teardown under
    /// them; a vfork child (sharing the parent's memory) never runs the parent's hooks.
    func exitProcess(_ status: Int32) -> Never {
        strace?.flush()
        if currentThread.isVforkChild { _exit(status & 0xff) }
        exitHooks.forEach { $0() }
        if threads.count > 1 {
            fflush(nil)
            _exit(status & 0xff)
        }
        exit(status & 0xff)
    }
}
