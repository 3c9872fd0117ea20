/// How a block run by the interpreter ended. The guest pc has been set already.
public struct IRExecutionResult: Equatable, Sendable {
    public var kind: IRExitKind
    public var trap: IRTrapKind
    /// The next guest pc (for traps, the trapping instruction's address).
    public var pc: UInt64
    /// SVC, BRK or UDF immediate, or the encoding for unimplemented/unallocated traps.
    public var info: UInt32
}

/// Errors of the interpreter. Memory faults carry the address of the faulting instruction.
public enum IRInterpreterError: Error, Equatable {
    case memoryFault(GuestMemoryFault, pc: UInt64)
}

/// The reference interpreter: executes an IR block against a guest CPU state and memory. It is
/// the oracle for the JIT, so it follows the IR definition literally. Keep one interpreter per
/// thread and reuse it: value storage is kept between blocks.
public struct IRInterpreter {
    public var environment: IRSystemEnvironment
    @usableFromInline var values: [V128] = []
    @usableFromInline var fp = HostFloatingPoint()

    public init(environment: IRSystemEnvironment = IRSystemEnvironment()) {
        self.environment = environment
    }

    /// Runs `block` whose region is loaded at `regionBase` (0 for absolute blocks).
    public mutating func run<M: GuestMemory>(_ block: IRBlock, state: GuestCPUState, memory: inout M, regionBase: UInt64) throws(IRInterpreterError) -> IRExecutionResult {
        let insts = block.instructions
        if values.count < insts.count { values = [V128](repeating: .zero, count: insts.count) }
        var currentOffset = block.startOffset
        for i in insts.indices {
            let inst = insts[i]
            do {
                values[i] = try execute(inst, insts, state: state, memory: &memory, regionBase: regionBase, currentOffset: &currentOffset)
            } catch {
                throw .memoryFault(error, pc: regionBase &+ currentOffset)
            }
            if inst.op == .exitIf && values[Int(inst.a.index)].lo & 1 == 1 {
                state.pc = regionBase &+ inst.imm
                return IRExecutionResult(kind: .branch, trap: .breakpoint, pc: state.pc, info: 0)
            }
        }
        let exit = block.exit
        var result = IRExecutionResult(kind: exit.kind, trap: exit.trap, pc: 0, info: exit.info)
        switch exit.kind {
        case .jump, .call: result.pc = regionBase &+ exit.target
        case .branch: result.pc = regionBase &+ (values[Int(exit.value.index)].lo & 1 == 1 ? exit.target : exit.next)
        case .indirectJump, .indirectCall, .ret: result.pc = values[Int(exit.value.index)].lo
        case .syscall: result.pc = regionBase &+ exit.next
        case .trap: result.pc = regionBase &+ exit.target
        }
        state.pc = result.pc
        return result
    }

    @inline(__always) @usableFromInline
    func v(_ x: IRValue) -> UInt64 { values[Int(x.index)].lo }

    @usableFromInline
    mutating func execute<M: GuestMemory>(_ inst: IRInst, _ insts: [IRInst], state: GuestCPUState, memory: inout M, regionBase: UInt64, currentOffset: inout UInt64) throws(GuestMemoryFault) -> V128 {
        let t = inst.type
        let mask = t.mask
        let bits = UInt64(t.bits)
        switch inst.op {
        case .guestInstruction:
            currentOffset = inst.imm
            return .zero
        case .const: return V128(lo: inst.imm)
        case .regionAddress: return V128(lo: regionBase &+ inst.imm)
        case .readReg: return state.read(IRGuestRegister(rawValue: inst.aux))
        case .writeReg:
            state.write(IRGuestRegister(rawValue: inst.aux), values[Int(inst.a.index)])
            return .zero
        case .readSystem:
            switch IRSystemRegister(rawValue: inst.aux) {
            case .cntvct: return V128(lo: environment.counter())
            case .cntfrq: return V128(lo: environment.counterFrequency)
            case .ctr: return V128(lo: environment.cacheType)
            case .dczid: return V128(lo: environment.zeroBlockID)
            case .midr, nil: return V128(lo: environment.mainID)
            }
        case .add: return V128(lo: (v(inst.a) &+ v(inst.b)) & mask)
        case .sub: return V128(lo: (v(inst.a) &- v(inst.b)) & mask)
        case .mul: return V128(lo: (v(inst.a) &* v(inst.b)) & mask)
        case .umulh: return V128(lo: v(inst.a).multipliedFullWidth(by: v(inst.b)).high)
        case .smulh:
            return V128(lo: UInt64(bitPattern: Int64(bitPattern: v(inst.a)).multipliedFullWidth(by: Int64(bitPattern: v(inst.b))).high))
        case .udiv:
            let d = v(inst.b)
            return V128(lo: d == 0 ? 0 : v(inst.a) / d)
        case .sdiv:
            let n = signExtend(v(inst.a), bits: bits), d = signExtend(v(inst.b), bits: bits)
            if d == 0 { return .zero }
            if d == -1 { return V128(lo: UInt64(bitPattern: 0 &- n) & mask) }
            return V128(lo: UInt64(bitPattern: n / d) & mask)
        case .and: return V128(lo: v(inst.a) & v(inst.b))
        case .or: return V128(lo: v(inst.a) | v(inst.b))
        case .xor: return V128(lo: v(inst.a) ^ v(inst.b))
        case .not: return V128(lo: ~v(inst.a) & mask)
        case .shl: return V128(lo: (v(inst.a) << (v(inst.b) % bits)) & mask)
        case .lshr: return V128(lo: v(inst.a) >> (v(inst.b) % bits))
        case .ashr: return V128(lo: UInt64(bitPattern: signExtend(v(inst.a), bits: bits) >> Int64(v(inst.b) % bits)) & mask)
        case .ror:
            let s = v(inst.b) % bits, x = v(inst.a)
            return V128(lo: s == 0 ? x : ((x >> s) | (x << (bits - s))) & mask)
        case .adc: return V128(lo: (v(inst.a) &+ v(inst.b) &+ (v(inst.c) & 1)) & mask)
        case .clz: return V128(lo: UInt64(v(inst.a).leadingZeroBitCount - (64 - Int(bits))))
        case .cls:
            let x = v(inst.a) << (64 - bits)
            let s = (x >> 63) == 1 ? ~x : x
            return V128(lo: UInt64(min(s.leadingZeroBitCount, Int(bits)) - 1))
        case .rbit: return V128(lo: reverseBits(v(inst.a)) >> (64 - bits))
        case .popcount: return V128(lo: UInt64(v(inst.a).nonzeroBitCount))
        case .byteSwap:
            let x = v(inst.a), container = Int(inst.imm)
            var r: UInt64 = 0
            for byte in 0..<(Int(bits) / 8) {
                let base = byte / container * container, within = byte % container
                r |= ((x >> UInt64(byte * 8)) & 0xff) << UInt64((base + container - 1 - within) * 8)
            }
            return V128(lo: r)
        case .zext: return V128(lo: v(inst.a) & mask)
        case .sext:
            let from = UInt64(insts[Int(inst.a.index)].type.bits)
            return V128(lo: UInt64(bitPattern: signExtend(v(inst.a), bits: from)) & mask)
        case .trunc: return V128(lo: v(inst.a) & mask)
        case .select: return v(inst.a) & 1 == 1 ? values[Int(inst.b.index)] : values[Int(inst.c.index)]
        case .icmp:
            let x = v(inst.a), y = v(inst.b)
            let w = UInt64(insts[Int(inst.a.index)].type.bits)
            let sx = signExtend(x, bits: w), sy = signExtend(y, bits: w)
            let r: Bool
            switch IRComparison(rawValue: inst.aux) ?? .eq {
            case .eq: r = x == y
            case .ne: r = x != y
            case .ult: r = x < y
            case .ule: r = x <= y
            case .ugt: r = x > y
            case .uge: r = x >= y
            case .slt: r = sx < sy
            case .sle: r = sx <= sy
            case .sgt: r = sx > sy
            case .sge: r = sx >= sy
            }
            return V128(lo: r ? 1 : 0)
        case .crc32:
            var crc = UInt32(truncatingIfNeeded: v(inst.a))
            let poly: UInt32 = inst.aux & 16 != 0 ? 0x82F6_3B78 : 0xEDB8_8320
            let data = v(inst.b)
            for byte in 0..<(1 << Int(inst.aux & 3)) {
                crc ^= UInt32((data >> UInt64(byte * 8)) & 0xff)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ poly : crc >> 1 }
            }
            return V128(lo: UInt64(crc))
        case .bitcast: return values[Int(inst.a.index)]
        case .nzcvAdd, .nzcvSub, .nzcvAdc:
            let w = UInt64(insts[Int(inst.a.index)].type.bits)
            let m: UInt64 = w == 64 ? ~0 : (1 << w) - 1
            let x = v(inst.a)
            let y = inst.op == .nzcvSub ? ~v(inst.b) & m : v(inst.b)
            let carryIn: UInt64 = inst.op == .nzcvSub ? 1 : (inst.op == .nzcvAdc ? v(inst.c) & 1 : 0)
            let r: UInt64, carry: Bool
            if w == 64 {
                let (s1, o1) = x.addingReportingOverflow(y)
                let (s2, o2) = s1.addingReportingOverflow(carryIn)
                r = s2; carry = o1 || o2
            } else {
                let full = x + y + carryIn
                r = full & m; carry = full >> w != 0
            }
            let sign = UInt64(1) << (w - 1)
            let overflow = (~(x ^ y) & (x ^ r) & sign) != 0
            return V128(lo: UInt64(nzcvBits(n: r & sign != 0, z: r == 0, c: carry, v: overflow)))
        case .nzcvLogic:
            let w = UInt64(insts[Int(inst.a.index)].type.bits)
            let r = v(inst.a)
            return V128(lo: UInt64(nzcvBits(n: r >> (w - 1) & 1 == 1, z: r == 0, c: false, v: false)))
        case .condition:
            return V128(lo: (IRCondition(rawValue: inst.aux) ?? .al).holds(UInt32(truncatingIfNeeded: v(inst.a))) ? 1 : 0)
        case .load, .loadExclusive:
            let access = IRMemoryAccess(rawValue: inst.aux)
            let address = v(inst.a)
            let result: V128
            if access.sizeLog2 == 4 {
                result = V128(lo: try memory.read(address, size: 8), hi: try memory.read(address &+ 8, size: 8))
            } else {
                var x = try memory.read(address, size: access.size)
                if access.signExtend { x = UInt64(bitPattern: signExtend(x, bits: UInt64(access.size * 8))) & mask }
                result = V128(lo: x)
            }
            if inst.op == .loadExclusive {
                state.exclusiveAddress = address
                state.exclusiveValue = result
                state.exclusiveSize = UInt32(access.size)
            }
            return result
        case .store:
            let access = IRMemoryAccess(rawValue: inst.aux)
            let address = v(inst.a), value = values[Int(inst.b.index)]
            if access.sizeLog2 == 4 {
                try memory.write(address, size: 8, value.lo)
                try memory.write(address &+ 8, size: 8, value.hi)
            } else {
                try memory.write(address, size: access.size, value.lo)
            }
            return .zero
        case .storeExclusive:
            let access = IRMemoryAccess(rawValue: inst.aux)
            let address = v(inst.a), value = values[Int(inst.b.index)]
            let reserved = state.exclusiveSize == UInt32(access.size) && state.exclusiveAddress == address
            let expected = state.exclusiveValue
            state.exclusiveSize = 0
            guard reserved else { return V128(lo: 1) }
            if access.sizeLog2 == 4 {
                let old = try memory.compareAndSwapPair(address, expected: expected, new: value)
                return V128(lo: old == expected ? 0 : 1)
            }
            let old = try memory.compareAndSwap(address, size: access.size, expected: expected.lo, new: value.lo)
            return V128(lo: old == expected.lo ? 0 : 1)
        case .clearExclusive:
            state.exclusiveSize = 0
            return .zero
        case .atomicRMW:
            let access = IRMemoryAccess(rawValue: inst.aux)
            let address = v(inst.a), operand = v(inst.b)
            let w = UInt64(access.size * 8)
            let m: UInt64 = w == 64 ? ~0 : (1 << w) - 1
            while true {
                let old = try memory.read(address, size: access.size)
                let new: UInt64
                switch access.atomic {
                case .add: new = old &+ operand
                case .clear: new = old & ~operand
                case .xor: new = old ^ operand
                case .set: new = old | operand
                case .smax: new = signExtend(old, bits: w) >= signExtend(operand, bits: w) ? old : operand
                case .smin: new = signExtend(old, bits: w) <= signExtend(operand, bits: w) ? old : operand
                case .umax: new = max(old, operand & m)
                case .umin: new = min(old, operand & m)
                case .swap: new = operand
                }
                if try memory.compareAndSwap(address, size: access.size, expected: old, new: new & m) == old {
                    return V128(lo: old)
                }
            }
        case .compareAndSwap:
            let access = IRMemoryAccess(rawValue: inst.aux)
            let address = v(inst.a)
            if access.sizeLog2 == 4 {
                return try memory.compareAndSwapPair(address, expected: values[Int(inst.b.index)], new: values[Int(inst.c.index)])
            }
            let m: UInt64 = access.size == 8 ? ~0 : (1 << UInt64(access.size * 8)) - 1
            return V128(lo: try memory.compareAndSwap(address, size: access.size, expected: v(inst.b) & m, new: v(inst.c) & m))
        case .exitIf:
            return .zero
        case .fence:
            return .zero
        case .zeroBlock:
            let size = inst.imm
            let start = v(inst.a) & ~(size - 1)
            var offset: UInt64 = 0
            while offset < size {
                try memory.write(start &+ offset, size: 8, 0)
                offset += 8
            }
            return .zero
        default:
            if inst.op.rawValue >= IROp.vpack.rawValue {
                return executeVector(inst, insts, state: state)
            }
            return executeFloat(inst, insts, state: state)
        }
    }

}

@inline(__always) @usableFromInline
func signExtend(_ x: UInt64, bits: UInt64) -> Int64 {
    bits >= 64 ? Int64(bitPattern: x) : Int64(bitPattern: x << (64 - bits)) >> Int64(64 - bits)
}

@inline(__always) @usableFromInline
func nzcvBits(n: Bool, z: Bool, c: Bool, v: Bool) -> UInt32 {
    (n ? 1 << 31 : 0) | (z ? 1 << 30 : 0) | (c ? 1 << 29 : 0) | (v ? 1 << 28 : 0)
}

@usableFromInline
func reverseBits(_ x: UInt64) -> UInt64 {
    var v = x
    v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
    v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
    v = ((v >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((v & 0x0F0F_0F0F_0F0F_0F0F) << 4)
    return v.byteSwapped
}
