import Foundation
import Testing
import KilnIR
@testable import KilnX64

/// Host memory for the interpreter side (guest address == host address).
struct RawMemory: GuestMemory {
    mutating func read(_ address: UInt64, size: Int) throws(GuestMemoryFault) -> UInt64 {
        let p = UnsafeRawPointer(bitPattern: UInt(address))!
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: size) }
        return v
    }
    mutating func write(_ address: UInt64, size: Int, _ value: UInt64) throws(GuestMemoryFault) {
        var v = value
        withUnsafeBytes(of: &v) { UnsafeMutableRawPointer(bitPattern: UInt(address))!.copyMemory(from: $0.baseAddress!, byteCount: size) }
    }
}

/// The state's bytes, with NZCV's parked word reduced to its meaning (translated code leaves
/// AF, PF and bit 9 as LAHF set them; the interpreter stores them clear or set by convention).
func snapshot(_ s: GuestCPUState) -> [UInt8] {
    var bytes = Array(UnsafeRawBufferPointer(start: s.base, count: GuestCPUState.size))
    withUnsafeBytes(of: GuestCPUState.parkedNZCV(s.nzcv).littleEndian) { word in
        bytes.replaceSubrange(GuestCPUState.nzcvOffset..<(GuestCPUState.nzcvOffset + 4), with: word)
    }
    return bytes
}

func copyState(_ from: GuestCPUState, to: GuestCPUState) {
    to.base.copyMemory(from: from.base, byteCount: GuestCPUState.size)
}

let testOptions = X64LoweringOptions.forHost(X64Features.host)

@Suite(.serialized) struct LoweringTests {
    let runtime: X64Runtime
    init() throws { runtime = try X64Runtime(codeCapacity: 4 << 20) }

    /// Runs `block` under the JIT and the interpreter from the same state; returns both results.
    func lockstep(_ block: IRBlock, _ setup: (GuestCPUState) -> Void, regionBase: UInt64 = 0x40_0000) throws -> (jit: GuestCPUState, interp: GuestCPUState, exit: X64Exit, expected: IRExecutionResult) {
        var lowerer = X64Lowerer(options: testOptions)
        let translation = try lowerer.lower(block)
        let unit = try runtime.install(translation, regionBase: regionBase)
        let jit = GuestCPUState(), interp = GuestCPUState()
        setup(jit)
        copyState(jit, to: interp)
        var interpreter = IRInterpreter()
        var memory = RawMemory()
        let expected = try interpreter.run(block, state: interp, memory: &memory, regionBase: regionBase)
        setup(jit)
        let exit = runtime.run(unit.code, state: jit)
        return (jit, interp, exit, expected)
    }

    @Test func compareAndBranchKeepsFlagsInEFLAGS() throws {
        var b = IRBuilder(startOffset: 0x100)
        b.guestInstruction(offset: 0x100, encoding: 0)
        let x0 = b.readReg(.x(0))
        let ten = b.const(.i64, 10)
        let f = b.emit(.nzcvSub, .i32, x0, ten)
        b.writeReg(.nzcv, f)
        let ne = b.condition(.hi, f)
        b.finish(.branch(ne, taken: 0x200, notTaken: 0x104), guestLength: 4)
        for value: UInt64 in [5, 10, 11, 0xffff_ffff_ffff_fff0] {
            let r = try lockstep(b.block) { $0.setX(0, value) }
            #expect(snapshot(r.jit) == snapshot(r.interp), "x0 = \(value)")
            #expect(r.exit.kind == r.expected.kind && r.jit.pc == r.expected.pc)
        }
        var lowerer = X64Lowerer(options: testOptions)
        let t = try lowerer.lower(b.block)
        // The condition reads EFLAGS directly: no SAHF re-establishment.
        let text = try X64Disassembler.disassemble(t.code).map(\.text)
        #expect(!text.contains("sahf"))
    }

    /// Every A64 condition after every flag producer, as a fused branch, as a value, and after
    /// an intervening flag clobber, with and without BMI2 and LAHF/SAHF.
    @Test(arguments: [IROp.nzcvSub, .nzcvAdd, .nzcvAdc, .nzcvLogic])
    func conditionsAfterEveryProducer(_ producer: IROp) throws {
        let values: [UInt64] = [0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, ~0]
        let featureSets: [X64Features] = [testOptions.features, testOptions.features.subtracting(.bmi2), []]
        for (features, deferWrites) in featureSets.map({ ($0, true) }) + [(testOptions.features, false)] {
            for width in [IRType.i32, .i64] {
                for cond in IRCondition.allCases {
                    for shape in 0..<3 {
                        var b = IRBuilder(startOffset: 0x100)
                        b.guestInstruction(offset: 0x100, encoding: 0)
                        func operand(_ n: Int) -> IRValue { width == .i64 ? b.readReg(.x(n)) : b.trunc(b.readReg(.x(n)), to: width) }
                        let x = operand(0), y = operand(1)
                        let carry = b.trunc(b.readReg(.x(2)), to: .i1)
                        let f: IRValue
                        switch producer {
                        case .nzcvAdc: f = b.emit(.nzcvAdc, .i32, x, y, carry)
                        case .nzcvLogic: f = b.emit(.nzcvLogic, .i32, b.and(x, y))
                        default: f = b.emit(producer, .i32, x, y)
                        }
                        b.writeReg(.nzcv, f)
                        if shape == 2 { b.writeReg(.x(4), width == .i64 ? b.binary(.mul, x, y) : b.zext(b.binary(.mul, x, y), to: .i64)) }
                        let c = b.condition(cond, f)
                        if shape == 1 { b.writeReg(.x(3), b.zext(c, to: .i64)) }
                        b.finish(.branch(c, taken: 0x200, notTaken: 0x104), guestLength: 4)
                        var lowerer = X64Lowerer(options: X64LoweringOptions(features: features, deferRegisterWrites: deferWrites))
                        let unit = try runtime.install(try lowerer.lower(b.block), regionBase: 0x40_0000)
                        for (n, p) in values.enumerated() {
                            let q = values[(n * 5 + 3) % values.count]
                            let jit = GuestCPUState(), interp = GuestCPUState()
                            for s in [jit, interp] { s.setX(0, p); s.setX(1, q); s.setX(2, UInt64(n & 1)) }
                            var interpreter = IRInterpreter()
                            var memory = RawMemory()
                            _ = try interpreter.run(b.block, state: interp, memory: &memory, regionBase: 0x40_0000)
                            _ = runtime.run(unit.code, state: jit)
                            #expect(snapshot(jit) == snapshot(interp), "\(producer) \(width.name) \(cond) shape \(shape) features \(features.names) x0=\(String(p, radix: 16)) x1=\(String(q, radix: 16))")
                        }
                    }
                }
            }
        }
    }

    @Test func registerPressureSpillsAndReloads() throws {
        var b = IRBuilder()
        b.guestInstruction(offset: 0, encoding: 0)
        var values: [IRValue] = []
        for n in 0..<30 { values.append(b.binary(.mul, b.readReg(.x(n)), b.const(.i64, UInt64(n + 3)))) }
        var sum = b.const(.i64, 0)
        for v in values.reversed() { sum = b.add(sum, v) }
        for (n, v) in values.enumerated() { b.writeReg(.x(n), b.xor(v, sum)) }
        b.finish(.jump(4), guestLength: 4)
        let r = try lockstep(b.block) { s in for n in 0..<31 { s.setX(n, UInt64(n) &* 0x9E37_79B9_7F4A_7C15) } }
        #expect(snapshot(r.jit) == snapshot(r.interp))
        var lowerer = X64Lowerer(options: testOptions)
        let text = try X64Disassembler.disassemble(try lowerer.lower(b.block).code).map(\.text)
        #expect(text.contains { $0.hasPrefix("mov qword ptr [rsp") }, "30 live values must spill")
    }

    @Test func helperSlowPathMatchesInterpreter() throws {
        var b = IRBuilder()
        b.guestInstruction(offset: 0, encoding: 0)
        let a = b.emit(.bitcast, .f64, b.readReg(.x(1)))
        let c = b.emit(.bitcast, .f64, b.readReg(.x(2)))
        let s = b.emit(.fmadd, .f64, a, c, a)
        b.writeReg(.x(0), b.emit(.bitcast, .i64, s))
        let v = b.readReg(.v(3))
        b.writeReg(.v(4), b.emit(.vabs, .v128, v, aux: IRElement.i64.rawValue))
        b.finish(.jump(4), guestLength: 4)
        let r = try lockstep(b.block) { s in
            s.setX(1, (1.0).bitPattern); s.setX(2, (3.0).bitPattern); s.fpcr = 0x00C0_0000
            s.setV(3, V128(lo: 0x8000_7fff_fff0_0010, hi: 0x1234_8765_0000_ffff))
        }
        #expect(snapshot(r.jit) == snapshot(r.interp))
        var lowerer = X64Lowerer(options: testOptions)
        #expect(try lowerer.lower(b.block).helperOps == [.fmadd, .vabs])
    }

    /// Native SSE arithmetic with its slow path: NaN operands, NaN results, directed rounding
    /// and FZ go through the interpreter; FPSR flags match in every case.
    @Test(arguments: [IROp.fadd, .fsub, .fmul, .fdiv, .fsqrt])
    func nativeFloatMatchesInterpreter(_ op: IROp) throws {
        for single in [false, true] {
            let t: IRType = single ? .f32 : .f64
            var b = IRBuilder()
            b.guestInstruction(offset: 0, encoding: 0)
            let x = b.emit(.bitcast, t, b.trunc(b.readReg(.x(1)), to: single ? .i32 : .i64))
            let y = b.emit(.bitcast, t, b.trunc(b.readReg(.x(2)), to: single ? .i32 : .i64))
            let r = op == .fsqrt ? b.emit(op, t, x) : b.emit(op, t, x, y)
            let r2 = b.emit(.fmul, t, r, y)
            b.writeReg(.x(0), b.zext(b.emit(.bitcast, single ? .i32 : .i64, r), to: .i64))
            b.writeReg(.x(3), b.zext(b.emit(.bitcast, single ? .i32 : .i64, r2), to: .i64))
            b.finish(.jump(4), guestLength: 4)
            func bits(_ d: Double) -> UInt64 { single ? UInt64(Float(d).bitPattern) : d.bitPattern }
            let snan: UInt64 = single ? 0x7f80_0001 : 0x7ff0_0000_0000_0001
            let cases: [(UInt64, UInt64, UInt32)] = [
                (bits(1.5), bits(3.25), 0), (bits(1), bits(3), 0), (bits(1), bits(3), 0x0040_0000), (bits(1), bits(3), 0x00C0_0000),
                (bits(.infinity), bits(.infinity), 0), (bits(-4), bits(0), 0), (snan, bits(2), 0), (bits(2), bits(.nan), 0x0200_0000),
                (bits(1e-300), bits(1e-300), 0), (bits(1e-300), bits(1e-300), 0x0100_0000), (bits(1e300), bits(1e300), 0),
            ]
            for (p, q, fpcr) in cases {
                let r = try lockstep(b.block) { s in s.setX(1, p); s.setX(2, q); s.fpcr = fpcr; s.fpsr = 0 }
                #expect(snapshot(r.jit) == snapshot(r.interp), "\(op) \(t.name) \(String(p, radix: 16)) \(String(q, radix: 16)) fpcr \(String(fpcr, radix: 16))")
            }
            var lowerer = X64Lowerer(options: testOptions)
            #expect(try lowerer.lower(b.block).helperOps.isEmpty)
        }
    }

    @Test func directExitsChainThroughLinkSlots() throws {
        var a = IRBuilder(startOffset: 0)
        a.guestInstruction(offset: 0, encoding: 0)
        a.writeReg(.x(0), a.add(a.readReg(.x(0)), a.const(.i64, 1)))
        a.finish(.jump(0x40), guestLength: 4)
        var b = IRBuilder(startOffset: 0x40)
        b.guestInstruction(offset: 0x40, encoding: 0)
        b.writeReg(.x(1), b.binary(.shl, b.readReg(.x(0)), b.const(.i64, 1)))
        b.finish(.syscall(immediate: 0, next: 0x44), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        let base: UInt64 = 0x7000_0000
        let unitA = try runtime.install(try lowerer.lower(a.block), regionBase: base)
        let unitB = try runtime.install(try lowerer.lower(b.block), regionBase: base)
        let s = GuestCPUState()
        s.setX(0, 20)
        var exit = runtime.run(unitA.code, state: s)
        #expect(exit.kind == .jump && s.pc == base + 0x40 && s.x(0) == 21)
        #expect(exit.slot == UInt(bitPattern: unitA.table + Int(unitA.linkSlots[0].tableEntry)))
        unitA.link(0, to: unitB.code)
        exit = runtime.run(unitA.code, state: s)
        #expect(exit.kind == .syscall && s.pc == base + 0x44 && s.x(0) == 22 && s.x(1) == 44)
        unitA.unlink(0)
        exit = runtime.run(unitA.code, state: s)
        #expect(exit.kind == .jump && s.pc == base + 0x40 && s.x(0) == 23 && s.x(1) == 44)
    }

    /// Anonymous-memory code (a guest JIT's) uses absolute addresses, beyond 32 bits in Kiln's
    /// guest range: the pc every kind of exit stores, and the addresses the block computes,
    /// must be those addresses.
    @Test func absoluteAddressesBeyond32BitsReachTheState() throws {
        let start: UInt64 = 0xfe_ffff_f000
        var b = IRBuilder(addressing: .absolute, startOffset: start)
        b.guestInstruction(offset: start, encoding: 0)
        b.writeReg(.x(30), b.emit(.regionAddress, .i64, imm: start + 4))
        b.finish(.trap(.instructionCacheMaintenance, at: start + 4, info: 0), guestLength: 8)
        let trap = try lockstep(b.block, { _ in }, regionBase: 0)
        #expect(trap.exit.kind == .trap && trap.exit.trap == .instructionCacheMaintenance)
        #expect(trap.jit.pc == start + 4 && trap.interp.pc == start + 4)
        #expect(trap.jit.x(30) == start + 4)

        var c = IRBuilder(addressing: .absolute, startOffset: start)
        c.guestInstruction(offset: start, encoding: 0)
        c.finish(.call(start + 0x20, returnTo: start + 4), guestLength: 4)
        let call = try lockstep(c.block, { _ in }, regionBase: 0)
        #expect(call.jit.pc == start + 0x20 && call.interp.pc == start + 0x20)
    }

    @Test func indirectExitsUseTheInlineLookup() throws {
        var r = IRBuilder(startOffset: 0x10)
        r.guestInstruction(offset: 0x10, encoding: 0)
        r.finish(.ret(r.readReg(.x(30))), guestLength: 4)
        var t = IRBuilder(startOffset: 0x80)
        t.guestInstruction(offset: 0x80, encoding: 0)
        t.writeReg(.x(2), t.const(.i64, 77))
        t.finish(.trap(.breakpoint, at: 0x80, info: 5), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        let base: UInt64 = 0x5000_0000
        let ret = try runtime.install(try lowerer.lower(r.block), regionBase: base)
        let target = try runtime.install(try lowerer.lower(t.block), regionBase: base)
        let s = GuestCPUState()
        s.setX(30, base + 0x80)
        var exit = runtime.run(ret.code, state: s)
        #expect(exit.kind == .ret && exit.slot == nil && s.pc == base + 0x80 && s.x(2) == 0)
        runtime.register(pc: base + 0x80, code: target.code)
        exit = runtime.run(ret.code, state: s)
        #expect(exit.kind == .trap && exit.trap == .breakpoint && exit.info == 5 && s.pc == base + 0x80 && s.x(2) == 77)
    }

    @Test func indirectExitsFindATargetDisplacedToItsBuddyEntry() throws {
        // Two targets whose pcs share a home entry: registering the second moves the first to
        // the buddy entry, where the shared miss tail finds it without leaving translated code.
        let base: UInt64 = 0x5100_0000
        let first = base + 0x80, second = first + 4 * UInt64(runtime.lookupEntries)
        var r = IRBuilder(startOffset: 0x10)
        r.guestInstruction(offset: 0x10, encoding: 0)
        r.finish(.ret(r.readReg(.x(30))), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        let ret = try runtime.install(try lowerer.lower(r.block), regionBase: base)
        var targets: [X64InstalledUnit] = []
        for (n, pc) in [first, second].enumerated() {
            var t = IRBuilder(startOffset: pc - base)
            t.guestInstruction(offset: pc - base, encoding: 0)
            t.writeReg(.x(2), t.const(.i64, 77 + UInt64(n)))
            t.finish(.trap(.breakpoint, at: pc - base, info: 5 + UInt32(n)), guestLength: 4)
            targets.append(try runtime.install(try lowerer.lower(t.block), regionBase: base))
        }
        #expect(runtime.lookupIndex(first) == runtime.lookupIndex(second))
        runtime.register(pc: first, code: targets[0].code)
        runtime.register(pc: second, code: targets[1].code)
        #expect(runtime.registeredCode(pc: first) == targets[0].code && runtime.registeredCode(pc: second) == targets[1].code)
        let s = GuestCPUState()
        for (n, pc) in [first, second, first].enumerated() {
            s.setX(30, pc)
            s.setX(2, 0)
            let exit = runtime.run(ret.code, state: s)
            let expected = UInt64(n % 2)
            #expect(exit.kind == .trap && exit.info == 5 + UInt32(expected) && s.x(2) == 77 + expected, "return to \(String(pc, radix: 16))")
        }
    }

    /// A: bl 0x40 (returns to 0x8). B at 0x40: ret. C at 0x8: x0 = 99; svc. Installed at `base`.
    func installCallReturnUnits(base: UInt64) throws -> (X64InstalledUnit, X64InstalledUnit, X64InstalledUnit) {
        var a = IRBuilder(startOffset: 0)
        a.guestInstruction(offset: 0, encoding: 0)
        a.writeReg(.x(30), a.regionAddress(0x8))
        a.finish(.call(0x40, returnTo: 0x8), guestLength: 4)
        var b = IRBuilder(startOffset: 0x40)
        b.guestInstruction(offset: 0x40, encoding: 0)
        b.finish(.ret(b.readReg(.x(30))), guestLength: 4)
        var c = IRBuilder(startOffset: 0x8)
        c.guestInstruction(offset: 0x8, encoding: 0)
        c.writeReg(.x(0), c.const(.i64, 99))
        c.finish(.syscall(immediate: 0, next: 0xc), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        return (try runtime.install(try lowerer.lower(a.block), regionBase: base),
                try runtime.install(try lowerer.lower(b.block), regionBase: base),
                try runtime.install(try lowerer.lower(c.block), regionBase: base))
    }

    @Test func returnsArePredictedThroughLinkSlots() throws {
        let base: UInt64 = 0x6000_0000
        let (unitA, unitB, unitC) = try installCallReturnUnits(base: base)
        runtime.clearReturnPredictions()
        let s = GuestCPUState()
        unitA.link(0, to: unitB.code)
        // Predicted, return slot unlinked: its stub reports the return and the slot.
        var exit = runtime.run(unitA.code, state: s)
        let returnSlot = try #require(unitA.linkSlots.firstIndex { $0.targetOffset == 0x8 })
        #expect(exit.kind == .ret && s.pc == base + 0x8)
        #expect(exit.slot == UInt(bitPattern: unitA.table + Int(unitA.linkSlots[returnSlot].tableEntry)))
        // Chained: the return continues straight into C.
        unitA.link(returnSlot, to: unitC.code)
        exit = runtime.run(unitA.code, state: s)
        #expect(exit.kind == .syscall && s.pc == base + 0xc && s.x(0) == 99)
        // The prediction was popped: a second return to the same address is looked up.
        s.setX(0, 0)
        exit = runtime.run(unitB.code, state: s)
        #expect(exit.kind == .ret && exit.slot == nil && s.pc == base + 0x8 && s.x(0) == 0)
        // A mismatching return falls back to the lookup and keeps the stack.
        _ = runtime.run(unitA.code, state: s)
        runtime.clearReturnPredictions()
        unitA.unlink(0)
        _ = runtime.run(unitA.code, state: s)
        s.setX(30, base + 0x100)
        exit = runtime.run(unitB.code, state: s)
        #expect(exit.kind == .ret && exit.slot == nil && s.pc == base + 0x100)
        s.setX(30, base + 0x8)
        exit = runtime.run(unitB.code, state: s)
        #expect(exit.kind == .syscall && s.x(0) == 99)
    }

    /// With the thread's interrupt word set, a predicted return whose slot is chained and an
    /// inline lookup that hits both leave to the host (else a loop of indirect branches would
    /// never see a signal); cleared, the same return continues into the translated target.
    @Test func indirectExitsLeaveWhenInterrupted() throws {
        let base: UInt64 = 0x7000_0000
        let (unitA, unitB, unitC) = try installCallReturnUnits(base: base)
        runtime.clearReturnPredictions()
        let returnSlot = try #require(unitA.linkSlots.firstIndex { $0.targetOffset == 0x8 })
        unitA.link(returnSlot, to: unitC.code)
        runtime.register(pc: base + 0x8, code: unitC.code)
        let interrupt = (runtime.context + X64ABI.Context.interrupt).assumingMemoryBound(to: UInt32.self)
        defer { interrupt.pointee = 0 }
        let s = GuestCPUState()
        // A pushes the prediction and leaves through its unlinked call slot.
        var exit = runtime.run(unitA.code, state: s)
        #expect(exit.kind == .call && s.pc == base + 0x40 && s.x(30) == base + 0x8)
        interrupt.pointee = 1
        exit = runtime.run(unitB.code, state: s)
        #expect(exit.kind == .ret && exit.slot == nil && s.pc == base + 0x8 && s.x(0) == 0)
        interrupt.pointee = 0
        exit = runtime.run(unitB.code, state: s)
        #expect(exit.kind == .syscall && s.pc == base + 0xc && s.x(0) == 99)
    }

    /// Only direct exits to a target at or before their block's start test the interrupt word:
    /// with it set, a forward exit still runs into its chained target, whose backward exit
    /// leaves; clear, the loop A -> B -> A runs until B's counter ends it.
    @Test func onlyBackwardDirectExitsTestTheInterruptWord() throws {
        let base: UInt64 = 0x7100_0000
        var a = IRBuilder(startOffset: 0x100)
        a.guestInstruction(offset: 0x100, encoding: 0)
        a.writeReg(.x(2), a.binary(.add, a.readReg(.x(2)), a.const(.i64, 1)))
        a.finish(.jump(0x200), guestLength: 4)
        var b = IRBuilder(startOffset: 0x200)
        b.guestInstruction(offset: 0x200, encoding: 0)
        let left = b.binary(.sub, b.readReg(.x(0)), b.const(.i64, 1))
        b.writeReg(.x(0), left)
        b.finish(.branch(b.icmp(.ne, left, b.const(.i64, 0)), taken: 0x100, notTaken: 0x300), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        let unitA = try runtime.install(try lowerer.lower(a.block), regionBase: base)
        let unitB = try runtime.install(try lowerer.lower(b.block), regionBase: base)
        unitA.link(0, to: unitB.code)
        let back = try #require(unitB.linkSlots.firstIndex { $0.targetOffset == 0x100 })
        unitB.link(back, to: unitA.code)
        let interrupt = (runtime.context + X64ABI.Context.interrupt).assumingMemoryBound(to: UInt32.self)
        defer { interrupt.pointee = 0 }
        let s = GuestCPUState()
        s.setX(0, 3)
        interrupt.pointee = 1
        var exit = runtime.run(unitA.code, state: s)
        #expect(exit.kind == .branch && s.pc == base + 0x100 && s.x(0) == 2 && s.x(2) == 1)
        #expect(exit.slot == UInt(bitPattern: unitB.table + Int(unitB.linkSlots[back].tableEntry)))
        interrupt.pointee = 0
        exit = runtime.run(unitA.code, state: s)
        #expect(exit.kind == .branch && s.pc == base + 0x300 && s.x(0) == 0 && s.x(2) == 3)
    }

    /// Runs `body` with four zeroed guest words (`second` in word 1), their address, and a
    /// runtime whose guest limit is `limit` bytes past that address.
    func withGuestWords(second: UInt64, limit: UInt64,
                        _ body: (UnsafeMutablePointer<UInt64>, UInt64, X64Runtime) throws -> Void) throws {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 4)
        defer { words.deallocate() }
        words.initialize(repeating: 0, count: 4)
        words[1] = second
        let address = UInt64(UInt(bitPattern: words))
        try body(words, address, try X64Runtime(codeCapacity: 1 << 20, guestLimit: address + limit))
    }

    /// An access whose base is at or above the guest limit leaves with a memory-fault trap
    /// naming the address, with the pc at the block's start (the dispatcher replays the block
    /// to find the instruction), although the host maps that address;
    /// one check per base value covers the block's accesses through it (displacements land
    /// in the guard that `X64Runtime.reserveGuard` maps above the real limit).
    @Test func accessesBeyondTheGuestLimitFault() throws {
        try withGuestWords(second: 0x1234_5678, limit: 8) { words, address, limited in
            var lowerer = X64Lowerer(options: testOptions)

            var b = IRBuilder(startOffset: 0x100)
            b.guestInstruction(offset: 0x100, encoding: 0)
            b.writeReg(.x(2), b.const(.i64, 7))
            b.guestInstruction(offset: 0x104, encoding: 0)
            b.writeReg(.x(0), b.load(.i64, b.binary(.add, b.readReg(.x(1)), b.const(.i64, 8)), IRMemoryAccess(sizeLog2: 3)))
            b.guestInstruction(offset: 0x108, encoding: 0)
            b.store(b.binary(.add, b.readReg(.x(1)), b.const(.i64, 16)), b.const(.i64, 5), IRMemoryAccess(sizeLog2: 3))
            b.finish(.jump(0x10c), guestLength: 12)
            let translation = try lowerer.lower(b.block)
            #expect(translation.code.count < 200)
            let load = try limited.install(translation, regionBase: 0x40_0000)
            let s = GuestCPUState()
            s.setX(1, address)
            var exit = limited.run(load.code, state: s)
            #expect(exit.kind == .jump && exit.fault == nil && s.x(0) == 0x1234_5678 && words[2] == 5)

            s.setX(1, address + 8)
            s.setX(2, 0)
            exit = limited.run(load.code, state: s)
            #expect(exit.kind == .trap && s.pc == 0x40_0100 && s.x(2) == 0)
            #expect(exit.fault?.address == address + 16 && exit.fault?.isWrite == false)

            var w = IRBuilder(startOffset: 0x200)
            w.guestInstruction(offset: 0x200, encoding: 0)
            w.store(w.readReg(.x(1)), w.const(.i64, 9), IRMemoryAccess(sizeLog2: 3))
            w.finish(.jump(0x204), guestLength: 4)
            let store = try limited.install(try lowerer.lower(w.block), regionBase: 0x40_0000)
            exit = limited.run(store.code, state: s)
            #expect(exit.kind == .trap && s.pc == 0x40_0200 && words[1] == 0x1234_5678)
            #expect(exit.fault?.address == address + 8 && exit.fault?.isWrite == true)
        }
    }

    /// Final register values may be spilled to their guest-state homes before the block ends,
    /// but never where a fault's replay (from the block's start, on the guest state) would
    /// read them: under register pressure, registers whose entry value the block reads keep
    /// it until the exit when an access that can fault follows.
    @Test func spillsToGuestStateKeepEntryValuesForReplay() throws {
        try withGuestWords(second: 0x55, limit: 16) { _, address, limited in
            var lowerer = X64Lowerer(options: testOptions)

            let liveIn = Array(2...12), fresh = Array(20...28)
            var b = IRBuilder(startOffset: 0x100)
            b.guestInstruction(offset: 0x100, encoding: 0)
            // More values than allocatable registers, all live to the exit.
            for r in liveIn { b.writeReg(.x(r), b.binary(.add, b.readReg(.x(r)), b.const(.i64, 1))) }
            b.guestInstruction(offset: 0x104, encoding: 0)
            let loaded = b.load(.i64, b.binary(.add, b.readReg(.x(1)), b.const(.i64, 8)), IRMemoryAccess(sizeLog2: 3))
            for r in fresh { b.writeReg(.x(r), b.binary(.add, loaded, b.const(.i64, UInt64(r)))) }
            b.finish(.jump(0x108), guestLength: 8)
            let unit = try limited.install(try lowerer.lower(b.block), regionBase: 0x40_0000)

            let s = GuestCPUState()
            for r in liveIn + fresh { s.setX(r, UInt64(1000 + r)) }
            s.setX(1, address)
            var exit = limited.run(unit.code, state: s)
            #expect(exit.kind == .jump && exit.fault == nil)
            for r in liveIn { #expect(s.x(r) == UInt64(1000 + r) + 1, "x\(r)") }
            for r in fresh { #expect(s.x(r) == 0x55 + UInt64(r), "x\(r)") }

            for r in liveIn + fresh { s.setX(r, UInt64(1000 + r)) }
            s.setX(1, address + 16)
            exit = limited.run(unit.code, state: s)
            #expect(exit.kind == .trap && exit.fault != nil && s.pc == 0x40_0100)
            for r in liveIn { #expect(s.x(r) == UInt64(1000 + r), "x\(r) must keep its entry value for the replay") }
        }
    }

    /// A pinned register's final value goes straight into its host register only after the
    /// block's last access that can fault: a fault before that replays the block from the
    /// entry values the host registers still hold.
    @Test func pinnedFinalValuesWaitForTheLastFault() throws {
        try withGuestWords(second: 0x55, limit: 16) { _, address, limited in
            var lowerer = X64Lowerer(options: testOptions)
            var b = IRBuilder(startOffset: 0x100)
            b.guestInstruction(offset: 0x100, encoding: 0)
            // x2 stays live (x4 reads it after the load), so the sum gets a register of its own.
            b.writeReg(.x(0), b.binary(.add, b.readReg(.x(2)), b.readReg(.x(3))))
            b.writeReg(.x(19), b.const(.i64, 7))
            b.guestInstruction(offset: 0x104, encoding: 0)
            let loaded = b.load(.i64, b.binary(.add, b.readReg(.x(1)), b.const(.i64, 8)), IRMemoryAccess(sizeLog2: 3))
            b.guestInstruction(offset: 0x108, encoding: 0)
            b.writeReg(.x(1), b.binary(.add, loaded, b.const(.i64, 1)))
            b.writeReg(.sp, b.binary(.add, b.readReg(.sp), b.const(.i64, 16)))
            b.writeReg(.x(4), b.binary(.add, b.readReg(.x(2)), loaded))
            b.finish(.jump(0x10c), guestLength: 12)
            let unit = try limited.install(try lowerer.lower(b.block), regionBase: 0x40_0000)

            let s = GuestCPUState()
            func enter(_ x1: UInt64) {
                s.setX(0, 100); s.setX(1, x1); s.setX(2, 200); s.setX(3, 1); s.setX(19, 300); s.sp = 0x8000
            }
            enter(address)
            var exit = limited.run(unit.code, state: s)
            #expect(exit.kind == .jump && exit.fault == nil)
            #expect(s.x(0) == 201 && s.x(1) == 0x56 && s.x(19) == 7 && s.sp == 0x8010 && s.x(4) == 200 + 0x55)

            enter(address + 16)
            exit = limited.run(unit.code, state: s)
            #expect(exit.kind == .trap && exit.fault != nil && s.pc == 0x40_0100)
            #expect(s.x(0) == 100, "x0 is written before the load: it must keep its entry value for the replay")
            #expect(s.x(1) == address + 16 && s.x(19) == 300 && s.sp == 0x8000)
        }
    }

    /// The block's final NZCV goes straight to its guest-state home only where a fault, which
    /// replays the block from the guest state, cannot read the entry NZCV wrongly: here a
    /// CSET reads the entry flags and a load after the compare can fault.
    @Test func finalFlagsWaitForTheLastFaultWhenEntryFlagsAreRead() throws {
        try withGuestWords(second: 0x55, limit: 16) { _, address, limited in
            var lowerer = X64Lowerer(options: testOptions)
            var b = IRBuilder(startOffset: 0x100)
            b.guestInstruction(offset: 0x100, encoding: 0)
            b.writeReg(.x(5), b.zext(b.condition(.eq, b.readReg(.nzcv)), to: .i64))
            b.guestInstruction(offset: 0x104, encoding: 0)
            let f = b.emit(.nzcvSub, .i32, b.readReg(.x(2)), b.readReg(.x(3)))
            b.writeReg(.nzcv, f)
            b.guestInstruction(offset: 0x108, encoding: 0)
            let loaded = b.load(.i64, b.binary(.add, b.readReg(.x(1)), b.const(.i64, 8)), IRMemoryAccess(sizeLog2: 3))
            b.writeReg(.x(4), loaded)
            b.finish(.branch(b.condition(.ne, f), taken: 0x200, notTaken: 0x10c), guestLength: 12)
            let unit = try limited.install(try lowerer.lower(b.block), regionBase: 0x40_0000)

            let s = GuestCPUState()
            func enter(_ x1: UInt64) {
                s.setX(1, x1); s.setX(2, 7); s.setX(3, 9); s.setX(5, 100); s.nzcv = 0x4000_0000
            }
            enter(address)
            var exit = limited.run(unit.code, state: s)
            #expect(exit.kind == .branch && exit.fault == nil && s.pc == 0x40_0200)
            #expect(s.x(5) == 1 && s.x(4) == 0x55 && s.nzcv == 0x8000_0000)

            enter(address + 16)
            exit = limited.run(unit.code, state: s)
            #expect(exit.kind == .trap && exit.fault != nil && s.pc == 0x40_0100)
            #expect(s.nzcv == 0x4000_0000, "the replay's CSET must read the entry flags")
            #expect(s.x(5) == 100)
        }
    }

    /// Invariant 1 and 2: region addresses come from the unit table, so the bytes do not
    /// depend on the load address, and lowering is a pure function of the IR.
    @Test func codeIsPositionIndependentAndDeterministic() throws {
        var b = IRBuilder(startOffset: 0x1000)
        b.guestInstruction(offset: 0x1000, encoding: 0)
        let literal = b.regionAddress(0x2008)
        b.writeReg(.x(0), literal)
        b.writeReg(.x(1), b.load(.i64, literal, IRMemoryAccess(sizeLog2: 3)))
        b.writeReg(.x(30), b.regionAddress(0x1004))
        b.finish(.call(0x3000, returnTo: 0x1004), guestLength: 4)

        var fresh = X64Lowerer(options: testOptions)
        let first = try fresh.lower(b.block)
        var reused = X64Lowerer(options: testOptions)
        var other = IRBuilder()
        other.guestInstruction(offset: 0, encoding: 0)
        other.writeReg(.x(5), other.binary(.udiv, other.readReg(.x(6)), other.readReg(.x(7))))
        other.finish(.ret(other.readReg(.x(30))), guestLength: 4)
        _ = try reused.lower(other.block)
        let second = try reused.lower(b.block)
        #expect(first == second)
        #expect(first.pcMap == [X64PCMapEntry(hostOffset: 0, guestOffset: 0x1000)])

        let page = UnsafeMutableRawPointer.allocate(byteCount: 0x8000, alignment: 0x1000)
        defer { page.deallocate() }
        for base in [UInt64(UInt(bitPattern: page)), UInt64(UInt(bitPattern: page)) + 0x4000] {
            UnsafeMutableRawPointer(bitPattern: UInt(base + 0x2008))!.storeBytes(of: base ^ 0x5A5A, as: UInt64.self)
            let unit = try runtime.install(first, regionBase: base)
            let s = GuestCPUState()
            let exit = runtime.run(unit.code, state: s)
            #expect(exit.kind == .call && s.pc == base + 0x3000)
            #expect(s.x(0) == base + 0x2008 && s.x(1) == base ^ 0x5A5A && s.x(30) == base + 0x1004)
            // No 8-byte or 4-byte window of the code spells the base.
            let bytes = first.code
            for k in 0..<(bytes.count - 3) {
                let w32 = bytes[k..<(k + 4)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                #expect(w32 != base & 0xffff_ffff)
            }
        }
        #expect(first.cacheable)
    }

    @Test func malformedIRIsRejected() {
        var b = IRBuilder()
        let x = b.readReg(.x(0))
        b.emit(.add, .i64, x, IRValue(7))
        b.finish(.jump(4), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        #expect(throws: X64LoweringError.self) { try lowerer.lower(b.block) }
    }

    /// The indirect-branch lookup table starts small and doubles as blocks are registered,
    /// keeping what it holds; translated code finds it through the context.
    @Test func lookupTableGrowsAndKeepsItsEntries() throws {
        let runtime = try X64Runtime(codeCapacity: 1 << 20)
        let initial = runtime.lookupEntries
        let code = UnsafeRawPointer(bitPattern: 0x1000)!
        let pcs = (0..<UInt64(initial)).map { 0x40_0000 + 4 * $0 }
        for pc in pcs { runtime.register(pc: pc, code: code + Int(pc & 0xFFF)) }
        #expect(runtime.lookupEntries > initial)
        for pc in pcs { #expect(runtime.registeredCode(pc: pc) == code + Int(pc & 0xFFF)) }
        #expect(runtime.registeredCode(pc: 0x50_0000) == nil)
        #expect(runtime.context.load(fromByteOffset: X64ABI.Context.lookupTable, as: UInt.self) == UInt(bitPattern: runtime.lookupTable))
        #expect(runtime.context.load(fromByteOffset: X64ABI.Context.lookupMask, as: UInt64.self) == UInt64(runtime.lookupEntries - 1) << 4)
        for n in 0..<(1 << 17) { runtime.register(pc: 0x80_0000 + 4 * UInt64(n), code: code) }
        #expect(runtime.lookupEntries == 1 << 16, "the table stops growing at 65536 entries")
    }

    @Test func codeBufferPacksUnitsReportsFullAndResets() throws {
        let buffer = try CodeBuffer(capacity: CodeBuffer.pageSize)
        var b = IRBuilder()
        b.guestInstruction(offset: 0, encoding: 0)
        b.finish(.jump(4), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        let t = try lowerer.lower(b.block)
        let unitBytes = (t.code.count + 15) / 16 * 16 + t.tableEntries * 8
        var units: [X64InstalledUnit] = []
        while let unit = try? buffer.install(t, regionBase: 0) { units.append(unit) }
        // Densely packed: as many units as fit in one page, code 16-aligned and contiguous.
        #expect(units.count == CodeBuffer.pageSize / unitBytes)
        #expect(units.count > 1)
        for (n, unit) in units.enumerated() {
            #expect(unit.code == UnsafeRawPointer(buffer.base + n * ((t.code.count + 15) / 16 * 16)))
        }
        #expect(throws: CodeBufferError.full) { _ = try buffer.install(t, regionBase: 0) }
        let empty = CodeBuffer.Mark(code: 0, tables: 0)
        buffer.reset(to: empty)
        #expect(buffer.used == 0)
        _ = try buffer.install(t, regionBase: 0)
        #expect(buffer.used == unitBytes)
    }

    @Test func codePagesAreNeverWritableAndExecutable() throws {
        var b = IRBuilder()
        b.guestInstruction(offset: 0, encoding: 0)
        b.finish(.jump(4), guestLength: 4)
        var lowerer = X64Lowerer(options: testOptions)
        _ = try runtime.install(try lowerer.lower(b.block), regionBase: 0)
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        let start = UInt(bitPattern: runtime.codeBuffer.base), end = start + UInt(runtime.codeBuffer.capacity)
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            let range = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            guard range.count == 2, range[0] < end, range[1] > start else { continue }
            #expect(!fields[1].hasPrefix("rwx"), "\(line)")
        }
    }
}
