import Testing
@testable import KilnIR
import KilnTestSupport

/// Builds a block with `body`, verifies it and runs it on a fresh state.
private func run(_ state: GuestCPUState = GuestCPUState(), memory: inout SparseMemory, base: UInt64 = 0x40_0000,
                 _ body: (inout IRBuilder) -> IRExit) throws -> (GuestCPUState, IRExecutionResult) {
    var b = IRBuilder(addressing: .region, startOffset: 0x1000)
    let exit = body(&b)
    b.finish(exit, guestLength: 4)
    try IRVerifier.verify(b.block)
    var interpreter = IRInterpreter()
    let result = try interpreter.run(b.block, state: state, memory: &memory, regionBase: base)
    return (state, result)
}

private func run(_ state: GuestCPUState = GuestCPUState(), _ body: (inout IRBuilder) -> IRExit) throws -> (GuestCPUState, IRExecutionResult) {
    var memory = SparseMemory()
    return try run(state, memory: &memory, body)
}

@Test func guestStateLayoutIsTheABI() {
    #expect(GuestCPUState.offset(of: .x(30)) == 240)
    #expect(GuestCPUState.offset(of: .sp) == 248)
    #expect(GuestCPUState.offset(of: .nzcv) == 264)
    #expect(GuestCPUState.offset(of: .v(0)) == 288)
    #expect(GuestCPUState.offset(of: .v(31)) == 288 + 31 * 16)
    let s = GuestCPUState()
    s.setX(3, 0x1234)
    s.setV(2, V128(lo: 1, hi: 2))
    #expect(s.read(.x(3)).lo == 0x1234)
    #expect(s.read(.v(2)) == V128(lo: 1, hi: 2))
    #expect(s.base.load(fromByteOffset: 288 + 32 + 8, as: UInt64.self) == 2)
}

@Test func addWithFlagsAndRegionRelativeExit() throws {
    let s = GuestCPUState()
    s.setX(1, UInt64.max)
    s.setX(2, 1)
    let (state, result) = try run(s) { b in
        let x1 = b.readReg(.x(1)), x2 = b.readReg(.x(2))
        let sum = b.add(x1, x2)
        b.writeReg(.x(0), sum)
        b.writeReg(.nzcv, b.emit(.nzcvAdd, .i32, x1, x2))
        return .jump(0x1004)
    }
    #expect(state.x(0) == 0)
    #expect(state.nzcv == 0x6000_0000)  // Z and C
    #expect(result.pc == 0x40_1004)
    #expect(state.pc == 0x40_1004)
}

@Test func subtractFlagsOn32Bits() throws {
    let (state, _) = try run { b in
        let a = b.const(.i32, 0x8000_0000), one = b.const(.i32, 1)
        b.writeReg(.nzcv, b.emit(.nzcvSub, .i32, a, one))
        return .jump(0)
    }
    #expect(state.nzcv == 0x3000_0000)  // C (no borrow) and V (signed overflow)
}

@Test func divisionFollowsA64() throws {
    let (state, _) = try run { b in
        let minInt = b.const(.i64, 0x8000_0000_0000_0000), minusOne = b.const(.i64, ~0), zero = b.const(.i64, 0)
        b.writeReg(.x(0), b.binary(.sdiv, minInt, minusOne))
        b.writeReg(.x(1), b.binary(.udiv, minusOne, zero))
        let seven = b.const(.i32, 0xffff_fff9), two = b.const(.i32, 2)
        b.writeReg(.x(2), b.zext(b.binary(.sdiv, seven, two), to: .i64))
        return .jump(0)
    }
    #expect(state.x(0) == 0x8000_0000_0000_0000)
    #expect(state.x(1) == 0)
    #expect(state.x(2) == 0xffff_fffd)  // -7 / 2 = -3, truncated toward zero
}

@Test func bitOperations() throws {
    let (state, _) = try run { b in
        let x = b.const(.i32, 0x0000_00f0)
        b.writeReg(.x(0), b.zext(b.unary(.clz, x), to: .i64))
        b.writeReg(.x(1), b.zext(b.unary(.rbit, x), to: .i64))
        let y = b.const(.i64, 0x0102_0304_0506_0708)
        b.writeReg(.x(2), b.emit(.byteSwap, .i64, y, imm: 8))
        b.writeReg(.x(3), b.emit(.byteSwap, .i64, y, imm: 2))
        b.writeReg(.x(4), b.zext(b.unary(.cls, b.const(.i32, 0xffff_0000)), to: .i64))
        b.writeReg(.x(5), b.ror(y, b.const(.i64, 8)))
        return .jump(0)
    }
    #expect(state.x(0) == 24)
    #expect(state.x(1) == 0x0f00_0000)
    #expect(state.x(2) == 0x0807_0605_0403_0201)
    #expect(state.x(3) == 0x0201_0403_0605_0807)
    #expect(state.x(4) == 15)
    #expect(state.x(5) == 0x0801_0203_0405_0607)
}

@Test func crc32MatchesKnownValues() throws {
    // CRC32 and CRC32C of "123456789" with the usual pre/post inversion: 0xCBF43926, 0xE3069283.
    let (state, _) = try run { b in
        for (reg, castagnoli) in [(0, false), (1, true)] {
            var crc = b.const(.i32, 0xffff_ffff)
            for byte in Array("123456789".utf8) {
                crc = b.emit(.crc32, .i32, crc, b.const(.i8, UInt64(byte)), aux: castagnoli ? 16 : 0)
            }
            b.writeReg(.x(reg), b.zext(b.not(crc), to: .i64))
        }
        return .jump(0)
    }
    #expect(state.x(0) == 0xCBF4_3926)
    #expect(state.x(1) == 0xE306_9283)
}

@Test func memoryAccessesAndAtomics() throws {
    var memory = SparseMemory()
    for i in 0..<16 { memory.bytes[0x9000 + UInt64(i)] = UInt8(0x80 + i) }
    let (state, _) = try run(memory: &memory) { b in
        let p = b.const(.i64, 0x9000)
        b.writeReg(.x(0), b.load(.i64, p, IRMemoryAccess(sizeLog2: 0, signExtend: true)))
        b.writeReg(.x(1), b.load(.i64, p, IRMemoryAccess(sizeLog2: 1)))
        let old = b.emit(.atomicRMW, .i64, p, b.const(.i64, 1), aux: IRMemoryAccess(sizeLog2: 2, order: .acquireRelease, atomic: .add).rawValue)
        b.writeReg(.x(2), old)
        let cas = b.emit(.compareAndSwap, .i64, b.const(.i64, 0x9008), b.const(.i64, 0x8f8e_8d8c_8b8a_8988), b.const(.i64, 7), aux: IRMemoryAccess(sizeLog2: 3).rawValue)
        b.writeReg(.x(3), cas)
        return .jump(0)
    }
    #expect(state.x(0) == 0xffff_ffff_ffff_ff80)
    #expect(state.x(1) == 0x8180)
    #expect(state.x(2) == 0x8382_8180)
    #expect(state.x(3) == 0x8f8e_8d8c_8b8a_8988)
    #expect(try memory.read(0x9000, size: 4) == 0x8382_8181)
    #expect(try memory.read(0x9008, size: 8) == 7)
}

@Test func exclusivePairSucceedsOnceMonitorHolds() throws {
    var memory = SparseMemory()
    for i in 0..<8 { memory.bytes[0x100 + UInt64(i)] = 0 }
    let (state, _) = try run(memory: &memory) { b in
        let p = b.const(.i64, 0x100)
        let access = IRMemoryAccess(sizeLog2: 3).rawValue
        _ = b.emit(.loadExclusive, .i64, p, aux: access)
        b.writeReg(.x(0), b.zext(b.emit(.storeExclusive, .i32, p, b.const(.i64, 5), aux: access), to: .i64))
        b.writeReg(.x(1), b.zext(b.emit(.storeExclusive, .i32, p, b.const(.i64, 6), aux: access), to: .i64))
        return .jump(0)
    }
    #expect(state.x(0) == 0)
    #expect(state.x(1) == 1)
    #expect(try memory.read(0x100, size: 8) == 5)
}

@Test func memoryFaultReportsInstructionAddress() throws {
    var memory = SparseMemory()
    #expect(throws: IRInterpreterError.memoryFault(GuestMemoryFault(address: 0x10, size: 8, isWrite: false), pc: 0x40_1004)) {
        _ = try run(memory: &memory) { b in
            b.guestInstruction(offset: 0x1000, encoding: 0xd503201f)
            b.guestInstruction(offset: 0x1004, encoding: 0xf9400000)
            b.writeReg(.x(0), b.load(.i64, b.const(.i64, 0x10), IRMemoryAccess(sizeLog2: 3)))
            return .jump(0x1008)
        }
    }
}

@Test func conditionalBranchExit() throws {
    let s = GuestCPUState()
    s.nzcv = 0x4000_0000
    let (_, taken) = try run(s) { b in .branch(b.condition(.eq, b.readReg(.nzcv)), taken: 0x2000, notTaken: 0x1004) }
    #expect(taken.pc == 0x40_2000)
    let (_, notTaken) = try run(s) { b in .branch(b.condition(.ne, b.readReg(.nzcv)), taken: 0x2000, notTaken: 0x1004) }
    #expect(notTaken.pc == 0x40_1004)
}

@Test func floatingPointRoundingAndFlags() throws {
    let s = GuestCPUState()
    s.fpcr = 1 << 22  // round toward plus infinity
    let (state, _) = try run(s) { b in
        let one = b.const(.f64, (1.0 as Double).bitPattern), three = b.const(.f64, (3.0 as Double).bitPattern)
        let q = b.binary(.fdiv, one, three)
        b.writeReg(.x(0), b.emit(.bitcast, .i64, q))
        b.writeReg(.x(1), b.emit(.floatToInt, .i64, b.const(.f64, (-1.5 as Double).bitPattern), aux: IRRounding.tiesAway.rawValue))
        b.writeReg(.x(2), b.emit(.floatToInt, .i64, b.const(.f64, Double.nan.bitPattern), aux: IRRounding.towardZero.rawValue | 16))
        return .jump(0)
    }
    #expect(state.x(0) == (1.0 / 3.0 as Double).nextUp.bitPattern)
    #expect(state.x(1) == UInt64(bitPattern: -2))
    #expect(state.x(2) == 0)
    #expect(state.fpsr == FPSRFlag.inexact | FPSRFlag.invalid)
}

@Test func floatingPointNaNsAndDefaultNaN() throws {
    let s = GuestCPUState()
    let snan: UInt32 = 0x7f80_0001, qnan: UInt32 = 0x7fc0_0002
    let (state, _) = try run(s) { b in
        let x = b.const(.f32, UInt64(qnan)), y = b.const(.f32, UInt64(snan))
        b.writeReg(.x(0), b.zext(b.emit(.bitcast, .i32, b.binary(.fadd, x, y)), to: .i64))
        b.writeReg(.x(1), b.zext(b.emit(.fcmp, .i32, x, b.const(.f32, 0)), to: .i64))
        return .jump(0)
    }
    #expect(state.x(0) == 0x7fc0_0001)  // the signalling NaN wins, quietened
    #expect(state.x(1) == 0x3000_0000)
    #expect(state.fpsr == FPSRFlag.invalid)
    s.fpcr = FPCRBit.dn
    s.fpsr = 0
    let (dn, _) = try run(s) { b in
        let x = b.const(.f32, UInt64(qnan))
        b.writeReg(.x(0), b.zext(b.emit(.bitcast, .i32, b.binary(.fmul, x, x)), to: .i64))
        return .jump(0)
    }
    #expect(dn.x(0) == 0x7fc0_0000)
}

@Test func halfPrecisionConversions() throws {
    let (state, _) = try run { b in
        let f = b.const(.f32, UInt64((65520.0 as Float).bitPattern))
        b.writeReg(.x(0), b.zext(b.emit(.fconvert, .i16, f), to: .i64))
        let h = b.const(.i16, 0x3555)
        b.writeReg(.x(1), b.emit(.bitcast, .i64, b.emit(.fconvert, .f64, h)))
        return .jump(0)
    }
    #expect(state.x(0) == 0x7c00)  // rounds to infinity
    #expect(state.x(1) == Double(Float16(bitPattern: 0x3555)).bitPattern)
}

@Test func vectorLanesAndPermutes() throws {
    let s = GuestCPUState()
    s.setV(0, V128(lo: 0x0706_0504_0302_0100, hi: 0x0f0e_0d0c_0b0a_0908))
    s.setV(1, V128(lo: 0x1716_1514_1312_1110, hi: 0x1f1e_1d1c_1b1a_1918))
    let (state, _) = try run(s) { b in
        let v0 = b.readReg(.v(0)), v1 = b.readReg(.v(1))
        b.writeReg(.v(2), b.emit(.vzip1, .v128, v0, v1, aux: IRElement.i8.rawValue))
        b.writeReg(.v(3), b.emit(.vext, .v128, v0, v1, imm: 3))
        b.writeReg(.v(4), b.emit(.vadd, .v128, v0, v1, aux: IRElement.i32.rawValue))
        b.writeReg(.x(0), b.emit(.vaddv, .i64, v0, aux: IRElement.i8.rawValue))
        b.writeReg(.v(5), b.emit(.vuqsub, .v128, v0, v1, aux: IRElement.i16.rawValue))
        return .jump(0)
    }
    #expect(state.v(2) == V128(lo: 0x1303_1202_1101_1000, hi: 0x1707_1606_1505_1404))
    #expect(state.v(3) == V128(lo: 0x0a09_0807_0605_0403, hi: 0x1211_100f_0e0d_0c0b))
    #expect(state.v(4) == V128(lo: 0x1e1c_1a18_1614_1210, hi: 0x2e2c_2a28_2624_2220))
    #expect(state.x(0) == 120)
    #expect(state.v(5) == .zero)
    #expect(state.fpsr == 1 << 27)
}

@Test func verifierRejectsBadBlocks() {
    var b = IRBuilder()
    let x = b.const(.i32, 1), y = b.const(.i64, 2)
    _ = b.emit(.add, .i32, x, y)
    #expect(throws: IRVerificationError.self) { try IRVerifier.verify(b.block) }
    var c = IRBuilder()
    _ = c.emit(.add, .i64, IRValue(5), IRValue(6))
    #expect(throws: IRVerificationError.self) { try IRVerifier.verify(c.block) }
    var d = IRBuilder()
    let v = d.const(.i64, 0)
    d.finish(.branch(v, taken: 0, notTaken: 4), guestLength: 4)
    #expect(throws: IRVerificationError.self) { try IRVerifier.verify(d.block) }
    // Immediates a corrupt cache could carry must not reach the interpreter.
    for (op, imm) in [(IROp.vrev, UInt64(0)), (.vext, 16), (.vurshrImm, 0), (.vshlImm, 1 << 40)] {
        var e = IRBuilder()
        let zero = e.const(.i64, 0)
        let vector = e.emit(.vpack, .v128, zero, zero)
        _ = e.emit(op, .v128, vector, vector, imm: imm, aux: IRElement.i32.rawValue)
        #expect(throws: IRVerificationError.self, "\(op) imm \(imm)") { try IRVerifier.verify(e.block) }
    }
}

@Test func serializationRoundTripsAndIsDeterministic() throws {
    var b = IRBuilder(addressing: .region, startOffset: 0x2000)
    b.guestInstruction(offset: 0x2000, encoding: 0x9100_0420)
    let x = b.readReg(.x(1))
    let p = b.regionAddress(0x3000)
    b.writeReg(.x(0), b.add(x, p))
    b.store(p, x, IRMemoryAccess(sizeLog2: 3, order: .release))
    b.finish(.ret(b.readReg(.x(30))), guestLength: 8)
    let bytes = IRFormat.serialize(b.block)
    #expect(bytes == IRFormat.serialize(b.block))
    var offset = 0
    let decoded = try IRFormat.deserialize(bytes, offset: &offset)
    #expect(decoded == b.block)
    #expect(offset == bytes.count)
    var corrupt = bytes
    corrupt[4] = 9
    var o2 = 0
    #expect(throws: IRDecodingError.unsupportedVersion(9)) { try IRFormat.deserialize(corrupt, offset: &o2) }
    var o3 = 0
    #expect(throws: IRDecodingError.truncated) { try IRFormat.deserialize(Array(bytes.dropLast(3)), offset: &o3) }
}

@Test func printerShowsRegionRelativeAddresses() {
    var b = IRBuilder(addressing: .region, startOffset: 0x2000)
    b.guestInstruction(offset: 0x2000, encoding: 0x9000_0000)
    b.writeReg(.x(0), b.regionAddress(0x5000))
    b.finish(.jump(0x2004), guestLength: 4)
    #expect(IRPrinter.print(b.block) == """
        block +0x2000 length=4 addressing=region
          guest +0x2000 90000000
          %1:i64 = regionAddress +0x5000
          writeReg x0, %1
          exit jump +0x2004

        """)
}
