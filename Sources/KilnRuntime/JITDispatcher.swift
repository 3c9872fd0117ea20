#if canImport(Glibc)
import Glibc
#endif
import KilnA64
import KilnCache
import KilnIR
import KilnTranslator
import KilnX64
import KilnHost

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
    /// How changed guest code is noticed.
    var smc = SMCMode.icache
}

/// A block in the JIT tier: installed host code, or IR for the interpreter when lowering failed.
struct JITBlock {
    /// Host entry of the installed code (nil: run `ir` on the interpreter).
    var code: UnsafeRawPointer?
    var ir: IRBlock
    var base: UInt64
    var pc: UInt64
    var guestLength: UInt64
    /// `--smc full`: the guest bytes it was translated from, compared before each run.
    var guestBytes: [UInt8] = []
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
/// hot code stays in translated code. Invalidation is per block (see CodeInvalidation.swift):
/// the code buffer is flushed only when it is full.
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
    /// CNTVCT_EL0 (held still per block under `--lockstep`).
    let counter: GuestCounter
    /// Number of flushes so far (a link slot is valid only within the generation it came from).
    var flushes = 0
    let smc: SMCMode
    /// Whether exits are chained and blocks entered in the lookup table (not under
    /// `--lockstep` or `--smc full`, where every block must return here).
    let chaining: Bool
    /// Block pc -> the link slots chained to it.
    var incoming = IncomingLinks()
    /// `--smc mtrack`'s page tracker (the process's).
    var mtrack: CodeWriteTracker?
    /// `KILN_PERF_MAP=1`: installed blocks are named for perf (PerfMap.swift).
    let perfMap = PerfMap.shared

    /// The guest thread this dispatcher runs (each guest thread has its own dispatcher).
    let thread: GuestThread

    init(process: GuestProcess, thread: GuestThread, options: JITOptions = JITOptions(), codeCapacity: Int = 256 << 20) throws(CodeBufferError) {
        self.process = process
        self.thread = thread
        let counter = GuestCounter()
        self.counter = counter
        let environment = IRSystemEnvironment(counter: { counter.read() })
        interpreter.environment = environment
        lockstep = options.lockstep ? Lockstep(environment: environment, addressSpace: process.addressSpace) : nil
        smc = options.smc
        chaining = !options.lockstep && options.smc != .full
        runtime = try X64Runtime(codeCapacity: codeCapacity, environment: environment, guestLimit: GuestLayout.limit - 16)
        X64Runtime.reserveGuard(above: GuestLayout.limit - 16)
        cache = options.lockstep ? nil : CacheAttach.shared
        thread.useInterruptWord((runtime.context + X64ABI.Context.interrupt).assumingMemoryBound(to: UInt32.self))
        thread.invalidateTranslations = { [unowned self] invalidation in self.apply(invalidation) }
        if smc == .mtrack { mtrack = process.codeWriteTracker() }
        thread.afterFork = { [unowned self] in
            do {
                try self.runtime.separateAfterFork()
                self.flush()
            } catch {
                Descriptor.writeAll(2, "kiln: cannot copy the JIT code buffer into the forked child: \(error)\n")
                exit(RuntimeError.unsupportedInstruction("").exitStatus)
            }
        }
        thread.locateHostPC = { [unowned self] rip in self.locate(rip) }
        thread.faultExit = (runtime.exitToHost, UInt(bitPattern: runtime.context))
    }

    /// Drops every translation, installed code, link and prediction.
    func flush() {
        runtime.flush()
        flushes += 1
        blocks.removeAll()
        incoming.removeAll()
        extents.removeAll(keepingCapacity: true)
    }

    /// Runs the guest thread until it exits.
    func run() {
        let state = thread.state
        defer { thread.locateHostPC = nil; thread.faultExit = nil }
        while true {
            if thread.isInterrupted { process.serviceInterrupts(thread) }
            if thread.hasExited { return }
            let pc = state.pc
            let exit: X64Exit
            if chaining, let code = runtime.registeredCode(pc: pc) {
                exit = runtime.run(code, state: state)
            } else {
                var block = blocks.lookup(pc) ?? translate(pc)
                if smc == .full, !block.guestBytes.isEmpty, !hasGuestBytes(of: block) {
                    apply(CodeInvalidation(start: pc, end: pc &+ block.guestLength, epoch: CodeInvalidationEpoch.advance()))
                    block = translate(pc)
                }
                guard let code = block.code else {
                    interpret(block)
                    continue
                }
                if chaining {
                    // The inline lookup entry may have been taken by another pc since this
                    // block was translated: it is made this pc's again.
                    runtime.register(pc: pc, code: code)
                    exit = runtime.run(code, state: state)
                } else if lockstep != nil {
                    exit = runInLockstep(block, code: code)
                } else {
                    exit = runtime.run(code, state: state)
                }
            }
            if let fault = thread.pendingFault {
                thread.pendingFault = nil
                replayFault(fault)
                continue
            }
            switch exit.kind {
            case .syscall:
                if let mtrack, mtrack.hasProtectedPages {
                    syscallReleasingTrackedPages(mtrack)
                } else {
                    process.syscall()
                }
                if thread.hasExited { return }
            case .trap where exit.trap == .instructionCacheMaintenance:
                instructionCacheMaintenance(exit.info)
            case .trap:
                if exit.fault != nil {
                    // A failed bounds check leaves with the state at the block's entry and the
                    // pc at the block's start: the interpreter replays the block with checked
                    // memory and delivers the fault from the exact instruction.
                    replayBlock(at: state.pc)
                    continue
                }
                if process.deliverTrap(pc: state.pc, kind: exit.trap, info: exit.info, translator: translator) { continue }
                Dispatcher.trap(pc: state.pc, kind: exit.trap, info: exit.info, process: process, translator: translator)
            default:
                if let linkSlot = exit.slot, chaining { chain(linkSlot, to: state.pc) }
            }
        }
    }

    /// Runs `block` on the interpreter, then on the JIT from the same state; stops the run at
    /// the first difference.
    private func runInLockstep(_ block: JITBlock, code: UnsafeRawPointer) -> X64Exit {
        // The interpreter's writes are undone before the JIT runs: no other guest thread may
        // run a block in between, so lockstep runs one block at a time process-wide.
        Lockstep.serial.lock()
        defer { Lockstep.serial.unlock() }
        let state = thread.state
        counter.hold()
        defer { counter.release() }
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
        recordLink(slot: linkSlot, stub: p.pointee, to: target)
        p.pointee = UInt64(UInt(bitPattern: code))
    }

    /// Runs an unlowerable block on the interpreter and handles its exit.
    private func interpret(_ block: JITBlock, checked: Bool = false) {
        guard let result = runOnInterpreter(block, checked: checked) else { return }
        switch result.kind {
        case .syscall: process.syscall()
        case .trap where result.trap == .instructionCacheMaintenance: instructionCacheMaintenance(result.info)
        case .trap:
            if process.deliverTrap(pc: result.pc, kind: result.trap, info: result.info, translator: translator) { return }
            Dispatcher.trap(pc: result.pc, kind: result.trap, info: result.info, process: process, translator: translator)
        default: break
        }
    }

    /// Runs `block` on the interpreter; nil when it faulted (the fault is delivered).
    private func runOnInterpreter(_ block: JITBlock, checked: Bool) -> IRExecutionResult? {
        // Under --lockstep, blocks run one at a time process-wide (see `runInLockstep`).
        if lockstep != nil { Lockstep.serial.lock() }
        defer { if lockstep != nil { Lockstep.serial.unlock() } }
        do {
            if checked || process.guestCatchesFaults {
                var memory = CheckedGuestMemory(addressSpace: process.addressSpace)
                return try interpreter.run(block.ir, state: thread.state, memory: &memory, regionBase: block.base)
            }
            return try interpreter.run(block.ir, state: thread.state, memory: &memory, regionBase: block.base)
        } catch {
            switch error {
            case let .memoryFault(fault, faultPC):
                thread.state.pc = faultPC
                process.deliverMemoryFault(fault)
                return nil
            }
        }
    }

    /// Translated code faulted on guest memory the guest handles faults for. Its registers
    /// live in host registers, so the block runs again from its start on the interpreter with
    /// checked memory, which stops at the faulting instruction with the exact guest state and
    /// delivers the signal from there. (The state holds the block's entry values: translated
    /// code writes guest registers back only at exits.)
    /// Cached blocks (not in `blocks`) replay the same way: `replayBlock` lifts them again.
    private func replayFault(_ fault: HostFault) {
        replayBlock(at: fault.blockPC)
    }

    /// Runs the block at `pc` again on the interpreter with checked memory, from the guest
    /// state at its entry. Installed blocks keep no IR (and cached ones never had any): it is
    /// lifted again, which gives the same IR (translation is deterministic).
    private func replayBlock(at pc: UInt64) {
        thread.state.pc = pc
        var block = blocks[pc] ?? JITBlock(code: nil, ir: IRBlock(), base: 0, pc: pc, guestLength: 0)
        if block.ir.instructions.isEmpty {
            let lifted = Dispatcher.translate(pc, process: process, pipeline: &pipeline).block
            block.ir = lifted.ir
            block.base = lifted.base
        }
        interpret(block, checked: true)
    }

    /// Translates and installs the block at `pc` (flushing the buffer when it is full) and
    /// records it. A translation during which an invalidation was issued anywhere in the
    /// process (it may have read bytes from before the write) is not installed: it starts
    /// again, and then reads the bytes written before that invalidation.
    private func translate(_ pc: UInt64) -> JITBlock {
        let runtime = self.runtime
        let answer = cache?.lookup(pc, process: process, pipeline: &pipeline) { runtime.register(pc: $0, code: $1) }
        if let answer, let code = answer.code { return installCached(code, pc: pc, guestLength: answer.guestLength, region: answer.region) }
        let started = cache?.measuresTime == true ? monotonicNanoseconds() : 0
        // mtrack: protect before reading, so a write after the read always faults.
        mtrack?.track(pc, pc &+ 4)
        var epoch: UInt64
        var translated: TranslatedBlock
        var unit: TranslatedUnit
        repeat {
            epoch = CodeInvalidationEpoch.current
            (translated, unit) = Dispatcher.translate(pc, process: process, pipeline: &pipeline)
        } while CodeInvalidationEpoch.current != epoch
        let guestLength = UInt64(translated.ir.guestLength)
        var block = JITBlock(code: nil, ir: translated.ir, base: translated.base, pc: pc, guestLength: guestLength)
        defer { if let answer { cache?.noteTranslated(pc, answer: answer, nanoseconds: started == 0 ? 0 : monotonicNanoseconds() &- started) } }
        if smc == .full {
            block.guestBytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(pc)), count: Int(guestLength)))
        }
        mtrack?.track(pc &+ 4, pc &+ max(guestLength, 4))
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
                if chaining { runtime.register(pc: pc, code: unit.code) }
                perfMap?.record(code: unit.code, size: translation.code.count, name: "\(process.describe(pc)) len \(hex(guestLength))")
            }
        }
        // The IR is needed only to interpret the block or to compare with it (a faulting block
        // is lifted again to replay it); kept, it must not hold on to the translator's reserved
        // capacity (kilobytes per block).
        if block.code != nil && lockstep == nil {
            block.ir.instructions = []
        } else {
            let instructions = block.ir.instructions
            block.ir.instructions = [IRInst](unsafeUninitializedCapacity: instructions.count) { buffer, count in
                count = buffer.initialize(fromContentsOf: instructions)
            }
        }
        blocks.insert(block, at: pc, length: guestLength)
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
