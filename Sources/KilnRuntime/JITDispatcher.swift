#if canImport(Glibc)
import Glibc
#endif
import KilnA64
import KilnIR
import KilnTranslator
import KilnX64

/// Which engine runs guest code.
public enum ExecutionTier: String, Sendable {
    /// The IR reference interpreter.
    case interpreter
    /// x86-64 code from the JIT (blocks the backend cannot lower run on the interpreter).
    case jit
}

/// How the JIT tier runs.
struct JITOptions {
    /// Compare every block with the interpreter (`--lockstep`).
    var lockstep = false
}

/// A block in the JIT tier: installed host code, or IR for the interpreter when lowering failed.
struct JITBlock {
    /// Host entry of the installed code (nil: run `ir` on the interpreter).
    var code: UnsafeRawPointer?
    var ir: IRBlock
    var base: UInt64
    var pc: UInt64
    var guestLength: UInt64
}

/// Where a unit's code lies and how its host offsets map to guest instructions: the fault
/// handler's way from a host pc back to the guest pc.
struct JITUnitExtent {
    var start: UInt
    var end: UInt
    var blockPC: UInt64
    var base: UInt64
    var pcMap: [X64PCMapEntry]
}

/// The JIT tier's main loop: look up host code by guest pc (translating A64 -> IR -> x86-64
/// on a miss), run it until it returns to the host, and handle the exit as the interpreter
/// tier does. Direct exits and predicted returns are chained through link slots once their
/// target is translated, and every block is entered in the inline indirect-branch table, so
/// hot code stays in translated code. Any invalidation that touches a translated block drops
/// the whole code buffer (links and predictions point into it).
final class JITDispatcher {
    let process: GuestProcess
    /// The translation pipeline `kiln bake` uses too (so cached and JIT code agree).
    var pipeline = Translator()
    var translator: A64Translator { pipeline.frontend }
    /// The process's cache layer (nil with `--cache off`, no report, or in lockstep).
    let cache: CacheAttach?
    let runtime: X64Runtime
    var interpreter = IRInterpreter()
    var memory = HostGuestMemory()
    var blocks = BlockCache<JITBlock>()
    /// Installed units in code-buffer order (ascending host addresses).
    var extents: [JITUnitExtent] = []
    /// Set for `--lockstep` (blocks then never chain, so each one returns here).
    var lockstep: Lockstep?
    /// Number of flushes so far (a link slot is valid only within the generation it came from).
    var flushes = 0

    /// The running dispatcher, for the fault handler.
    nonisolated(unsafe) static weak var current: JITDispatcher?

    init(process: GuestProcess, options: JITOptions = JITOptions()) throws(CodeBufferError) {
        self.process = process
        let start = monotonicNanoseconds()
        let environment = IRSystemEnvironment(counter: { (monotonicNanoseconds() &- start) })
        interpreter.environment = environment
        lockstep = options.lockstep ? Lockstep(environment: environment) : nil
        runtime = try X64Runtime(codeCapacity: 256 << 20, environment: environment)
        cache = options.lockstep ? nil : CacheAttach.shared
        process.addressSpace.invalidate = { [unowned self] start, end in
            let servedCached = self.cache?.invalidate(start, end) ?? false
            guard servedCached || self.blocks.blocks.values.contains(where: { $0.pc < end && $0.pc &+ max($0.guestLength, 4) > start }) else { return }
            self.flush()
        }
        process.afterForkInChild = { [unowned self] in
            do {
                try self.runtime.separateAfterFork()
                self.flush()
            } catch {
                writeAll(2, "kiln: cannot copy the JIT code buffer into the forked child: \(error)\n")
                exit(RuntimeError.unsupportedInstruction("").exitStatus)
            }
        }
        JITDispatcher.current = self
        CrashReporter.locateHostPC = { rip in JITDispatcher.current?.locate(rip) }
    }

    /// Drops every translation, installed code, link and prediction.
    func flush() {
        runtime.flush()
        flushes += 1
        blocks.removeAll()
        extents.removeAll(keepingCapacity: true)
    }

    /// Runs the guest until it exits; never returns.
    func run() -> Never {
        let state = process.state
        while true {
            let pc = state.pc
            let block = blocks.lookup(pc) ?? translate(pc)
            guard let code = block.code else {
                interpret(block)
                continue
            }
            let exit = lockstep == nil ? runtime.run(code, state: state) : runInLockstep(block, code: code)
            switch exit.kind {
            case .syscall:
                process.syscall()
            case .trap:
                Dispatcher.trap(pc: state.pc, kind: exit.trap, info: exit.info, process: process, translator: translator)
            default:
                if let linkSlot = exit.slot, lockstep == nil { chain(linkSlot, to: state.pc) }
            }
        }
    }

    /// Runs `block` on the interpreter, then on the JIT from the same state; stops the run at
    /// the first difference.
    private func runInLockstep(_ block: JITBlock, code: UnsafeRawPointer) -> X64Exit {
        let state = process.state
        let compared = lockstep?.runInterpreter(block, state: state) ?? false
        let exit = runtime.run(code, state: state)
        if compared, let differences = lockstep?.differences(state: state, exit: exit), !differences.isEmpty {
            let extent = extents.first { $0.start == UInt(bitPattern: code) }
            Lockstep.report(block, extent: extent, differences: differences, translator: translator, process: process)
        }
        return exit
    }

    /// Points the link slot at `target`'s host code, translating it first.
    private func chain(_ linkSlot: UInt, to target: UInt64) {
        let generation = flushes
        let next = blocks[target] ?? translate(target)
        // Translating `target` may have flushed the buffer that held the slot.
        guard generation == flushes, let code = next.code, let p = UnsafeMutablePointer<UInt64>(bitPattern: linkSlot) else { return }
        if let cache, cache.chain(exitSlot: linkSlot, codeBuffer: (UInt(bitPattern: runtime.codeBuffer.base),
                                                                     UInt(bitPattern: runtime.codeBuffer.writable)), to: code) { return }
        p.pointee = UInt64(UInt(bitPattern: code))
    }

    /// Runs an unlowerable block on the interpreter and handles its exit.
    private func interpret(_ block: JITBlock) {
        let result: IRExecutionResult
        do {
            result = try interpreter.run(block.ir, state: process.state, memory: &memory, regionBase: block.base)
        } catch {
            switch error {
            case let .memoryFault(fault, faultPC):
                CrashReporter.guestCrash(signal: SIGSEGV, pc: faultPC,
                                         detail: "\(fault.isWrite ? "write to" : "read from") \(hex(fault.address)) outside guest memory")
            }
        }
        switch result.kind {
        case .syscall: process.syscall()
        case .trap: Dispatcher.trap(pc: result.pc, kind: result.trap, info: result.info, process: process, translator: translator)
        default: break
        }
    }

    /// Translates and installs the block at `pc` (flushing the buffer when it is full) and
    /// records it.
    private func translate(_ pc: UInt64) -> JITBlock {
        let answer = cache?.lookup(pc, process: process, pipeline: &pipeline)
        if let answer, let code = answer.code { return installCached(code, pc: pc, guestLength: answer.guestLength, region: answer.region) }
        let started = cache?.measuresTime == true ? monotonicNanoseconds() : 0
        let (translated, unit) = Dispatcher.translate(pc, process: process, pipeline: &pipeline)
        let guestLength = UInt64(translated.ir.guestLength)
        var block = JITBlock(code: nil, ir: translated.ir, base: translated.base, pc: pc, guestLength: guestLength)
        defer { if let answer { cache?.noteTranslated(pc, answer: answer, nanoseconds: started == 0 ? 0 : monotonicNanoseconds() &- started) } }
        if let translation = unit.code {
            var unit = try? runtime.install(translation, regionBase: translated.base)
            if unit == nil {
                flush()
                unit = try? runtime.install(translation, regionBase: translated.base)
            }
            if let unit {
                block.code = unit.code
                let start = UInt(bitPattern: unit.code)
                extents.append(JITUnitExtent(start: start, end: start + UInt(translation.code.count), blockPC: pc,
                                             base: translated.base, pcMap: translation.pcMap))
                if lockstep == nil { runtime.register(pc: pc, code: unit.code) }
            }
        }
        blocks.insert(block, at: pc)
        return block
    }

    /// The guest block and instruction whose translated code holds host address `rip`.
    func locate(_ rip: UInt) -> (blockPC: UInt64, pc: UInt64)? {
        var lo = 0, hi = extents.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if extents[mid].end <= rip { lo = mid + 1 } else { hi = mid }
        }
        guard lo < extents.count, extents[lo].start <= rip else { return cache?.locate(rip) }
        let extent = extents[lo]
        let offset = UInt32(truncatingIfNeeded: rip - extent.start)
        var guestOffset: UInt64?
        for entry in extent.pcMap {
            guard entry.hostOffset <= offset else { break }
            guestOffset = entry.guestOffset
        }
        let pc = guestOffset.map { extent.base &+ $0 } ?? extent.blockPC
        return (extent.blockPC, pc)
    }
}
