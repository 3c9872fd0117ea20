import KilnIR

// Guest memory is host memory (guest address == host address): loads and stores are plain
// x86 accesses after a bounds check (LoweringBounds.swift). x86 is TSO, so acquire loads and plain stores need nothing extra; release
// stores use XCHG (a full barrier) so that a later acquire load cannot pass them (RCsc).
extension X64Lowerer {
    mutating func lowerMemory(_ i: Int, _ inst: IRInst) {
        let access = IRMemoryAccess(rawValue: inst.aux)
        switch inst.op {
        case .load:
            guard access.sizeLog2 <= 4 else { return lowerViaHelper(i) }
            let a = use(IRValue(Int(addressBase[i]))), d = define(i)
            checkBounds(addressBase[i], a, disp: addressDisp[i], write: false)
            emitLoad(d, X64Memory(base: GPR(a), disp: addressDisp[i]), access: access, type: inst.type)
        case .store:
            guard access.sizeLog2 <= 4 else { return lowerViaHelper(i) }
            let a = use(IRValue(Int(addressBase[i]))), b = use(inst.b)
            checkBounds(addressBase[i], a, disp: addressDisp[i], write: true)
            let mem = X64RM.mem(X64Memory(base: GPR(a), disp: addressDisp[i]))
            if Self.isVectorClass(type(inst.b)) {
                switch access.size {
                case 4: asm.emit(.movss_m_x, reg: b, rm: mem)
                case 8: asm.emit(.movq_xm_x, reg: b, rm: mem)
                case 16: asm.emit(.movdqu_xm_x, reg: b, rm: mem)
                default:
                    asm.emit(.movd_r32_x, reg: b, rm: .reg(GPR.rax.number))
                    asm.emit(access.size == 1 ? .mov8mr : .mov16mr, reg: GPR.rax.number, rm: mem)
                }
            } else if access.order == .release || access.order == .acquireRelease {
                guard access.size <= 8 else { return lowerViaHelper(i) }
                let rax = GPR.rax.number
                asm.emit(.mov64rm, reg: rax, rm: .reg(b))
                asm.emit(pick(access.sizeLog2, .xchg8, .xchg16, .xchg32, .xchg64mr), reg: rax, rm: mem)
            } else {
                guard access.size <= 8 else { return lowerViaHelper(i) }
                asm.emit(pick(access.sizeLog2, .mov8mr, .mov16mr, .mov32mr, .mov64mr), reg: b, rm: mem)
            }
        case .loadExclusive:
            guard access.size <= 8, !Self.isVectorClass(inst.type) else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            checkBounds(resolved(inst.a), a, write: false)
            emitLoad(d, X64Memory(base: GPR(a)), access: IRMemoryAccess(sizeLog2: access.sizeLog2), type: .i64)
            asm.emit(.mov64mr, reg: a, rm: state(GuestCPUState.exclusiveAddressOffset))
            asm.emit(.mov64mr, reg: d, rm: state(GuestCPUState.exclusiveValueOffset))
            asm.emit(.mov32mi, rm: state(GuestCPUState.exclusiveSizeOffset), imm: Int64(access.size))
            if access.signExtend { emitSignExtendInPlace(d, fromBytes: access.size, to: inst.type) }
        case .storeExclusive:
            guard access.size <= 8, !Self.isVectorClass(type(inst.b)) else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            checkBounds(resolved(inst.a), a, write: true)
            let fail = asm.newLabel()
            asm.emit(.mov32oi, reg: d, imm: 1)
            asm.emit(.cmp32mi8, rm: state(GuestCPUState.exclusiveSizeOffset), imm: Int64(access.size))
            asm.jump(.ne, to: fail)
            asm.emit(.cmp64rm, reg: a, rm: state(GuestCPUState.exclusiveAddressOffset))
            asm.jump(.ne, to: fail)
            asm.emit(.mov64rm, reg: GPR.rax.number, rm: state(GuestCPUState.exclusiveValueOffset))
            asm.emit(pick(access.sizeLog2, .lockCmpxchg8, .lockCmpxchg16, .lockCmpxchg32, .lockCmpxchg64), reg: b, rm: .mem(X64Memory(base: GPR(a))))
            asm.jump(.ne, to: fail)
            asm.emit(.mov32oi, reg: d, imm: 0)
            asm.bind(fail)
            asm.emit(.mov32mi, rm: state(GuestCPUState.exclusiveSizeOffset), imm: 0)
        case .clearExclusive:
            asm.emit(.mov32mi, rm: state(GuestCPUState.exclusiveSizeOffset), imm: 0)
        case .atomicRMW:
            lowerAtomic(i, inst, access)
        case .compareAndSwap:
            if access.size == 16 && options.features.contains(.cmpxchg16b) && type(inst.b) == .v128 && type(inst.c) == .v128 {
                return lowerCompareAndSwapPair(i, inst)
            }
            guard access.size <= 8 else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), c = use(inst.c), d = define(i)
            checkBounds(resolved(inst.a), a, write: true)
            let rax = GPR.rax.number
            zeroExtend(rax, from: b, bytes: access.size)
            asm.emit(pick(access.sizeLog2, .lockCmpxchg8, .lockCmpxchg16, .lockCmpxchg32, .lockCmpxchg64), reg: c, rm: .mem(X64Memory(base: GPR(a))))
            zeroExtend(d, from: rax, bytes: access.size)
        case .fence:
            if IRFence(rawValue: inst.aux) == .full { asm.emit(.mfence) }
        case .zeroBlock:
            guard inst.imm >= 8, inst.imm <= 256, inst.imm & (inst.imm - 1) == 0 else { return lowerViaHelper(i) }
            let a = use(inst.a)
            checkBounds(resolved(inst.a), a, write: true)
            let rax = GPR.rax.number
            asm.emit(.mov64rm, reg: rax, rm: .reg(a))
            asm.emit(.and64mi8, rm: .reg(rax), imm: -Int64(inst.imm))
            for k in stride(from: 0, to: Int(inst.imm), by: 8) {
                asm.emit(.mov64mi, rm: .mem(X64Memory(base: .rax, disp: Int32(k))), imm: 0)
            }
        default:
            lowerViaHelper(i)
        }
    }

    /// Loads `access.size` bytes into `d`, extended as the access and `type` say.
    mutating func emitLoad(_ d: UInt8, _ mem: X64Memory, access: IRMemoryAccess, type: IRType) {
        let m = X64RM.mem(mem)
        if Self.isVectorClass(type) {
            switch access.size {
            case 4: asm.emit(.movss_x_m, reg: d, rm: m)
            case 8: asm.emit(.movq_x_xm, reg: d, rm: m)
            case 16: asm.emit(.movdqu_x_xm, reg: d, rm: m)
            default:
                asm.emit(access.size == 1 ? .movzx32rm8 : .movzx32rm16, reg: GPR.rax.number, rm: m)
                asm.emit(.movd_x_r32, reg: d, rm: .reg(GPR.rax.number))
            }
            return
        }
        let wide = type == .i64
        switch (access.size, access.signExtend) {
        case (1, false): asm.emit(.movzx32rm8, reg: d, rm: m)
        case (2, false): asm.emit(.movzx32rm16, reg: d, rm: m)
        case (4, false): asm.emit(.mov32rm, reg: d, rm: m)
        case (1, true): asm.emit(wide ? .movsx64rm8 : .movsx32rm8, reg: d, rm: m)
        case (2, true): asm.emit(wide ? .movsx64rm16 : .movsx32rm16, reg: d, rm: m)
        case (4, true): asm.emit(wide ? .movsxd64rm : .mov32rm, reg: d, rm: m)
        default: asm.emit(.mov64rm, reg: d, rm: m)
        }
        if access.signExtend && (type == .i8 || type == .i16) {
            asm.emit(.and32mi, rm: .reg(d), imm: Int64(type.mask))
        }
    }

    mutating func emitSignExtendInPlace(_ d: UInt8, fromBytes: Int, to type: IRType) {
        let wide = type == .i64
        switch fromBytes {
        case 1: asm.emit(wide ? .movsx64rm8 : .movsx32rm8, reg: d, rm: .reg(d))
        case 2: asm.emit(wide ? .movsx64rm16 : .movsx32rm16, reg: d, rm: .reg(d))
        case 4: asm.emit(wide ? .movsxd64rm : .mov32rm, reg: d, rm: .reg(d))
        default: break
        }
    }

    /// `d = zero-extended low bytes of s`.
    mutating func zeroExtend(_ d: UInt8, from s: UInt8, bytes: Int) {
        switch bytes {
        case 1: asm.emit(.movzx32rm8, reg: d, rm: .reg(s))
        case 2: asm.emit(.movzx32rm16, reg: d, rm: .reg(s))
        case 4: asm.emit(.mov32rm, reg: d, rm: .reg(s))
        default: asm.emit(.mov64rm, reg: d, rm: .reg(s))
        }
    }

    /// `d = low bytes of s`, sign-extended to 64 bits.
    mutating func signExtend(_ d: UInt8, from s: UInt8, bytes: Int) {
        switch bytes {
        case 1: asm.emit(.movsx64rm8, reg: d, rm: .reg(s))
        case 2: asm.emit(.movsx64rm16, reg: d, rm: .reg(s))
        case 4: asm.emit(.movsxd64rm, reg: d, rm: .reg(s))
        default: asm.emit(.mov64rm, reg: d, rm: .reg(s))
        }
    }

    mutating func lowerAtomic(_ i: Int, _ inst: IRInst, _ access: IRMemoryAccess) {
        guard access.size <= 8 else { return lowerViaHelper(i) }
        let a = use(inst.a), b = use(inst.b), d = define(i)
        checkBounds(resolved(inst.a), a, write: true)
        let mem = X64RM.mem(X64Memory(base: GPR(a)))
        let size = access.size
        switch access.atomic {
        case .add:
            asm.emit(.mov64rm, reg: d, rm: .reg(b))
            asm.emit(pick(access.sizeLog2, .lockXadd8, .lockXadd16, .lockXadd32, .lockXadd64), reg: d, rm: mem)
            zeroExtend(d, from: d, bytes: size)
        case .swap:
            asm.emit(.mov64rm, reg: d, rm: .reg(b))
            asm.emit(pick(access.sizeLog2, .xchg8, .xchg16, .xchg32, .xchg64mr), reg: d, rm: mem)
            zeroExtend(d, from: d, bytes: size)
        default:
            // Compare-and-swap loop: rax = old value, rcx = new value.
            let rax = GPR.rax.number, rcx = GPR.rcx.number, rdx = GPR.rdx.number
            asm.emit(pick(access.sizeLog2, .movzx32rm8, .movzx32rm16, .mov32rm, .mov64rm), reg: rax, rm: mem)
            let retry = asm.newLabel()
            asm.bind(retry)
            switch access.atomic {
            case .clear:
                asm.emit(.mov64rm, reg: rcx, rm: .reg(b))
                asm.emit(.not64m, rm: .reg(rcx))
                asm.emit(.and64rm, reg: rcx, rm: .reg(rax))
            case .xor:
                asm.emit(.mov64rm, reg: rcx, rm: .reg(rax))
                asm.emit(.xor64rm, reg: rcx, rm: .reg(b))
            case .set:
                asm.emit(.mov64rm, reg: rcx, rm: .reg(rax))
                asm.emit(.or64rm, reg: rcx, rm: .reg(b))
            default:
                // Compare old and operand at the access width with the right signedness;
                // keep the operand when it wins.
                let signed = access.atomic == .smax || access.atomic == .smin
                if signed {
                    signExtend(rcx, from: rax, bytes: size)
                    signExtend(rdx, from: b, bytes: size)
                } else {
                    zeroExtend(rcx, from: rax, bytes: size)
                    zeroExtend(rdx, from: b, bytes: size)
                }
                asm.emit(.cmp64rm, reg: rcx, rm: .reg(rdx))
                let cc: X64Condition
                switch access.atomic {
                case .smax: cc = .l
                case .smin: cc = .g
                case .umax: cc = .b
                default: cc = .a
                }
                asm.emit(.cmov64, reg: rcx, rm: .reg(rdx), cc: cc)
            }
            asm.emit(pick(access.sizeLog2, .lockCmpxchg8, .lockCmpxchg16, .lockCmpxchg32, .lockCmpxchg64), reg: rcx, rm: mem)
            asm.jump(.ne, to: retry)
            zeroExtend(d, from: rax, bytes: size)
        }
    }

    /// 16-byte compare-and-swap (CASP) with LOCK CMPXCHG16B: expected in rdx:rax, new in
    /// rcx:rbx. rbx is allocatable, so it is parked in the context's argument block, and an
    /// address held in rbx moves to rsi (parked likewise) first.
    mutating func lowerCompareAndSwapPair(_ i: Int, _ inst: IRInst) {
        guard options.features.contains(.sse41) else { return lowerViaHelper(i) }
        let a = use(inst.a), b = use(inst.b), c = use(inst.c), d = define(i)
        checkBounds(resolved(inst.a), a, write: true)
        let rax = GPR.rax.number, rbx = GPR.rbx.number, rcx = GPR.rcx.number, rdx = GPR.rdx.number, rsi = GPR.rsi.number
        let args = X64ABI.Context.helperArguments
        asm.emit(.mov64mr, reg: rbx, rm: context(args))
        var address = a
        if a == rbx {
            asm.emit(.mov64mr, reg: rsi, rm: context(args + 8))
            asm.emit(.mov64rm, reg: rsi, rm: .reg(rbx))
            address = rsi
        }
        asm.emit(.movq_r64_x, reg: b, rm: .reg(rax))
        asm.emit(.pextrq, reg: b, rm: .reg(rdx), imm: 1)
        asm.emit(.movq_r64_x, reg: c, rm: .reg(rbx))
        asm.emit(.pextrq, reg: c, rm: .reg(rcx), imm: 1)
        asm.emit(.lockCmpxchg16b, rm: .mem(X64Memory(base: GPR(address))))
        asm.emit(.movq_x_r64, reg: d, rm: .reg(rax))
        asm.emit(.pinsrq, reg: d, rm: .reg(rdx), imm: 1)
        if a == rbx { asm.emit(.mov64rm, reg: rsi, rm: context(args + 8)) }
        asm.emit(.mov64rm, reg: rbx, rm: context(args))
    }
}
