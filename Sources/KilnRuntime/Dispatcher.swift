#if canImport(Glibc)
import Glibc
#endif
import KilnA64
import KilnCache
import KilnIR
import KilnHost

/// A translated block and the region base its IR is relative to.
struct TranslatedBlock {
    var ir: IRBlock
    var base: UInt64
}

/// The interpreter tier's main loop: look up the block at the guest pc (translating it on a
/// miss), run it on the IR interpreter, and handle how it exits.
final class Dispatcher {
    let process: GuestProcess
    var translator = A64Translator()
    var interpreter = IRInterpreter()
    var memory = HostGuestMemory()
    /// Blocks by guest pc. Dropped when their memory is unmapped or re-protected.
    var blocks = BlockCache<TranslatedBlock>()
    /// Guest instructions executed (blocks' lengths summed; counted only when `counting`).
    var instructions: UInt64 = 0
    var counting = false

    /// The guest thread this dispatcher runs (each guest thread has its own dispatcher).
    let thread: GuestThread

    init(process: GuestProcess, thread: GuestThread) {
        self.process = process
        self.thread = thread
        let start = monotonicNanoseconds()
        interpreter.environment = IRSystemEnvironment(counter: { (monotonicNanoseconds() &- start) })
        translator.lifter.zeroBlockSize = UInt64(interpreter.environment.zeroBlockSize)
        thread.invalidateTranslations = { [unowned self] invalidation in
            _ = self.blocks.removeBlocks(overlapping: invalidation.start, invalidation.end)
        }
    }

    /// Runs the guest thread until it exits.
    func run() {
        let state = thread.state
        while true {
            if thread.isInterrupted { process.serviceInterrupts(thread) }
            let pc = state.pc
            let block: TranslatedBlock
            if let cached = blocks.lookup(pc) {
                block = cached
            } else {
                block = Dispatcher.translate(pc, process: process, translator: &translator)
                blocks.insert(block, at: pc, length: UInt64(block.ir.guestLength))
            }
            if counting { instructions &+= UInt64(block.ir.guestLength / 4) }
            let result: IRExecutionResult
            do {
                if process.guestCatchesFaults {
                    var checked = CheckedGuestMemory(addressSpace: process.addressSpace)
                    result = try interpreter.run(block.ir, state: state, memory: &checked, regionBase: block.base)
                } else {
                    result = try interpreter.run(block.ir, state: state, memory: &memory, regionBase: block.base)
                }
            } catch {
                switch error {
                case let .memoryFault(fault, faultPC):
                    state.pc = faultPC
                    process.deliverMemoryFault(fault)
                    continue
                }
            }
            switch result.kind {
            case .syscall:
                process.syscall()
                if thread.hasExited { return }
            case .trap where result.trap == .instructionCacheMaintenance:
                if process.options.smc != .none {
                    let range = instructionCacheMaintenanceRange(encoding: result.info, state: state, cacheType: interpreter.environment.cacheType)
                    process.addressSpace.invalidateCode(range.start, range.end)
                }
                state.pc = result.pc &+ 4
            case .trap:
                if process.deliverTrap(pc: result.pc, kind: result.trap, info: result.info, translator: translator) { continue }
                Dispatcher.trap(pc: result.pc, kind: result.trap, info: result.info, process: process, translator: translator)
            default:
                break
            }
        }
    }

    /// Translates the block at `pc` from the mapping that holds it.
    static func translate(_ pc: UInt64, process: GuestProcess, translator: inout A64Translator) -> TranslatedBlock {
        guard let mapping = process.addressSpace.mapping(containing: pc), mapping.isExecutable else {
            CrashReporter.guestCrash(signal: SIGSEGV, pc: pc, detail: "jump to non-executable address \(hex(pc))")
        }
        guard pc & 3 == 0 else { CrashReporter.guestCrash(signal: SIGBUS, pc: pc, detail: "misaligned pc") }
        let code = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(mapping.start)), count: Int(mapping.end - mapping.start))
        if mapping.file != nil {
            let base = mapping.base
            translator.translate(code: code, codeOffset: mapping.start &- base, at: pc &- base, addressing: .region)
            return TranslatedBlock(ir: translator.block, base: base)
        }
        translator.translate(code: code, codeOffset: mapping.start, at: pc, addressing: .absolute)
        return TranslatedBlock(ir: translator.block, base: 0)
    }

    /// Ends the process for a trap exit at `pc`: the guest's signal, or Kiln's own limitation.
    static func trap(pc: UInt64, kind: IRTrapKind, info: UInt32, process: GuestProcess, translator: A64Translator) -> Never {
        let encoding = String(info, radix: 16)
        let word = String(repeating: "0", count: max(0, 8 - encoding.count)) + encoding
        switch kind {
        case .breakpoint:
            CrashReporter.guestCrash(signal: SIGTRAP, pc: pc, detail: "brk #\(hex(UInt64(info)))")
        case .undefined:
            CrashReporter.guestCrash(signal: SIGILL, pc: pc, detail: "undefined instruction \(word)")
        case .unimplemented, .unallocated, .instructionCacheMaintenance:
            let decoded = translator.decoder.decode(info)
            // An encoding no arm64 CPU has raises SIGILL there too; a real instruction Kiln
            // cannot run is Kiln's limitation and says so.
            guard decoded.index >= 0 else { CrashReporter.guestCrash(signal: SIGILL, pc: pc, detail: "unallocated instruction \(word)") }
            let mnemonic = translator.decoder.table[Int(decoded.index)].mnemonic
            process.strace?.flush()
            let message = "kiln: unsupported instruction \(mnemonic) (\(word)) at \(process.describe(pc))\n"
            Descriptor.writeAll(2, message)
            exit(RuntimeError.unsupportedInstruction(message).exitStatus)
        }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension GuestProcess {
    /// Runs the guest to its end on the tier of `options`; exits the host process with its
    /// status (or its signal). If the JIT's code buffer cannot be mapped, the interpreter runs.
    public func run() -> Never {
        runDispatcher(on: mainThread)
        // The main thread called exit while others run: the process ends with the last
        // thread. This host thread only waits, with every signal blocked.
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, nil)
        while true { pause() }
    }

    /// Runs the guest counting executed guest instructions on the interpreter tier (chained
    /// translated code does not return to a place that could count); `report` gets the count
    /// at exit.
    public func runCountingInstructions(report: @escaping (UInt64) -> Void) -> Never {
        let dispatcher = Dispatcher(process: self, thread: mainThread)
        dispatcher.counting = true
        atExit { report(dispatcher.instructions) }
        dispatcher.run()
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, nil)
        while true { pause() }
    }
}
