import Foundation
import Testing
import KilnA64
import KilnIR
import KilnTestSupport
import KilnX64
#if canImport(Glibc)
import Glibc
#endif

/// Guest memory for the interpreter side of the lockstep: the same host pages the JIT uses.
private struct JITHostMemory: GuestMemory {
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
private enum JITVectorRanges {
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
/// oracle's after-state is required too, except for classes with known oracle defects.
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
                var memory = JITHostMemory()
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
                if interp == oracle { result.interpreterMatchesOracle += 1 }
                if jit == oracle {
                    result.matchesOracle += 1
                } else if result.mismatches.count < 20 {
                    result.mismatches.append("oracle \(c.name) line \(v.line): \(describe(jit, oracle))")
                }
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
        try #require(JITVectorRanges.mapped, "could not map the vectors' fixed guest ranges")
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
        #expect(r.matchesOracle == r.vectors, "vectors differ between JIT and the recorded oracle")
    }
}

/// Register allocation and flag handling across instructions: runs of 12 instructions from
/// the vectors of groups without memory accesses (their addresses would come from another
/// vector's registers) execute as one block under the JIT and the interpreter, starting from
/// the first vector's state.
@Suite(.serialized) struct JITBlockLockstepTests {
    @Test(arguments: ["int-dp.vec.gz", "fp.vec.gz", "simd.vec.gz"])
    func multiInstructionBlocksAgree(_ file: String) throws {
        try Self.blocksAgree(file, options: .forHost(X64Features.host))
    }

    /// The same with every guest register write stored immediately.
    @Test func preciseStateBlocksAgree() throws {
        var options = X64LoweringOptions.forHost(X64Features.host)
        options.deferRegisterWrites = false
        try Self.blocksAgree("int-dp.vec.gz", options: options)
    }

    /// `cmp x0, x1` then CSINC of the zero register (CSET of the inverse condition) for every
    /// condition, 32- and 64-bit, on operand pairs that give every flag combination a compare
    /// can: the JIT's SETcc form of a constant select against the interpreter. Random vectors
    /// almost never pick XZR for both sources. Each block runs three ways: with the compare's
    /// flags final; followed by `adds x7, x0, x1` (the compare's flags then never leave
    /// EFLAGS: `flagsStayInEFLAGS`); and with a `csel w3, w0, w1, COND` on them too.
    @Test func compareThenConditionalSetAgrees() throws {
        let runtime = try X64Runtime()
        var translator = A64Translator()
        var lowerer = X64Lowerer(options: .forHost(X64Features.host))
        var interpreter = IRInterpreter()
        let pairs: [(UInt64, UInt64)] = [(0, 0), (1, 2), (2, 1), (1 << 63, 1), (UInt64(Int64.max), UInt64.max),
                                         (UInt64.max, 1), (1, UInt64.max), (0x8000_0000, 1)]
        var checked = 0
        var mismatches: [String] = []
        for cond: UInt32 in 0..<16 {
            for sf: UInt32 in [0, 1] {
                for shape in 0..<3 {
                    let csinc = 0x1a9f_07e2 | sf << 31 | cond << 12
                    let words: [UInt32] = [[0xeb01_001f, csinc], [0xeb01_001f, csinc, 0xab01_0007],
                                           [0xeb01_001f, csinc, 0x1a81_0003 | cond << 12, 0xab01_0007]][shape]
                    words.withUnsafeBytes { translator.translate(code: $0, codeOffset: 0x1000, at: 0x1000) }
                    let block = translator.block
                    let unit = try runtime.install(try lowerer.lower(block), regionBase: 0x1020_0000)
                    for (a, b) in pairs {
                        let jitState = GuestCPUState(), interpState = GuestCPUState()
                        for s in [jitState, interpState] { s.setX(0, a); s.setX(1, b); s.setX(2, 0xdead_beef_dead_beef); s.setX(3, 7); s.nzcv = 0 }
                        var memory = JITHostMemory()
                        _ = try? interpreter.run(block, state: interpState, memory: &memory, regionBase: 0x1020_0000)
                        _ = runtime.run(unit.code, state: jitState)
                        let jit = JITVectorTests.Snapshot(jitState, addresses: []), interp = JITVectorTests.Snapshot(interpState, addresses: [])
                        checked += 1
                        if jit != interp {
                            mismatches.append(String(format: "%08x (shape %d) with x0=%llx x1=%llx: ", csinc, shape, a, b) + JITVectorTests.describe(jit, interp))
                        }
                    }
                }
            }
        }
        #expect(checked == 16 * 2 * 3 * pairs.count)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// A return to 0xffff_ffff_ffff_ffff, the address an empty return-prediction entry holds:
    /// it leaves as a return to there (before ABI 18 the entry's slot was 0 and Kiln jumped
    /// through address 0).
    @Test func returnToTheEmptyPredictionAddressLeavesAsAMiss() throws {
        let runtime = try X64Runtime()
        var translator = A64Translator()
        var lowerer = X64Lowerer(options: .forHost(X64Features.host))
        [UInt32(0xd65f_03c0)].withUnsafeBytes { translator.translate(code: $0, codeOffset: 0x1000, at: 0x1000) }
        let unit = try runtime.install(try lowerer.lower(translator.block), regionBase: 0x1020_0000)
        let state = GuestCPUState()
        state.setX(30, UInt64.max)
        let exit = runtime.run(unit.code, state: state)
        #expect(exit.kind == .ret && state.pc == UInt64.max)
    }

    /// A block whose final value of a pinned register (x0, x1, x19, SP) is read before the
    /// block reads that register's entry value: the final value must not take the host
    /// register first. Found by `--lockstep` on python3.11 (`sub w1, w3, w0; mov x0, x3`),
    /// which the random vectors had not produced.
    @Test func pinnedFinalValueWaitsForEntryReads() throws {
        let runtime = try X64Runtime()
        var translator = A64Translator()
        var lowerer = X64Lowerer(options: .forHost(X64Features.host))
        var interpreter = IRInterpreter()
        let blocks: [(String, [UInt32])] = [
            ("sub w1, w3, w0; mov x0, x3; add w1, w1, #1", [0x4b00_0061, 0xaa03_03e0, 0x1100_0421]),
            ("sub x2, x3, x1; mov x1, x3", [0xcb01_0062, 0xaa03_03e1]),
            ("sub x2, x3, x19; mov x19, x3", [0xcb13_0062, 0xaa03_03f3]),
            ("add x2, sp, x3; mov sp, x3", [0x8b23_63e2, 0x9100_007f]),
        ]
        for (source, words) in blocks {
            words.withUnsafeBytes { translator.translate(code: $0, codeOffset: 0x1000, at: 0x1000) }
            let block = translator.block
            let unit = try runtime.install(try lowerer.lower(block), regionBase: 0x1020_0000)
            let jitState = GuestCPUState(), interpState = GuestCPUState()
            for s in [jitState, interpState] {
                for n in 0..<31 { s.setX(n, 0x1000 &* UInt64(n + 1) &+ 0x55) }
                s.sp = 0x7fff_0000
            }
            var memory = JITHostMemory()
            _ = try? interpreter.run(block, state: interpState, memory: &memory, regionBase: 0x1020_0000)
            _ = runtime.run(unit.code, state: jitState)
            let jit = JITVectorTests.Snapshot(jitState, addresses: []), interp = JITVectorTests.Snapshot(interpState, addresses: [])
            #expect(jit == interp, "\(source): \(JITVectorTests.describe(jit, interp))")
        }
    }

    /// Units that run past conditional branches (side exits) agree with the interpreter
    /// whichever exit a state takes: random straight-line code over the pinned registers (x0,
    /// x1, x19, SP), others and NZCV (compares, CSEL, MRS/MSR NZCV, loads), cut by B.cond,
    /// CBZ/CBNZ and TBZ/TBNZ, each run from states that take each side exit and none.
    @Test func sideExitsAgree() throws {
        try #require(JITVectorRanges.mapped, "could not map the vectors' fixed guest ranges")
        let runtime = try X64Runtime()
        var translator = A64Translator()
        var lowerer = X64Lowerer(options: .forHost(X64Features.host))
        var interpreter = IRInterpreter()
        var seed: UInt64 = 0x5eed_0001
        func next(_ n: UInt32) -> UInt32 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return UInt32(truncatingIfNeeded: seed >> 33) % n
        }
        // Data the loads read: x20 points into it.
        let data = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x1000_0000))!
        for k in 0..<512 { data[k] = UInt64(k) &* 0x9e37_79b9_7f4a_7c15 }
        let registers: [UInt32] = [0, 1, 19, 2, 3, 4, 5, 6, 7, 29, 30]
        func reg() -> UInt32 { registers[Int(next(UInt32(registers.count)))] }
        func straightLine() -> UInt32 {
            let d = reg(), n = reg(), m = reg()
            switch next(12) {
            case 0: return 0x8b00_0000 | m << 16 | n << 5 | d                   // add xd, xn, xm
            case 1: return 0x4b00_0000 | m << 16 | n << 5 | d                   // sub wd, wn, wm
            case 2: return 0xeb00_001f | m << 16 | n << 5                       // cmp xn, xm
            case 3: return 0x7100_001f | next(64) << 10 | n << 5                // cmp wn, #imm
            case 4: return 0xb100_0000 | next(64) << 10 | n << 5 | d           // adds xd, xn, #imm
            case 5: return 0x9a80_0000 | m << 16 | next(16) << 12 | n << 5 | d  // csel xd, xn, xm, cond
            case 6: return 0xaa00_03e0 | m << 16 | d                            // mov xd, xm
            case 7: return 0xea00_001f | m << 16 | n << 5                       // tst xn, xm
            case 8: return 0xd53b_4200 | d                                      // mrs xd, nzcv
            case 9: return 0xd51b_4200 | n                                      // msr nzcv, xn
            case 10: return 0x9100_03ff | next(4) << 14                         // add sp, sp, #imm
            default: return 0xf940_0280 | next(64) << 10 | d                    // ldr xd, [x20, #imm]
            }
        }
        func conditionalBranch(_ here: Int, _ target: Int) -> UInt32 {
            let imm19 = UInt32(bitPattern: Int32(target - here) / 4) & 0x7ffff
            let t = reg()
            switch next(4) {
            case 0: return 0x5400_0000 | imm19 << 5 | next(14)                  // b.cond
            case 1: return 0xb400_0000 | imm19 << 5 | t                         // cbz xt
            case 2: return 0x3500_0000 | imm19 << 5 | t                         // cbnz wt
            default:
                let bit = next(64), imm14 = UInt32(bitPattern: Int32(target - here) / 4) & 0x3fff
                return 0x3600_0000 | next(2) << 24 | (bit >> 5) << 31 | (bit & 31) << 19 | imm14 << 5 | t  // tb(n)z
            }
        }
        var units = 0, runs = 0, sideExitsTaken = 0
        var mismatches: [String] = []
        for _ in 0..<300 {
            var words: [UInt32] = []
            for segment in 0..<(2 + Int(next(4))) {
                for _ in 0..<(1 + Int(next(5))) { words.append(straightLine()) }
                if segment > 0 || next(2) == 0 {
                    let here = 0x1000 + 4 * words.count
                    words.append(conditionalBranch(here, next(2) == 0 ? 0x2000 + 4 * Int(next(64)) : 0x800))
                }
            }
            words.append(0xd65f_03c0)  // ret
            words.withUnsafeBytes { translator.translate(code: $0, codeOffset: 0x1000, at: 0x1000) }
            let block = translator.block
            let lowered: X64Translation
            do { lowered = try lowerer.lower(block) } catch { print(IRPrinter.print(block)); throw error }
            let unit = try runtime.install(lowered, regionBase: 0x1020_0000)
            units += 1
            for _ in 0..<12 {
                let values = (0..<31).map { _ -> UInt64 in
                    switch next(4) {
                    case 0: return UInt64(next(4))
                    case 1: return UInt64(next(UInt32.max)) << 32 | UInt64(next(UInt32.max))
                    case 2: return UInt64.max &- UInt64(next(3))
                    default: return UInt64(next(UInt32.max))
                    }
                }
                let nzcv = next(16) << 28
                let jitState = GuestCPUState(), interpState = GuestCPUState()
                for s in [jitState, interpState] {
                    for n in 0..<31 { s.setX(n, values[n]) }
                    s.setX(20, 0x1000_0000)
                    s.sp = 0x1000_8000
                    s.nzcv = nzcv
                }
                var memory = JITHostMemory()
                let result = try? interpreter.run(block, state: interpState, memory: &memory, regionBase: 0x1020_0000)
                _ = runtime.run(unit.code, state: jitState)
                runs += 1
                if result?.kind == .branch && result?.pc != 0x1020_0000 &+ 0x1000 &+ UInt64(block.guestLength) { sideExitsTaken += 1 }
                let jit = JITVectorTests.Snapshot(jitState, addresses: []), interp = JITVectorTests.Snapshot(interpState, addresses: [])
                if jit != interp {
                    mismatches.append(words.map { String(format: "%08x", $0) }.joined(separator: " ") + ": " + JITVectorTests.describe(jit, interp))
                }
            }
        }
        #expect(runs == units * 12)
        #expect(sideExitsTaken > runs / 4, "side exits taken in \(sideExitsTaken) of \(runs) runs")
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(3))")
    }

    static func blocksAgree(_ file: String, options: X64LoweringOptions) throws {
        try #require(JITVectorRanges.mapped, "could not map the vectors' fixed guest ranges")
        let classes = try #require(try A64VectorFile.allGroups().first { $0.file == file }?.classes)
        // Interleave classes so each block mixes instruction kinds.
        var vectors: [A64Vector] = []
        let longest = classes.map(\.vectors.count).max() ?? 0
        for n in 0..<longest { for c in classes where n < c.vectors.count { vectors.append(c.vectors[n]) } }
        let runtime = try X64Runtime()
        var translator = A64Translator(maxInstructions: 12)
        var lowerer = X64Lowerer(options: options)
        var interpreter = IRInterpreter()
        let jitState = GuestCPUState(), interpState = GuestCPUState()
        var blocks = 0, agreed = 0, instructions = 0
        var mismatches: [String] = []
        for start in stride(from: 0, to: vectors.count - 12, by: 12) {
            let chunk = vectors[start..<(start + 12)]
            let regionBase: UInt64 = 0x1020_0000
            let words = chunk.map { $0.encoding.littleEndian }
            words.withUnsafeBytes { translator.translate(code: $0, codeOffset: 0x1000, at: 0x1000) }
            let block = translator.block
            instructions += Int(block.guestLength / 4)
            var addresses = Set<UInt64>()
            for v in chunk { addresses.formUnion(v.before.memory.keys) }
            let sorted = addresses.sorted()
            func setUp(_ s: GuestCPUState) {
                for v in chunk.reversed() { JITVectorTests.load(v.before, into: s) }
            }
            setUp(interpState)
            var memory = JITHostMemory()
            _ = try? interpreter.run(block, state: interpState, memory: &memory, regionBase: regionBase)
            let interp = JITVectorTests.Snapshot(interpState, addresses: sorted)
            let translation = try lowerer.lower(block)
            let unit: X64InstalledUnit
            if let u = try? runtime.install(translation, regionBase: regionBase) { unit = u } else {
                runtime.flush()
                unit = try runtime.install(translation, regionBase: regionBase)
            }
            setUp(jitState)
            _ = runtime.run(unit.code, state: jitState)
            let jit = JITVectorTests.Snapshot(jitState, addresses: sorted)
            blocks += 1
            if jit == interp { agreed += 1 } else if mismatches.count < 10 {
                mismatches.append("block at vector line \(chunk.first!.line): \(JITVectorTests.describe(jit, interp))")
            }
        }
        print("JIT blocks \(file): \(blocks) blocks of up to 12 instructions (\(instructions) instructions), \(agreed) agree with the interpreter")
        for m in mismatches { print("  mismatch \(m)") }
        #expect(agreed == blocks)
    }
}

/// A guest instruction or short idiom (assembled with aarch64-linux-gnu-as) whose x86 code
/// size is tracked.
struct Idiom {
    var source: String
    var words: [UInt32]
    init(_ source: String, _ words: [UInt32]) { self.source = source; self.words = words }
}

let idioms: [Idiom] = [
    Idiom("add x0, x1, x2", [0x8b020020]),
    Idiom("add w0, w1, w2", [0x0b020020]),
    Idiom("add x0, x1, #16", [0x91004020]),
    Idiom("sub x0, x1, x2, lsl #3", [0xcb020c20]),
    Idiom("add x0, x1, w2, sxtw #2", [0x8b22c820]),
    Idiom("adds x0, x1, x2", [0xab020020]),
    Idiom("subs w0, w1, #1", [0x71000420]),
    Idiom("cmp x0, #10 ; b.ne .+8", [0xf100281f, 0x54000041]),
    Idiom("cmp x0, x1 ; b.hi .+8", [0xeb01001f, 0x54000048]),
    Idiom("tbnz x0, #63, .+8", [0xb7f80040]),
    Idiom("cmp x0, #10 ; b.ne .+0x40 ; add x1, x1, #1 (side exit)", [0xf100281f, 0x54000201, 0x91000421]),
    Idiom("ldr x2, [x0] ; cbz x2, .+0x40 ; add x1, x1, x2 (side exit storing x2)", [0xf9400002, 0xb4000202, 0x8b020021]),
    Idiom("cmp x0, #10 ; b.ne .+0x40 ; ldr x2, [x1] ; cbz x2, .+0x40 ; cmp x2, #5 (NZCV computed again on the cbz's path)",
          [0xf100281f, 0x54000201, 0xf9400022, 0xb4000202, 0xf100145f]),
    Idiom("cmp w0, w1 ; b.lt .+8", [0x6b01001f, 0x5400004b]),
    Idiom("tst x0, #0xff ; b.eq .+8", [0xf2401c1f, 0x54000040]),
    Idiom("cmp x0, x1 ; cset w2, eq", [0xeb01001f, 0x1a9f17e2]),
    Idiom("cmp x0, x1 ; csel x2, x3, x4, lt", [0xeb01001f, 0x9a84b062]),
    Idiom("cmp w0, w1 ; csel w2, w3, w4, lt", [0x6b01001f, 0x1a84b062]),
    Idiom("cmp w0, w1 ; cset w2, cs ; cmp w5, #0 ; cset w6, eq", [0x6b01001f, 0x1a9f37e2, 0x710000bf, 0x1a9f17e6]),
    Idiom("ccmp x0, x1, #0, ne", [0xfa411000]),
    Idiom("tst x0, #0x2000000 ; ccmp x1, #0, #4, ne ; b.eq .+8", [0xf267001f, 0xfa401824, 0x54000040]),
    Idiom("cmp x0, x1 ; ccmp x2, x3, #0, eq ; cset w4, gt", [0xeb01001f, 0xfa430040, 0x1a9fd7e4]),
    Idiom("b.eq .+8 (flags from the previous block)", [0x54000040]),
    Idiom("adc x0, x1, x2", [0x9a020020]),
    Idiom("and x0, x1, #0xfff0", [0x927c2c20]),
    Idiom("orr x0, x1, x2", [0xaa020020]),
    Idiom("eor w0, w1, w2, ror #7", [0x4ac21c20]),
    Idiom("bic x0, x1, x2", [0x8a220020]),
    Idiom("mvn x0, x1", [0xaa2103e0]),
    Idiom("neg x0, x1", [0xcb0103e0]),
    Idiom("mov x0, x1", [0xaa0103e0]),
    Idiom("mov x0, #0x1234", [0xd2824680]),
    Idiom("movz x0, #0x1234, lsl #16 ; movk x0, #0x5678", [0xd2a24680, 0xf28acf00]),
    Idiom("mul x0, x1, x2", [0x9b027c20]),
    Idiom("madd x0, x1, x2, x3", [0x9b020c20]),
    Idiom("smulh x0, x1, x2", [0x9b427c20]),
    Idiom("udiv x0, x1, x2", [0x9ac20820]),
    Idiom("sdiv w0, w1, w2", [0x1ac20c20]),
    Idiom("lsl x0, x1, #3", [0xd37df020]),
    Idiom("lsr x0, x1, x2", [0x9ac22420]),
    Idiom("asr w0, w1, #5", [0x13057c20]),
    Idiom("ror x0, x1, #17", [0x93c14420]),
    Idiom("ubfx x0, x1, #4, #8", [0xd3442c20]),
    Idiom("sbfx x0, x1, #3, #7", [0x93432420]),
    Idiom("bfi x0, x1, #8, #4", [0xb3780c20]),
    Idiom("ubfiz x0, x1, #3, #31", [0xd37d7820]),
    Idiom("sxtw x0, w1", [0x93407c20]),
    Idiom("uxtb w0, w1", [0x53001c20]),
    Idiom("clz x0, x1", [0xdac01020]),
    Idiom("cls w0, w1", [0x5ac01420]),
    Idiom("rev x0, x1", [0xdac00c20]),
    Idiom("rev16 w0, w1", [0x5ac00420]),
    Idiom("rbit x0, x1", [0xdac00020]),
    Idiom("csinc x0, x1, x2, ne", [0x9a821420]),
    Idiom("adrp x0, .+0x3000 ; add x0, x0, #0x10", [0xf0000000, 0x91004000]),
    Idiom("adr x0, .+0x100", [0x10000800]),
    Idiom("ldr x0, [x1, #8]", [0xf9400420]),
    Idiom("ldr w0, [x1, x2, lsl #2]", [0xb8627820]),
    Idiom("ldrb w0, [x1]", [0x39400020]),
    Idiom("ldrsw x0, [x1, #4]", [0xb9800420]),
    Idiom("ldr x0, [x1, #16]!", [0xf8410c20]),
    Idiom("str x0, [x1, #-8]", [0xf81f8020]),
    Idiom("strb w0, [x1, x2]", [0x38226820]),
    Idiom("ldp x0, x1, [sp, #16]", [0xa94107e0]),
    Idiom("stp x29, x30, [sp, #-32]!", [0xa9be7bfd]),
    Idiom("ldr q0, [x1]", [0x3dc00020]),
    Idiom("str d0, [x1, #8]", [0xfd000420]),
    Idiom("ldr x0, .+0x40", [0x58000200]),
    Idiom("ldar x0, [x1]", [0xc8dffc20]),
    Idiom("stlr w0, [x1]", [0x889ffc20]),
    Idiom("ldaxr x0, [x1]", [0xc85ffc20]),
    Idiom("stlxr w2, x0, [x1]", [0xc802fc20]),
    Idiom("ldadd x0, x1, [x2]", [0xf8200041]),
    Idiom("ldaddal w0, w1, [x2]", [0xb8e00041]),
    Idiom("swp x0, x1, [x2]", [0xf8208041]),
    Idiom("ldsetal x0, x1, [x2]", [0xf8e03041]),
    Idiom("cas x0, x1, [x2]", [0xc8a07c41]),
    Idiom("dmb ish", [0xd5033bbf]),
    Idiom("mrs x0, tpidr_el0", [0xd53bd040]),
    Idiom("mrs x0, nzcv", [0xd53b4200]),
    Idiom("b .+0x100", [0x14000040]),
    Idiom("bl .+0x100", [0x94000040]),
    Idiom("br x1", [0xd61f0020]),
    Idiom("blr x1", [0xd63f0020]),
    Idiom("ret", [0xd65f03c0]),
    Idiom("cbz x0, .+8", [0xb4000040]),
    Idiom("cbnz w0, .+8", [0x35000040]),
    Idiom("tbz x0, #3, .+8", [0x36180040]),
    Idiom("svc #0", [0xd4000001]),
    Idiom("fadd d0, d1, d2", [0x1e622820]),
    Idiom("fmov d0, x1", [0x9e670020]),
    Idiom("add v0.4s, v1.4s, v2.4s", [0x4ea28420]),
    Idiom("and v0.16b, v1.16b, v2.16b", [0x4e221c20]),
    // The first block of a python3.11 function (0x4794d0), hot in its start-up: a prologue
    // saving callee-saved registers, loads, then more register writes than host registers.
    Idiom("python3.11 0x4794d0: stp x29, x30, [sp, #-144]! ; ... (24 instructions) ; cbz w6",
          [0xa9b77bfd, 0xd2800029, 0x910003fd, 0xf9401004, 0xa9025bf5, 0xaa0203f6, 0xa90363f7, 0xaa0103f7,
           0xa9046bf9, 0xaa0003fa, 0xa90153f3, 0xa90573fb, 0x39402098, 0x39402886, 0xaa0403e5, 0x39402494,
           0x9100809c, 0x9ad82139, 0xd1000739, 0x2a1803e0, 0x8a1902d3, 0xaa1603e7, 0x9ad42134, 0x340012c6]),
]

/// Golden x86 instruction counts per guest idiom (like FEX's InstructionCountCI): a change in
/// code quality shows up as a reviewed diff of Tests/KilnX64Tests/Golden/counts.json. Lowered
/// with a fixed feature set so the file does not depend on the machine.
@Suite struct JITCodeQualityTests {
    static let features: X64Features = [.ssse3, .sse41, .sse42, .popcnt, .lzcnt, .bmi1, .bmi2, .lahfsahf, .cmpxchg16b]

    static func lower(_ idiom: Idiom, _ translator: inout A64Translator, _ lowerer: inout X64Lowerer) throws -> X64Translation {
        translator.maxInstructions = idiom.words.count
        let words = idiom.words.map(\.littleEndian)
        words.withUnsafeBytes { translator.translate(code: $0, codeOffset: 0x1000, at: 0x1000) }
        return try lowerer.lower(translator.block)
    }

    static func json(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    @Test func instructionCountsMatchGolden() throws {
        var translator = A64Translator()
        var lowerer = X64Lowerer(options: X64LoweringOptions(features: Self.features))
        var text = "[\n"
        for (n, idiom) in idioms.enumerated() {
            let t = try Self.lower(idiom, &translator, &lowerer)
            let x86 = try X64Disassembler.disassemble(t.code).map(\.text)
            #expect(x86.count == t.instructionCount, "\(idiom.source)")
            let helpers = t.helperOps.map(\.name).sorted()
            text += "  {\"a64\": \(Self.json(idiom.source)), \"x86Count\": \(t.instructionCount), \"codeBytes\": \(t.code.count),"
            text += " \"helpers\": [\(helpers.map(Self.json).joined(separator: ", "))],\n"
            text += "   \"x86\": [\(x86.map(Self.json).joined(separator: ", "))]}"
            text += n + 1 < idioms.count ? ",\n" : "\n"
        }
        text += "]\n"
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/KilnX64Tests/Golden/counts.json")
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        #expect(text == golden, "x86 code differs from Golden/counts.json (KILN_UPDATE_GOLDEN=1 rewrites)")
    }

    /// Invariant 2: each block lowers to the same bytes whatever was lowered before it, and the
    /// code never depends on where the region is loaded (the base is a table entry).
    @Test func translationIsDeterministic() throws {
        var translator = A64Translator()
        var forward = X64Lowerer(options: X64LoweringOptions(features: Self.features))
        var backward = X64Lowerer(options: X64LoweringOptions(features: Self.features))
        var first: [X64Translation] = []
        for idiom in idioms { first.append(try Self.lower(idiom, &translator, &forward)) }
        var second: [X64Translation] = []
        for idiom in idioms.reversed() { second.append(try Self.lower(idiom, &translator, &backward)) }
        #expect(first == Array(second.reversed()))
        for (idiom, t) in zip(idioms, first) where idiom.source.hasPrefix("adr") || idiom.source.hasPrefix("ldr x0, .") || idiom.source.hasPrefix("bl ") {
            #expect(t.cacheable && t.relocations.contains { $0.tableEntry == 0 }, "\(idiom.source) must reach the region base through the table")
        }
    }

    /// The same translation installed at two region bases computes base-relative results.
    @Test func oneTranslationServesEveryBase() throws {
        var translator = A64Translator()
        var lowerer = X64Lowerer(options: .forHost(X64Features.host))
        let adrp = try #require(idioms.first { $0.source.hasPrefix("adrp") })
        let t = try Self.lower(adrp, &translator, &lowerer)
        let runtime = try X64Runtime(codeCapacity: 1 << 20)
        for base: UInt64 in [0x5555_0000_0000, 0x7f12_3456_0000] {
            let unit = try runtime.install(t, regionBase: base)
            let s = GuestCPUState()
            _ = runtime.run(unit.code, state: s)
            #expect(s.x(0) == ((base + 0x1000) & ~0xfff) + 0x3000 + 0x10)
            #expect(s.pc == base + 0x1008)
        }
    }
}
