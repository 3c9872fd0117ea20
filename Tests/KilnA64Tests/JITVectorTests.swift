import Foundation
import Testing
import KilnA64
import KilnIR
import KilnX64
#if canImport(Glibc)
import Glibc
#endif

/// Guest memory for the interpreter side of the lockstep: the same host pages the JIT uses.
private struct MappedMemory: GuestMemory {
    mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        let p = UnsafeRawPointer(bitPattern: UInt(address))!
        switch size {
        case 1: return UInt64(p.load(as: UInt8.self))
        case 2: return UInt64(p.loadUnaligned(as: UInt16.self))
        case 4: return UInt64(p.loadUnaligned(as: UInt32.self))
        default: return p.loadUnaligned(as: UInt64.self)
        }
    }
    mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        let p = UnsafeMutableRawPointer(bitPattern: UInt(address))!
        switch size {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
        default: p.storeBytes(of: value, as: UInt64.self)
        }
    }
}

/// The fixed guest ranges the vectors use (docs/VECTORS.md): the data region and the code
/// region that literal loads read. Mapped once per process at their guest addresses.
private enum VectorMemory {
    static let ranges: [(start: UInt64, size: Int)] = [(0x10_0000, 1 << 20), (0x1000_0000, 4 << 20)]
    static let mapped: Bool = {
        for r in ranges {
            let p = mmap(UnsafeMutableRawPointer(bitPattern: UInt(r.start)), r.size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
            guard let p, p != MAP_FAILED, UInt(bitPattern: p) == UInt(r.start) else { return false }
        }
        return true
    }()
}

/// Every committed unicorn vector through decode -> lift -> lower -> execute, in lockstep with
/// the IR interpreter: the JIT must give the interpreter's state exactly; agreement with the
/// oracle's after-state is counted per group (the frontend owns differences the interpreter
/// shares).
@Suite(.serialized) struct JITVectorTests {
    struct Snapshot: Equatable {
        var x: [UInt64], sp: UInt64, pc: UInt64, nzcv: UInt32, fpcr: UInt32, fpsr: UInt32
        var vLo: [UInt64], vHi: [UInt64], memory: [UInt64: UInt8]
        init(_ s: GuestCPUState, addresses: [UInt64]) {
            x = (0..<31).map { s.x($0) }
            sp = s.sp; pc = s.pc; nzcv = s.nzcv; fpcr = s.fpcr; fpsr = s.fpsr
            vLo = (0..<32).map { s.v($0).lo }
            vHi = (0..<32).map { s.v($0).hi }
            memory = [:]
            for a in addresses { memory[a] = UnsafePointer<UInt8>(bitPattern: UInt(a))!.pointee }
        }
        init(_ v: A64VectorState) {
            x = v.x; sp = v.sp; pc = v.pc; nzcv = v.nzcv; fpcr = v.fpcr; fpsr = v.fpsr
            vLo = v.vLo; vHi = v.vHi; memory = v.memory
        }
    }

    static func load(_ v: A64VectorState, into s: GuestCPUState) {
        for n in 0..<31 { s.setX(n, v.x[n]) }
        s.sp = v.sp; s.pc = v.pc; s.nzcv = v.nzcv; s.fpcr = v.fpcr; s.fpsr = v.fpsr
        for n in 0..<32 { s.setV(n, V128(lo: v.vLo[n], hi: v.vHi[n])) }
        s.exclusiveSize = 0; s.exclusiveAddress = 0; s.exclusiveValue = .zero
        for (a, b) in v.memory { UnsafeMutablePointer<UInt8>(bitPattern: UInt(a))!.pointee = b }
    }

    struct GroupResult {
        var vectors = 0, matchesInterpreter = 0, matchesOracle = 0, interpreterMatchesOracle = 0, notLowered = 0
        var mismatches: [String] = []
        var helperOps: Set<IROp> = []
    }

    static func run(_ classes: [A64VectorClass], runtime: X64Runtime) -> GroupResult {
        var result = GroupResult()
        var translator = A64Translator(maxInstructions: 1)
        var lowerer = X64Lowerer(options: .forHost(X64Features.host))
        var interpreter = IRInterpreter()
        let jitState = GuestCPUState(), interpState = GuestCPUState()
        for c in classes {
            for v in c.vectors {
                result.vectors += 1
                let pc = v.before.pc
                let regionBase = pc & ~0xFFFF
                var word = v.encoding.littleEndian
                withUnsafeBytes(of: &word) { translator.translate(code: $0, codeOffset: pc - regionBase, at: pc - regionBase) }
                let block = translator.block
                let addresses = v.before.memory.keys.sorted()

                load(v.before, into: interpState)
                var memory = MappedMemory()
                _ = try? interpreter.run(block, state: interpState, memory: &memory, regionBase: regionBase)
                let interp = Snapshot(interpState, addresses: addresses)

                let translation: X64Translation
                do {
                    translation = try lowerer.lower(block)
                } catch {
                    result.notLowered += 1
                    if result.mismatches.count < 20 { result.mismatches.append("\(c.name) line \(v.line): not lowered: \(error)") }
                    continue
                }
                result.helperOps.formUnion(translation.helperOps)
                let unit: X64InstalledUnit
                do {
                    unit = try runtime.install(translation, regionBase: regionBase)
                } catch {
                    runtime.flush()
                    guard let u = try? runtime.install(translation, regionBase: regionBase) else { result.notLowered += 1; continue }
                    unit = u
                }
                load(v.before, into: jitState)
                _ = runtime.run(unit.code, state: jitState)
                let jit = Snapshot(jitState, addresses: addresses)
                let oracle = Snapshot(v.after)
                if jit == interp { result.matchesInterpreter += 1 } else if result.mismatches.count < 20 {
                    result.mismatches.append("\(c.name) line \(v.line) \(String(v.encoding, radix: 16)): \(describe(jit, interp))")
                }
                if jit == oracle { result.matchesOracle += 1 }
                if interp == oracle { result.interpreterMatchesOracle += 1 }
            }
        }
        return result
    }

    static func describe(_ a: Snapshot, _ b: Snapshot) -> String {
        var d: [String] = []
        for n in 0..<31 where a.x[n] != b.x[n] { d.append("x\(n) jit=\(String(a.x[n], radix: 16)) interp=\(String(b.x[n], radix: 16))") }
        if a.sp != b.sp { d.append("sp") }
        if a.pc != b.pc { d.append("pc jit=\(String(a.pc, radix: 16)) interp=\(String(b.pc, radix: 16))") }
        if a.nzcv != b.nzcv { d.append("nzcv jit=\(String(a.nzcv, radix: 16)) interp=\(String(b.nzcv, radix: 16))") }
        if a.fpsr != b.fpsr { d.append("fpsr") }
        if a.fpcr != b.fpcr { d.append("fpcr") }
        for n in 0..<32 where a.vLo[n] != b.vLo[n] || a.vHi[n] != b.vHi[n] { d.append("v\(n)") }
        if a.memory != b.memory { d.append("memory") }
        return d.joined(separator: ", ")
    }

    @Test(arguments: ["int-dp.vec.gz", "ldst.vec.gz", "atomics.vec.gz", "branch.vec.gz", "fp.vec.gz", "simd.vec.gz"])
    func vectorsAgreeUnderJIT(_ file: String) throws {
        try #require(VectorMemory.mapped, "could not map the vectors' fixed guest ranges")
        let groups = try A64VectorFile.allGroups()
        let classes = try #require(groups.first { $0.file == file }?.classes)
        let runtime = try X64Runtime()
        let r = Self.run(classes, runtime: runtime)
        print("JIT \(file): \(r.vectors) vectors, JIT = interpreter \(r.matchesInterpreter), JIT = unicorn \(r.matchesOracle), "
              + "interpreter = unicorn \(r.interpreterMatchesOracle), not lowered \(r.notLowered); "
              + "helper ops: \(r.helperOps.map(\.name).sorted().joined(separator: " "))")
        for m in r.mismatches { print("  mismatch \(m)") }
        #expect(r.notLowered == 0)
        #expect(r.matchesInterpreter == r.vectors, "\(r.vectors - r.matchesInterpreter) vectors differ between JIT and interpreter")
    }
}
