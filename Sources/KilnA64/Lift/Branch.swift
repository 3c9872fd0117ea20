import KilnIR

/// Branches and exception generation. Direct targets are region offsets.
enum Branch {
    static func unconditional(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let target = l.target(signed(bits(w, 25, 0), 26) << 2)
        if bit(w, 31) {
            l.builder.writeReg(.x(30), l.pcRelative(4))
            l.end(.call(target, returnTo: l.offset &+ 4))
        } else {
            l.end(.jump(target))
        }
    }

    static func conditional(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let target = l.target(signed(bits(w, 23, 5), 19) << 2)
        let cond = bits(w, 3, 0)
        if cond >= 14 {
            l.end(.jump(target))
            return
        }
        l.end(.branch(l.condition(cond), taken: target, notTaken: l.offset &+ 4))
    }

    static func compareAndBranch(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let t = sfType(w)
        let target = l.target(signed(bits(w, 23, 5), 19) << 2)
        let v = l.reg(rd(w), t)
        let c = l.builder.icmp(bit(w, 24) ? .ne : .eq, v, l.const(t, 0))
        l.end(.branch(c, taken: target, notTaken: l.offset &+ 4))
    }

    static func testAndBranch(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let bitNumber = bits(w, 31, 31) << 5 | bits(w, 23, 19)
        let target = l.target(signed(bits(w, 18, 5), 14) << 2)
        let v = l.reg(rd(w), .i64)
        let masked = l.builder.and(v, l.const64(1 << UInt64(bitNumber)))
        let c = l.builder.icmp(bit(w, 24) ? .ne : .eq, masked, l.const64(0))
        l.end(.branch(c, taken: target, notTaken: l.offset &+ 4))
    }

    static func register(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let target = l.reg(rn(w), .i64)
        switch bits(w, 22, 21) {
        case 0: l.end(.indirectJump(target))
        case 1:
            l.builder.writeReg(.x(30), l.pcRelative(4))
            l.end(.indirectCall(target, returnTo: l.offset &+ 4))
        default: l.end(.ret(target))
        }
    }

    static func supervisorCall(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        l.end(.syscall(immediate: bits(w, 20, 5), next: l.offset &+ 4))
    }

    static func breakpoint(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        l.end(.trap(.breakpoint, at: l.offset, info: bits(w, 20, 5)))
    }

    /// UDF, and HVC/SMC/HLT which are undefined at EL0.
    static func undefined(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        l.end(.trap(.undefined, at: l.offset, info: w))
    }
}

/// System instructions reachable from EL0.
enum System {
    /// NOP, YIELD, WFE, WFI, SEV, SEVL, the PAC hints (no-ops without FEAT_PAuth), BTI, CSDB...
    static func hint(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {}

    static func clearExclusive(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        l.builder.emit(.clearExclusive, .void)
    }

    static func barrier(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let fence: IRFence
        switch bits(w, 7, 5) {
        case 6:  // ISB: instructions after it are fetched anew, so a new translation starts there.
            l.builder.emit(.fence, .void, aux: IRFence.instruction.rawValue)
            l.end(.jump(l.offset &+ 4))
            return
        case 5:  // DMB: CRm<1:0> 01 = loads, 10 = stores, 11 = all
            switch bits(w, 9, 8) {
            case 1: fence = .loads
            case 2: fence = .stores
            default: fence = .full
            }
        default: fence = .full  // DSB, SB
        }
        l.builder.emit(.fence, .void, aux: fence.rawValue)
    }

    /// System register number op0:op1:CRn:CRm:op2 as in the encoding bits 20...5.
    static func systemRegister(_ w: UInt32) -> UInt32 { bits(w, 20, 5) }
    static func sysreg(_ op0: UInt32, _ op1: UInt32, _ crn: UInt32, _ crm: UInt32, _ op2: UInt32) -> UInt32 {
        op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2
    }
    static let tpidrEL0 = sysreg(3, 3, 13, 0, 2)
    static let fpcr = sysreg(3, 3, 4, 4, 0)
    static let fpsr = sysreg(3, 3, 4, 4, 1)
    static let nzcv = sysreg(3, 3, 4, 2, 0)
    static let cntvct = sysreg(3, 3, 14, 0, 2)
    static let cntvctss = sysreg(3, 3, 14, 0, 6)
    static let cntfrq = sysreg(3, 3, 14, 0, 0)
    static let ctr = sysreg(3, 3, 0, 0, 1)
    static let dczid = sysreg(3, 3, 0, 0, 7)
    static let midr = sysreg(3, 0, 0, 0, 0)

    static func moveFromSystem(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let r = systemRegister(w)
        let v: IRValue
        switch r {
        case tpidrEL0: v = l.builder.readReg(.tpidr)
        case fpcr: v = l.builder.readReg(.fpcr)
        case fpsr: v = l.builder.readReg(.fpsr)
        case nzcv: v = l.builder.readReg(.nzcv)
        case cntvct, cntvctss: v = l.builder.emit(.readSystem, .i64, aux: IRSystemRegister.cntvct.rawValue)
        case cntfrq: v = l.builder.emit(.readSystem, .i64, aux: IRSystemRegister.cntfrq.rawValue)
        case ctr: v = l.builder.emit(.readSystem, .i64, aux: IRSystemRegister.ctr.rawValue)
        case dczid: v = l.builder.emit(.readSystem, .i64, aux: IRSystemRegister.dczid.rawValue)
        case midr: v = l.builder.emit(.readSystem, .i64, aux: IRSystemRegister.midr.rawValue)
        default: throw l.unimplemented(w)
        }
        l.setReg(rd(w), v)
    }

    static func moveToSystem(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let r = systemRegister(w)
        switch r {
        case tpidrEL0: l.builder.writeReg(.tpidr, l.reg(rd(w), .i64))
        case fpcr: l.builder.writeReg(.fpcr, l.builder.and(l.reg(rd(w), .i32), l.const(.i32, 0x07c8_0000)))
        case fpsr: l.builder.writeReg(.fpsr, l.builder.and(l.reg(rd(w), .i32), l.const(.i32, 0x0800_009f)))
        case nzcv: l.setNZCV(l.builder.and(l.reg(rd(w), .i32), l.const(.i32, 0xf000_0000)))
        default: throw l.unimplemented(w)
        }
    }

    /// SYS: DC ZVA zeroes a block; the other DC operations are no-ops (host caches are
    /// coherent). Instruction-cache invalidation ends the block with a trap exit: the runtime
    /// drops the translations of the line (or of everything) and continues after it.
    static func sys(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        let op1 = bits(w, 18, 16), crn = bits(w, 15, 12), crm = bits(w, 11, 8), op2 = bits(w, 7, 5)
        guard crn == 7 else { throw l.unimplemented(w) }
        switch (op1, crm, op2) {
        case (3, 4, 1):  // DC ZVA
            l.builder.emit(.zeroBlock, .void, l.reg(rd(w), .i64), imm: l.zeroBlockSize)
        case (3, 10, 1), (3, 11, 1), (3, 12, 1), (3, 13, 1), (3, 14, 1):  // DC CVAC, CVAU, CVAP, CVADP, CIVAC
            break
        case (3, 5, 1), (0, 5, 0), (0, 1, 0):  // IC IVAU, IC IALLU, IC IALLUIS
            l.end(.trap(.instructionCacheMaintenance, at: l.offset, info: w))
        default:
            throw l.unimplemented(w)
        }
    }

    /// CFINV: invert the carry flag.
    static func invertCarry(_ l: inout A64Lifter, _ w: UInt32) throws(A64LiftError) {
        l.setNZCV(l.builder.xor(l.nzcv(), l.const(.i32, 0x2000_0000)))
    }
}
