#if canImport(Glibc)
import Glibc
#endif
import KilnA64
import KilnIR
import KilnX64
import KilnHost

/// Guest memory for the interpreter side of `--lockstep`: accesses checked against the guest
/// memory map (a fault there must not be a host fault inside Kiln: the guest may handle it)
/// that remember each write's old bytes, so the writes can be undone before the JIT runs the
/// same block.
struct RecordingGuestMemory: GuestMemory {
    struct Write { var address: UInt64; var size: Int; var old: UInt64 }
    var memory: CheckedGuestMemory
    var writes: [Write] = []

    mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        try memory.read(address, size: size)
    }

    mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        let old = try memory.read(address, size: size)
        try memory.write(address, size: size, value)
        writes.append(Write(address: address, size: size, old: old))
    }

    /// Restores memory as it was before the first recorded write.
    mutating func undo() {
        for w in writes.reversed() { try? memory.write(w.address, size: w.size, w.old) }
    }
}

/// `--lockstep`: every block runs first on the IR interpreter from a copy of the guest state,
/// its memory writes are undone, then the JIT runs it on the real state; the guest registers
/// and the bytes the interpreter wrote must agree. The first difference stops the run with a
/// report of the block: guest instructions, IR, x86-64 code and the differing state.
struct Lockstep {
    let expected = GuestCPUState()
    var interpreter = IRInterpreter()
    var memory: RecordingGuestMemory
    var expectedWrites: [(address: UInt64, size: Int, value: UInt64)] = []
    var expectedResult: IRExecutionResult?
    /// Held around each compared block (see `JITDispatcher.runInLockstep`).
    static let serial = HostMutex()
    /// Status Kiln exits with at the first difference.
    static let differenceStatus: Int32 = 120
    /// The guest state compared: everything up to the exclusive monitor (whose bookkeeping
    /// differs legitimately between the CAS-based JIT and the interpreter).
    static let comparedBytes = GuestCPUState.exclusiveAddressOffset

    init(environment: IRSystemEnvironment, addressSpace: GuestAddressSpace) {
        interpreter.environment = environment
        memory = RecordingGuestMemory(memory: CheckedGuestMemory(addressSpace: addressSpace))
    }

    /// Runs `block` on the interpreter from `state`, records the result, and undoes its
    /// memory writes. A block the interpreter faults in is not compared (the JIT then faults
    /// the same way and the crash report follows).
    mutating func runInterpreter(_ block: JITBlock, state: GuestCPUState) -> Bool {
        expected.base.copyMemory(from: state.base, byteCount: GuestCPUState.size)
        memory.writes.removeAll(keepingCapacity: true)
        memory.memory = CheckedGuestMemory(addressSpace: memory.memory.addressSpace)
        expectedWrites.removeAll(keepingCapacity: true)
        do {
            expectedResult = try interpreter.run(block.ir, state: expected, memory: &memory, regionBase: block.base)
        } catch {
            memory.undo()
            return false
        }
        for w in memory.writes {
            expectedWrites.append((w.address, w.size, (try? memory.read(w.address, size: w.size)) ?? 0))
        }
        memory.undo()
        return true
    }

    /// The differences between the interpreter's outcome and the JIT's (empty when equal).
    mutating func differences(state: GuestCPUState, exit: X64Exit) -> [String] {
        var d: [String] = []
        if let r = expectedResult, r.kind != exit.kind { d.append("exit kind interp=\(r.kind) jit=\(exit.kind)") }
        if memcmp(expected.base, state.base, Self.comparedBytes) != 0 {
            for n in 0..<31 where expected.x(n) != state.x(n) { d.append("x\(n) interp=\(hex(expected.x(n))) jit=\(hex(state.x(n)))") }
            if expected.sp != state.sp { d.append("sp interp=\(hex(expected.sp)) jit=\(hex(state.sp))") }
            if expected.pc != state.pc { d.append("pc interp=\(hex(expected.pc)) jit=\(hex(state.pc))") }
            if expected.nzcv != state.nzcv { d.append("nzcv interp=\(hex(UInt64(expected.nzcv))) jit=\(hex(UInt64(state.nzcv)))") }
            if expected.fpcr != state.fpcr { d.append("fpcr interp=\(hex(UInt64(expected.fpcr))) jit=\(hex(UInt64(state.fpcr)))") }
            if expected.fpsr != state.fpsr { d.append("fpsr interp=\(hex(UInt64(expected.fpsr))) jit=\(hex(UInt64(state.fpsr)))") }
            if expected.tpidr != state.tpidr { d.append("tpidr interp=\(hex(expected.tpidr)) jit=\(hex(state.tpidr))") }
            for n in 0..<32 where expected.v(n) != state.v(n) {
                let e = expected.v(n), j = state.v(n)
                d.append("v\(n) interp=\(hex(e.hi)):\(hex(e.lo)) jit=\(hex(j.hi)):\(hex(j.lo))")
            }
        }
        for w in expectedWrites {
            let actual = (try? memory.read(w.address, size: w.size)) ?? 0
            if actual != w.value { d.append("memory \(hex(w.address)) (\(w.size) bytes) interp=\(hex(w.value)) jit=\(hex(actual))") }
        }
        return d
    }

    /// Prints the block and the differences, then exits with `differenceStatus`.
    static func report(_ block: JITBlock, extent: JITUnitExtent?, differences: [String], translator: A64Translator, process: GuestProcess) -> Never {
        process.strace?.flush()
        var text = "kiln: lockstep: interpreter and JIT differ after the block at \(process.describe(block.pc))\n"
        text += differences.map { "  \($0)\n" }.joined()
        text += "guest instructions:\n"
        var pc = block.pc
        while pc < block.pc &+ block.guestLength, let p = UnsafeRawPointer(bitPattern: UInt(pc)) {
            let word = p.loadUnaligned(as: UInt32.self)
            let decoded = translator.decoder.decode(word)
            let name = decoded.index >= 0 ? translator.decoder.table[Int(decoded.index)].mnemonic : "?"
            text += "  \(hex(pc)): \(String(word, radix: 16)) \(name)\n"
            pc &+= 4
        }
        text += "IR:\n" + IRPrinter.print(block.ir) + "\n"
        if let extent, let code = UnsafeRawPointer(bitPattern: extent.start) {
            let bytes = [UInt8](UnsafeRawBufferPointer(start: code, count: Int(extent.end - extent.start)))
            text += "x86-64:\n"
            if let lines = try? X64Disassembler.disassemble(bytes) {
                text += lines.map { "  \(String($0.offset, radix: 16)): \($0.text)\n" }.joined()
            } else {
                text += "  (no disassembler: \(bytes.count) bytes)\n"
            }
        }
        Descriptor.writeAll(2, text)
        exit(differenceStatus)
    }
}
