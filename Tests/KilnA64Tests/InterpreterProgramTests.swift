import Foundation
import Testing
import KilnELF
import KilnIR
import KilnA64
import KilnTestSupport

/// Guest memory as a few flat mappings, for running whole programs on the interpreter.
final class MappedMemory: GuestMemory {
    struct Mapping {
        var start: UInt64
        var end: UInt64
        var bytes: UnsafeMutableRawPointer
    }
    var mappings: [Mapping] = []
    var last = 0

    deinit { for m in mappings { m.bytes.deallocate() } }

    @discardableResult
    func map(_ start: UInt64, _ size: UInt64) -> Mapping {
        let m = Mapping(start: start, end: start + size, bytes: .allocate(byteCount: Int(size), alignment: 16))
        m.bytes.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
        mappings.append(m)
        return m
    }

    func mapping(_ address: UInt64, _ size: Int) -> Mapping? {
        if last < mappings.count, address >= mappings[last].start, address + UInt64(size) <= mappings[last].end { return mappings[last] }
        for (i, m) in mappings.enumerated() where address >= m.start && address + UInt64(size) <= m.end {
            last = i
            return m
        }
        return nil
    }

    func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        guard let m = mapping(address, size) else { throw GuestMemoryFault(address: address, size: size, isWrite: false) }
        var v: UInt64 = 0
        memcpy(&v, m.bytes + Int(address - m.start), size)
        return v
    }

    func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        guard let m = mapping(address, size) else { throw GuestMemoryFault(address: address, size: size, isWrite: true) }
        var v = value
        memcpy(m.bytes + Int(address - m.start), &v, size)
    }

    func copy(_ bytes: [UInt8], to address: UInt64) {
        guard let m = mapping(address, bytes.count) else { return }
        bytes.withUnsafeBytes { (m.bytes + Int(address - m.start)).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    func bytes(_ address: UInt64, _ count: Int) -> [UInt8]? {
        guard let m = mapping(address, count) else { return nil }
        return [UInt8](UnsafeRawBufferPointer(start: m.bytes + Int(address - m.start), count: count))
    }
}

/// Runs a static arm64 Linux program entirely on decode -> lift -> IR interpreter, with the
/// handful of system calls static glibc needs at start-up and for stdio. This is the fallback
/// tier's end-to-end check; `kiln run` proper lives in the runtime.
struct InterpreterRun {
    var memory = MappedMemory()
    let state = GuestCPUState()
    var stdout = Data()
    var exitStatus: Int32?
    var brk: UInt64 = 0
    var brkEnd: UInt64 = 0
    var mmapNext: UInt64 = 0x7e00_0000_0000
    var blocks: [UInt64: IRBlock] = [:]

    enum Failure: Error, CustomStringConvertible {
        case trap(IRExecutionResult)
        case fault(IRInterpreterError)
        case tooLong
        var description: String {
            switch self {
            case .trap(let r): return "trap \(r.trap) at 0x\(String(r.pc, radix: 16)) info 0x\(String(r.info, radix: 16))"
            case .fault(let e): return "\(e)"
            case .tooLong: return "instruction budget exhausted"
            }
        }
    }

    init(path: String, arguments: [String], environment: [String]) throws {
        let elf = try ELFFile(contentsOfFile: path)
        var highest: UInt64 = 0
        for segment in elf.programHeaders where segment.type == ELFSegmentType.load {
            let start = segment.virtualAddress & ~0xfff
            let end = (segment.virtualAddress + segment.memorySize + 0xfff) & ~0xfff
            memory.map(start, end - start)
            memory.copy(Array(try elf.fileBytes(of: segment)), to: segment.virtualAddress)
            highest = max(highest, end)
        }
        brk = highest
        brkEnd = highest + 64 << 20
        memory.map(brk, brkEnd - brk)
        let stackTop: UInt64 = 0x7fff_0000_0000, stackSize: UInt64 = 1 << 20
        memory.map(stackTop - stackSize, stackSize)

        // Strings and AT_RANDOM bytes at the top, then the argc/argv/envp/auxv block.
        var cursor = stackTop - 16
        func push(_ s: String) -> UInt64 {
            let bytes = Array(s.utf8) + [0]
            cursor -= UInt64(bytes.count)
            memory.copy(bytes, to: cursor)
            return cursor
        }
        let argv = arguments.map(push), envp = environment.map(push)
        let platform = push("aarch64"), execfn = push(arguments[0])
        cursor = (cursor - 16) & ~15
        let random = cursor
        memory.copy((0..<16).map { UInt8($0 * 7 + 1) }, to: random)
        let phdr = (elf.programHeaders.first { $0.type == ELFSegmentType.load }?.virtualAddress ?? 0) + elf.header.programHeaderOffset
        let auxv: [(UInt64, UInt64)] = [(6, 4096), (3, phdr), (4, 56), (5, UInt64(elf.programHeaders.count)), (9, elf.header.entry),
                                        (16, 3), (26, 0), (15, platform), (31, execfn), (25, random), (23, 0), (11, 0), (12, 0), (13, 0), (14, 0), (0, 0)]
        var words: [UInt64] = [UInt64(arguments.count)] + argv + [0] + envp + [0]
        for (k, v) in auxv { words += [k, v] }
        cursor = (cursor - UInt64(words.count * 8)) & ~15
        for (i, w) in words.enumerated() { try? memory.write(cursor + UInt64(i * 8), size: 8, w) }
        state.sp = cursor
        state.pc = elf.header.entry
    }

    mutating func run(budget: Int = 200_000_000) throws {
        var translator = A64Translator()
        var interpreter = IRInterpreter()
        var executed = 0
        while exitStatus == nil {
            let pc = state.pc
            let block: IRBlock
            if let cached = blocks[pc] {
                block = cached
            } else {
                guard let m = memory.mapping(pc, 4) else { throw Failure.fault(.memoryFault(GuestMemoryFault(address: pc, size: 4, isWrite: false), pc: pc)) }
                let code = UnsafeRawBufferPointer(start: m.bytes, count: Int(m.end - m.start))
                translator.translate(code: code, codeOffset: m.start, at: pc, addressing: .absolute)
                block = translator.block
                blocks[pc] = block
            }
            let result: IRExecutionResult
            do { result = try interpreter.run(block, state: state, memory: &memory, regionBase: 0) } catch { throw Failure.fault(error) }
            executed += Int(block.guestLength / 4)
            if executed > budget { throw Failure.tooLong }
            switch result.kind {
            case .syscall: syscall()
            case .trap: throw Failure.trap(result)
            default: break
            }
        }
    }

    mutating func syscall() {
        let number = state.x(8)
        let a = (0..<6).map { state.x($0) }
        var r: Int64 = 0
        switch number {
        case 64:  // write
            if let bytes = memory.bytes(a[1], Int(a[2])) {
                if a[0] == 1 { stdout.append(contentsOf: bytes) }
                r = Int64(a[2])
            } else { r = -14 }
        case 66:  // writev
            var total: Int64 = 0
            for i in 0..<Int(a[2]) {
                let base = (try? memory.read(a[1] + UInt64(i * 16), size: 8)) ?? 0
                let length = (try? memory.read(a[1] + UInt64(i * 16 + 8), size: 8)) ?? 0
                if a[0] == 1, let bytes = memory.bytes(base, Int(length)) { stdout.append(contentsOf: bytes) }
                total += Int64(length)
            }
            r = total
        case 93, 94: exitStatus = Int32(truncatingIfNeeded: a[0] & 0xff)
        case 214:  // brk
            if a[0] >= brk && a[0] <= brkEnd { brk = a[0] }
            r = Int64(bitPattern: brk)
        case 222:  // mmap (anonymous only)
            let size = (a[1] + 0xfff) & ~0xfff
            memory.map(mmapNext, size)
            r = Int64(bitPattern: mmapNext)
            mmapNext += size + 0x1000
        case 79, 80:  // newfstatat, fstat: a pipe
            let buffer = number == 79 ? a[2] : a[1]
            for i in 0..<16 { try? memory.write(buffer + UInt64(i * 8), size: 8, 0) }
            try? memory.write(buffer + 16, size: 4, 0o010600)
            try? memory.write(buffer + 56, size: 4, 4096)
        case 278:  // getrandom
            for i in 0..<Int(a[1]) { try? memory.write(a[0] + UInt64(i), size: 1, UInt64(i * 13 + 5)) }
            r = Int64(a[1])
        case 29: r = -25  // ioctl: ENOTTY
        case 160:  // uname
            let fields = ["Linux", "kiln", "6.1.0", "#1", "aarch64", ""]
            for (i, f) in fields.enumerated() { memory.copy(Array(f.utf8) + [0], to: a[0] + UInt64(i * 65)) }
        case 96, 172, 178: r = 1000  // set_tid_address, getpid, gettid
        case 215, 226, 233, 99, 134, 135, 98, 261: r = 0  // munmap, mprotect, madvise, set_robust_list, signals, futex, prlimit64
        default: r = -38  // ENOSYS (rseq and everything else)
        }
        state.setX(0, UInt64(bitPattern: r))
    }
}

struct InterpreterProgramTests {
    struct Case: CustomStringConvertible {
        var name: String, program: String, status: Int32, arguments: [String]
        var description: String { name }
    }

    /// Cases too long for a debug-build test run (malloc executes about 30 million guest
    /// instructions, a minute on the debug interpreter; the canary workload more);
    /// `KILN_SLOW_TESTS=1` includes them.
    static let slowCases: Set<String> = ["malloc", "canary", "canary-3"]

    /// Fixtures that start threads, take signals, fork or test the runtime's system calls
    /// (clocks): this in-process system call model is single-threaded and has none of that
    /// (FixtureRunTests runs them under `kiln run`).
    static let runtimeCases: Set<String> = ["threads", "atomics", "atomics-lse", "signals", "faults", "forkexec", "sigrace", "clocks"]

    /// The fixture table, without the cases that need files (fileio).
    static var cases: [Case] {
        let includeSlow = ProcessInfo.processInfo.environment["KILN_SLOW_TESTS"] == "1"
        let table = TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/cases.tsv")
        guard let text = try? String(contentsOf: table, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, fields[1] != "fileio", let status = Int32(fields[2]) else { return nil }
            if slowCases.contains(fields[0]) && !includeSlow { return nil }
            if runtimeCases.contains(fields[0]) { return nil }
            let arguments = fields.count > 3 ? fields[3].split(separator: " ").map(String.init) : []
            return Case(name: fields[0], program: fields[1], status: status, arguments: arguments)
        }
    }

    @Test(arguments: cases)
    func fixtureRunsOnTheInterpreter(_ c: Case) throws {
        let bin = TestEnvironment.fixturesBinDirectory.appendingPathComponent(c.program).path
        var run = try InterpreterRun(path: bin, arguments: [bin] + c.arguments, environment: ["KILN_FIXTURE_GREETING=hi"])
        try run.run()
        let expected = try Data(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("fixtures/expected/\(c.name).stdout"))
        #expect(run.exitStatus == c.status)
        #expect(String(decoding: run.stdout, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
    }
}
