import KilnIR

extension X64Lowerer {
    /// Operations whose code leaves EFLAGS alone, so parked guest flags survive them.
    static func preservesFlags(_ op: IROp) -> Bool {
        switch op {
        case .guestInstruction, .const, .regionAddress, .readReg, .writeReg, .zext, .load, .store, .bitcast, .condition,
             .clearExclusive, .fence, .vpack, .vextract, .vinsert, .vclearHigh:
            return true
        default:
            return false
        }
    }

    /// Whether lowering `inst` leaves EFLAGS alone: the ops of `preservesFlags`, and the
    /// truncations and sign extensions that are one MOV, MOVZX or MOVSX (32-bit code reads
    /// its W registers through a trunc, so a `cmp w0, w1; csel w2, w3, w4, lt` would otherwise
    /// restore the flags it just parked).
    func keepsFlags(_ inst: IRInst) -> Bool {
        if Self.preservesFlags(inst.op) { return true }
        switch inst.op {
        case .trunc: return inst.type.isInteger && inst.type != .i1 && type(inst.a).isInteger
        // Its own lowering notes what its test clobbers.
        case .exitIf: return true
        case .sext: return (inst.type == .i32 || inst.type == .i64) && type(inst.a).isInteger && type(inst.a) != .i1
        default: return false
        }
    }

    mutating func lowerInstruction(_ i: Int) {
        let inst = insts[i]
        let savedFlags = flagsValue
        if !keepsFlags(inst) { flagsValue = -1 }
        switch inst.op {
        case .guestInstruction, .const:
            break
        case .regionAddress:
            lowerRegionAddress(i, offset: inst.imm)
        case .readReg:
            lowerReadRegister(i, IRGuestRegister(rawValue: inst.aux))
        case .writeReg:
            let r = IRGuestRegister(rawValue: inst.aux)
            if r == .fpsr { bankFloatFlags() }
            let off = GuestCPUState.offset(of: r)
            let s = use(inst.a)
            if r == .nzcv {
                storeFlags(s, raw: rawFlags[Int(resolved(inst.a))], at: off)
                return
            }
            switch r.type {
            case .v128: asm.emit(.movdqu_xm_x, reg: s, rm: state(off))
            case .i32: asm.emit(.mov32mr, reg: s, rm: state(off))
            default: asm.emit(.mov64mr, reg: s, rm: state(off))
            }
        case .add, .sub, .and, .or, .xor:
            lowerBinaryALU(i, inst)
        case .mul:
            guard inst.type == .i32 || inst.type == .i64 else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), d = define(i, reusing: inst.a)
            let w = inst.type == .i64
            copy(d, a, wide: w)
            asm.emit(w ? .imul64rm : .imul32rm, reg: d, rm: .reg(b))
        case .umulh, .smulh:
            guard inst.type == .i64 else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.mov64rm, reg: GPR.rax.number, rm: .reg(a))
            asm.emit(inst.op == .umulh ? .mul64m : .imul64m, rm: .reg(b))
            asm.emit(.mov64rm, reg: d, rm: .reg(GPR.rdx.number))
        case .udiv, .sdiv:
            lowerDivide(i, inst)
        case .not:
            guard inst.type.isInteger else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i, reusing: inst.a)
            copy(d, a, wide: true)
            if inst.type == .i64 { asm.emit(.not64m, rm: .reg(d)) }
            else if inst.type == .i32 { asm.emit(.not32m, rm: .reg(d)) }
            else { asm.emit(.xor32mi, rm: .reg(d), imm: Int64(inst.type.mask)) }
        case .shl, .lshr, .ashr, .ror:
            lowerShift(i, inst)
        case .adc:
            guard inst.type == .i32 || inst.type == .i64 else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), c = use(inst.c), d = define(i, reusing: inst.a)
            let w = inst.type == .i64
            copy(d, a, wide: w)
            asm.emit(.bt32mi, rm: .reg(c), imm: 0)
            asm.emit(w ? .adc64rm : .adc32rm, reg: d, rm: .reg(b))
        case .clz, .cls:
            guard (inst.type == .i32 || inst.type == .i64) && options.features.contains(.lzcnt) else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            let w = inst.type == .i64
            if inst.op == .clz {
                asm.emit(w ? .lzcnt64rm : .lzcnt32rm, reg: d, rm: .reg(a))
            } else {
                // cls(x) = clz(x ^ (x >> 1, arithmetic)) - 1
                asm.emit(w ? .mov64rm : .mov32rm, reg: GPR.rax.number, rm: .reg(a))
                asm.emit(w ? .sar64mi : .sar32mi, rm: .reg(GPR.rax.number), imm: 1)
                asm.emit(w ? .xor64rm : .xor32rm, reg: GPR.rax.number, rm: .reg(a))
                asm.emit(w ? .lzcnt64rm : .lzcnt32rm, reg: d, rm: .reg(GPR.rax.number))
                asm.emit(.sub32mi8, rm: .reg(d), imm: 1)
            }
        case .rbit:
            guard inst.type == .i32 || inst.type == .i64 else { return lowerViaHelper(i) }
            lowerBitReverse(i, inst)
        case .popcount:
            guard inst.type.isInteger && options.features.contains(.popcnt) else { return lowerViaHelper(i) }
            let a = use(inst.a), d = define(i)
            asm.emit(.popcnt64rm, reg: d, rm: .reg(a))
        case .byteSwap:
            lowerByteSwap(i, inst)
        case .sext:
            lowerSignExtend(i, inst)
        case .trunc:
            guard inst.type.isInteger && type(inst.a).isInteger else { return lowerViaHelper(i) }
            if truncatedLoad[i] {
                let d = define(i)
                let source = state(GuestCPUState.offset(of: IRGuestRegister(rawValue: insts[Int(resolved(inst.a))].aux)))
                switch inst.type {
                case .i64: asm.emit(.mov64rm, reg: d, rm: source)
                case .i32: asm.emit(.mov32rm, reg: d, rm: source)
                case .i16: asm.emit(.movzx32rm16, reg: d, rm: source)
                case .i8: asm.emit(.movzx32rm8, reg: d, rm: source)
                default:
                    asm.emit(.movzx32rm8, reg: d, rm: source)
                    asm.emit(.and32mi8, rm: .reg(d), imm: 1)
                }
                return
            }
            let a = use(inst.a), d = define(i)
            switch inst.type {
            case .i64: asm.emit(.mov64rm, reg: d, rm: .reg(a))
            case .i32: asm.emit(.mov32rm, reg: d, rm: .reg(a))
            case .i16: asm.emit(.movzx32rm16, reg: d, rm: .reg(a))
            case .i8: asm.emit(.movzx32rm8, reg: d, rm: .reg(a))
            default:
                asm.emit(.mov32rm, reg: d, rm: .reg(a))
                asm.emit(.and32mi8, rm: .reg(d), imm: 1)
            }
        case .select:
            flagsValue = savedFlags
            lowerSelect(i, inst)
        case .icmp:
            lowerCompare(i, inst)
        case .crc32:
            guard inst.aux & 16 != 0 && options.features.contains(.sse42) else { return lowerViaHelper(i) }
            let a = use(inst.a), b = use(inst.b), d = define(i)
            asm.emit(.mov32rm, reg: d, rm: .reg(a))
            asm.emit(pick(Int(inst.aux & 3), .crc32b, .crc32w, .crc32d, .crc32q), reg: d, rm: .reg(b))
        case .bitcast:
            lowerBitcast(i, inst)
        case .nzcvAdd, .nzcvSub, .nzcvAdc, .nzcvLogic:
            lowerFlags(i, inst)
        case .condition:
            flagsValue = savedFlags
            lowerCondition(i, inst)
        case .exitIf:
            lowerSideExit(i, inst)
        case .fadd, .fsub, .fmul, .fdiv, .fsqrt, .fneg, .fabs:
            lowerFloat(i, inst)
        case .fcmp:
            lowerFloatCompare(i, inst)
        case .floatToInt:
            lowerFloatToInt(i, inst)
        case .intToFloat:
            lowerIntToFloat(i, inst)
        case .load, .store, .loadExclusive, .storeExclusive, .clearExclusive, .atomicRMW, .compareAndSwap, .fence, .zeroBlock:
            lowerMemory(i, inst)
        case .vpack, .vextract, .vinsert, .vclearHigh, .vadd, .vsub, .vand, .vor, .vxor, .vbic, .vcmeq, .vcmgt,
             .vzip1, .vzip2, .vsplat, .vmul, .vneg, .vnot, .vorn, .vabs, .vsmax, .vsmin, .vumax, .vumin,
             .vshlImm, .vushrImm, .vsshrImm, .vuxtl, .vsxtl, .vuzp1:
            lowerVector(i, inst)
        case .vbsl, .vcmhs, .vcmge, .vcmhi, .vcmtst, .vxtn, .vaddp, .vumaxp, .vuminp, .vtblStep:
            if !lowerCompositeVector(i, inst) { lowerViaHelper(i) }
        default:
            lowerViaHelper(i)
        }
    }

    /// `d += offset` without touching flags.
    mutating func addOffset(_ d: UInt8, _ offset: UInt64) {
        guard offset != 0 else { return }
        let signed = Int64(bitPattern: offset)
        if signed >= Int64(Int32.min) && signed <= Int64(Int32.max) {
            asm.emit(.lea64rm, reg: d, rm: .mem(X64Memory(base: GPR(d), disp: Int32(signed))))
        } else {
            // The scratch must not be `d` itself (the pc of an exit is built in rax).
            let scratch: GPR = d == GPR.rax.number ? .rcx : .rax
            asm.emit(.mov64oi, reg: scratch.number, imm: signed)
            asm.emit(.lea64rm, reg: d, rm: .mem(X64Memory(base: GPR(d), index: scratch)))
        }
    }

    mutating func lowerReadRegister(_ i: Int, _ r: IRGuestRegister) {
        guard r.isValid else { failure = .malformedIR(index: i); return }
        if r == .fpsr { bankFloatFlags() }
        let pinned = X64ABI.pinnedHost[Int(r.rawValue)]
        if pinned >= 0 { return definePinned(i, host: UInt8(pinned)) }
        let d = define(i)
        let off = GuestCPUState.offset(of: r)
        if r == .nzcv && !rawFlags[i] {
            // Parked in guest state; this value has readers that need A64 layout.
            asm.emit(.mov32rm, reg: GPR.rax.number, rm: state(off))
            convertRawFlags(GPR.rax.number, into: d)
            return
        }
        switch r.type {
        case .v128: asm.emit(.movdqu_x_xm, reg: d, rm: state(off))
        case .i32: asm.emit(.mov32rm, reg: d, rm: state(off))
        default: asm.emit(.mov64rm, reg: d, rm: state(off))
        }
    }

    /// Region base (from the unit table) + `offset` into a new register for value `i`.
    mutating func lowerRegionAddress(_ i: Int, offset: UInt64) {
        let d = define(i)
        asm.emit(.mov64rm, reg: d, rm: tableOperand())
        noteTableReference(X64ABI.UnitTable.regionBase)
        addOffset(d, offset)
    }

    mutating func lowerBinaryALU(_ i: Int, _ inst: IRInst) {
        guard inst.type.isInteger else { return lowerViaHelper(i) }
        if foldedRegionAddress[i] >= 0 {
            // ADRP + ADD: one region address at the summed offset.
            let region = insts[Int(foldedRegionAddress[i])]
            let k = constant(Int(resolved(inst.a)) == Int(foldedRegionAddress[i]) ? inst.b : inst.a) ?? 0
            return lowerRegionAddress(i, offset: region.imm &+ k)
        }
        let w = inst.type == .i64
        if scaledIndex[i] >= 0 {
            // add(x, shl(y, k)) with the shift folded: one LEA.
            let base = use(scaledOperand[i] == 1 ? inst.a : inst.b), index = use(IRValue(Int(scaledIndex[i]))), d = define(i)
            let mem = X64Memory(base: GPR(base), index: GPR(index), scale: 1 << scaleShift[i])
            asm.emit(w ? .lea64rm : .lea32rm, reg: d, rm: .mem(mem))
            return
        }
        let forms: (rm: X64Op, mi: X64Op, mi8: X64Op)
        switch (inst.op, w) {
        case (.add, false): forms = (.add32rm, .add32mi, .add32mi8)
        case (.add, true): forms = (.add64rm, .add64mi, .add64mi8)
        case (.sub, false): forms = (.sub32rm, .sub32mi, .sub32mi8)
        case (.sub, true): forms = (.sub64rm, .sub64mi, .sub64mi8)
        case (.and, false): forms = (.and32rm, .and32mi, .and32mi8)
        case (.and, true): forms = (.and64rm, .and64mi, .and64mi8)
        case (.or, false): forms = (.or32rm, .or32mi, .or32mi8)
        case (.or, true): forms = (.or64rm, .or64mi, .or64mi8)
        case (.xor, false): forms = (.xor32rm, .xor32mi, .xor32mi8)
        default: forms = (.xor64rm, .xor64mi, .xor64mi8)
        }
        let a = use(inst.a)
        let immediate: Int64?
        if let k = constant(inst.b) {
            let s = w ? Int64(bitPattern: k) : Int64(Int32(truncatingIfNeeded: k))
            immediate = s >= Int64(Int32.min) && s <= Int64(Int32.max) ? s : nil
        } else {
            immediate = nil
        }
        let b: UInt8? = immediate == nil ? use(inst.b) : nil
        let d = define(i, reusing: inst.a)
        let wordSized = inst.type == .i32 || inst.type == .i64
        if d != a && wordSized && (inst.op == .add || (inst.op == .sub && immediate != nil)) {
            // Three-address add through LEA.
            var mem: X64Memory? = nil
            if let imm = immediate {
                let disp = inst.op == .sub ? -imm : imm
                if disp >= Int64(Int32.min) && disp <= Int64(Int32.max) { mem = X64Memory(base: GPR(a), disp: Int32(disp)) }
            } else if let b {
                mem = X64Memory(base: GPR(a), index: GPR(b))
            }
            if let mem {
                asm.emit(w ? .lea64rm : .lea32rm, reg: d, rm: .mem(mem))
                return
            }
        }
        copy(d, a, wide: w)
        if let imm = immediate {
            asm.emit(imm >= -128 && imm <= 127 ? forms.mi8 : forms.mi, rm: .reg(d), imm: imm)
        } else if let b {
            asm.emit(forms.rm, reg: d, rm: .reg(b))
        }
        if inst.type == .i8 || inst.type == .i16 || inst.type == .i1 {
            asm.emit(.and32mi, rm: .reg(d), imm: Int64(inst.type.mask))
        }
    }

    mutating func lowerDivide(_ i: Int, _ inst: IRInst) {
        guard inst.type == .i32 || inst.type == .i64 else { return lowerViaHelper(i) }
        let w = inst.type == .i64
        let a = use(inst.a), b = use(inst.b), d = define(i)
        let rax = GPR.rax.number, rcx = GPR.rcx.number, rdx = GPR.rdx.number
        let zero = asm.newLabel(), done = asm.newLabel()
        asm.emit(w ? .mov64rm : .mov32rm, reg: rcx, rm: .reg(b))
        asm.emit(w ? .test64mr : .test32mr, reg: rcx, rm: .reg(rcx))
        asm.shortJump(.e, to: zero)
        asm.emit(w ? .mov64rm : .mov32rm, reg: rax, rm: .reg(a))
        if inst.op == .udiv {
            asm.emit(.xor32rm, reg: rdx, rm: .reg(rdx))
            asm.emit(w ? .div64m : .div32m, rm: .reg(rcx))
        } else {
            // INT_MIN / -1 traps on x86; A64 gives INT_MIN, which is also -INT_MIN.
            let divide = asm.newLabel()
            asm.emit(w ? .cmp64mi8 : .cmp32mi8, rm: .reg(rcx), imm: -1)
            asm.shortJump(.ne, to: divide)
            asm.emit(w ? .neg64m : .neg32m, rm: .reg(rax))
            asm.emit(w ? .mov64rm : .mov32rm, reg: d, rm: .reg(rax))
            asm.shortJump(nil, to: done)
            asm.bind(divide)
            asm.emit(w ? .cqo : .cdq)
            asm.emit(w ? .idiv64m : .idiv32m, rm: .reg(rcx))
        }
        asm.emit(w ? .mov64rm : .mov32rm, reg: d, rm: .reg(rax))
        asm.shortJump(nil, to: done)
        asm.bind(zero)
        asm.emit(.mov32oi, reg: d, imm: 0)
        asm.bind(done)
    }

    mutating func lowerShift(_ i: Int, _ inst: IRInst) {
        guard inst.type == .i32 || inst.type == .i64 else { return lowerViaHelper(i) }
        let w = inst.type == .i64
        let a = use(inst.a)
        if let k = constant(inst.b) {
            let d = define(i, reusing: inst.a)
            let amount = Int64(k & UInt64(inst.type.bits - 1))
            copy(d, a, wide: w)
            guard amount != 0 else { return }
            let op: X64Op
            switch inst.op {
            case .shl: op = w ? .shl64mi : .shl32mi
            case .lshr: op = w ? .shr64mi : .shr32mi
            case .ashr: op = w ? .sar64mi : .sar32mi
            default: op = w ? .ror64mi : .ror32mi
            }
            asm.emit(op, rm: .reg(d), imm: amount)
            return
        }
        let b = use(inst.b), d = define(i)
        if options.features.contains(.bmi2) && inst.op != .ror {
            let op: X64Op
            switch inst.op {
            case .shl: op = w ? .shlx64 : .shlx32
            case .lshr: op = w ? .shrx64 : .shrx32
            default: op = w ? .sarx64 : .sarx32
            }
            asm.emit(op, reg: d, rm: .reg(a), vvvv: b)
            return
        }
        asm.emit(.mov32rm, reg: GPR.rcx.number, rm: .reg(b))
        copy(d, a, wide: w)
        let op: X64Op
        switch inst.op {
        case .shl: op = w ? .shl64mc : .shl32mc
        case .lshr: op = w ? .shr64mc : .shr32mc
        case .ashr: op = w ? .sar64mc : .sar32mc
        default: op = w ? .ror64mc : .ror32mc
        }
        asm.emit(op, rm: .reg(d))
    }

    mutating func lowerByteSwap(_ i: Int, _ inst: IRInst) {
        let bytes = inst.type.bits / 8
        let container = Int(inst.imm)
        guard inst.type == .i32 || inst.type == .i64, container == 2 || container == 4 || container == 8, container <= bytes else {
            return lowerViaHelper(i)
        }
        let w = inst.type == .i64
        let a = use(inst.a), d = define(i, reusing: inst.a)
        copy(d, a, wide: w)
        if container == bytes {
            asm.emit(w ? .bswap64o : .bswap32o, reg: d)
        } else if container == 4 {
            asm.emit(.bswap64o, reg: d)
            asm.emit(.rol64mi, rm: .reg(d), imm: 32)
        } else if !w {
            asm.emit(.bswap32o, reg: d)
            asm.emit(.rol32mi, rm: .reg(d), imm: 16)
        } else {
            // Swap the bytes of each halfword: ((x >> 8) & m) | ((x & m) << 8), m = 0x00ff...
            let rax = GPR.rax.number, rcx = GPR.rcx.number
            asm.emit(.mov64oi, reg: rax, imm: 0x00ff_00ff_00ff_00ff)
            asm.emit(.mov64rm, reg: rcx, rm: .reg(d))
            asm.emit(.shr64mi, rm: .reg(d), imm: 8)
            asm.emit(.and64rm, reg: d, rm: .reg(rax))
            asm.emit(.and64rm, reg: rcx, rm: .reg(rax))
            asm.emit(.shl64mi, rm: .reg(rcx), imm: 8)
            asm.emit(.or64rm, reg: d, rm: .reg(rcx))
        }
    }

    mutating func lowerSignExtend(_ i: Int, _ inst: IRInst) {
        let from = type(inst.a), to = inst.type
        guard to.isInteger, from.isInteger else { return lowerViaHelper(i) }
        // A folded trunc (`extendSource`): the low bits of its source, in a register or, for a
        // guest register read nowhere else, in guest state.
        let source: X64RM
        if truncatedLoad[i] {
            source = state(GuestCPUState.offset(of: IRGuestRegister(rawValue: insts[Int(extendSource[i])].aux)))
        } else {
            source = .reg(use(extendSource[i] >= 0 ? IRValue(Int(extendSource[i])) : inst.a))
        }
        let d = define(i)
        let w = to == .i64
        switch from {
        case .i1:
            asm.emit(.mov32rm, reg: d, rm: source)
            asm.emit(w ? .neg64m : .neg32m, rm: .reg(d))
        case .i8: asm.emit(w ? .movsx64rm8 : .movsx32rm8, reg: d, rm: source)
        case .i16: asm.emit(w ? .movsx64rm16 : .movsx32rm16, reg: d, rm: source)
        case .i32: asm.emit(w ? .movsxd64rm : .mov32rm, reg: d, rm: source)
        default: asm.emit(.mov64rm, reg: d, rm: source)
        }
        if to == .i8 || to == .i16 || (to == .i1 && from != .i1) {
            asm.emit(.and32mi, rm: .reg(d), imm: Int64(to.mask))
        } else if to == .i1 {
            asm.emit(.and32mi8, rm: .reg(d), imm: 1)
        }
    }

    mutating func lowerSelect(_ i: Int, _ inst: IRInst) {
        let k = Int(resolved(inst.a))
        if rawFlags[i] {
            // Parked compare flags or the parked constant (`isParkableFlagsSelect`).
            let constant = GuestCPUState.parkedNZCV(UInt32(truncatingIfNeeded: insts[Int(resolved(inst.c))].imm))
            if fusedSelectCondition[k] {
                let condition = insts[k]
                let s = parkedFlags(condition.a), t = use(inst.b), d = define(i)
                asm.emit(.mov32oi, reg: d, imm: Int64(constant))
                restoreFlags(resolved(condition.a), from: s)
                asm.emit(.cmov64, reg: d, rm: .reg(t), cc: hostCondition(IRCondition(rawValue: condition.aux) ?? .al))
            } else {
                flagsValue = -1
                let c = use(inst.a), t = use(inst.b), d = define(i)
                asm.emit(.mov32oi, reg: d, imm: Int64(constant))
                asm.emit(.test32mr, reg: c, rm: .reg(c))
                asm.emit(.cmov64, reg: d, rm: .reg(t), cc: .ne)
            }
            return
        }
        if fusedSelectCondition[k] {
            // CSEL/CSET on flags still parked raw: CMOVcc on the flags themselves.
            let condition = insts[k]
            let source = resolved(condition.a)
            let cond = IRCondition(rawValue: condition.aux) ?? .al
            if let one = constant(inst.b), let zero = constant(inst.c), one ^ zero == 1, one | zero == 1,
               inst.type == .i32 || inst.type == .i64, cond != .al, cond != .nv {
                // CSET (and CSINC of zero): SETcc, not two constants and a CMOV.
                let s = parkedFlags(condition.a), d = define(i)
                restoreFlags(source, from: s)
                let cc = hostCondition(cond)
                asm.emit(.setcc, rm: .reg(d), cc: one == 1 ? cc : cc.inverted)
                asm.emit(.movzx32rm8, reg: d, rm: .reg(d))
                return
            }
            let s = parkedFlags(condition.a), t = use(inst.b), f = use(inst.c)
            let d = define(i, reusing: inst.c)
            copy(d, f, wide: true)
            restoreFlags(source, from: s)
            asm.emit(.cmov64, reg: d, rm: .reg(t), cc: hostCondition(IRCondition(rawValue: condition.aux) ?? .al))
            return
        }
        flagsValue = -1
        let c = use(inst.a), t = use(inst.b), f = use(inst.c)
        let vector = Self.isVectorClass(inst.type)
        let d = vector || resolved(inst.a) == resolved(inst.c) ? define(i) : define(i, reusing: inst.c)
        if vector {
            let keep = asm.newLabel()
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(f))
            asm.emit(.test32mr, reg: c, rm: .reg(c))
            asm.shortJump(.e, to: keep)
            asm.emit(.movdqa_x_xm, reg: d, rm: .reg(t))
            asm.bind(keep)
            return
        }
        copy(d, f, wide: true)
        asm.emit(.test32mr, reg: c, rm: .reg(c))
        asm.emit(.cmov64, reg: d, rm: .reg(t), cc: .ne)
    }

    /// Backward use pass at instruction `i`: an integer select records the condition it reads
    /// (`selectOfCondition`); a condition read only by that select is left to the select's
    /// CMOVcc, which then reads the condition's flags operand. Returns true when `i` was fused.
    mutating func fuseConditionIntoSelect(_ i: Int) -> Bool {
        let inst = insts[i]
        if inst.op == .select && inst.type.isInteger && !inst.a.isNone && Int(inst.a.index) < i {
            let k = Int(alias[Int(inst.a.index)])
            let cond = IRCondition(rawValue: insts[k].aux) ?? .al
            if insts[k].op == .condition && cond != .al && cond != .nv && selectOfCondition[k] < 0 { selectOfCondition[k] = Int32(i) }
            return false
        }
        guard inst.op == .condition, selectOfCondition[i] >= 0, useCount[i] == 1, !inst.a.isNone, Int(inst.a.index) < i else { return false }
        fusedSelectCondition[i] = true
        markUse(inst.a, at: Int(selectOfCondition[i]))
        return true
    }

    /// Conditions whose flags were converted to A64 layout (not parked raw) are computed after
    /// all.
    mutating func unfuseSelectConditionsOnConvertedFlags() {
        for i in insts.indices where fusedSelectCondition[i] && !rawFlags[Int(alias[Int(insts[i].a.index)])] {
            fusedSelectCondition[i] = false
            needsCode[i] = true
        }
    }

    mutating func lowerCompare(_ i: Int, _ inst: IRInst) {
        guard let cc = compareCondition(inst) else { return lowerViaHelper(i) }
        let operands = compareOperands(inst)
        let d = define(i)
        asm.emit(.xor32rm, reg: d, rm: .reg(d))
        emitCompare(inst, operands)
        asm.emit(.setcc, rm: .reg(d), cc: cc)
    }

    /// The x86 condition of `icmp` `inst`, or nil when it is lowered through the helper.
    func compareCondition(_ inst: IRInst) -> X64Condition? {
        let t = type(inst.a)
        let signed: Bool
        let cc: X64Condition
        switch IRComparison(rawValue: inst.aux) ?? .eq {
        case .eq: cc = .e; signed = false
        case .ne: cc = .ne; signed = false
        case .ult: cc = .b; signed = false
        case .ule: cc = .be; signed = false
        case .ugt: cc = .a; signed = false
        case .uge: cc = .ae; signed = false
        case .slt: cc = .l; signed = true
        case .sle: cc = .le; signed = true
        case .sgt: cc = .g; signed = true
        case .sge: cc = .ge; signed = true
        }
        guard t.isInteger, !(signed && t != .i32 && t != .i64) else { return nil }
        return cc
    }

    /// The registers (or immediate second operand) of `icmp` `inst`.
    mutating func compareOperands(_ inst: IRInst) -> (a: UInt8, b: UInt8?, imm: Int64?) {
        let t = type(inst.a)
        let w = t == .i64
        let a = use(inst.a)
        var imm: Int64? = nil
        if let k = constant(inst.b) {
            let s = w ? Int64(bitPattern: k) : Int64(Int32(truncatingIfNeeded: k))
            if s >= Int64(Int32.min) && s <= Int64(Int32.max) && (w || t == .i32 || k <= UInt64(Int32.max)) { imm = s }
        }
        return (a, imm == nil ? use(inst.b) : nil, imm)
    }

    /// `cmp a, b` (or `test a, a` against zero) for `icmp` `inst`; sets EFLAGS.
    mutating func emitCompare(_ inst: IRInst, _ operands: (a: UInt8, b: UInt8?, imm: Int64?)) {
        let w = type(inst.a) == .i64
        if let imm = operands.imm {
            if imm == 0 {
                asm.emit(w ? .test64mr : .test32mr, reg: operands.a, rm: .reg(operands.a))
            } else {
                asm.emit(w ? (imm >= -128 && imm <= 127 ? .cmp64mi8 : .cmp64mi) : (imm >= -128 && imm <= 127 ? .cmp32mi8 : .cmp32mi),
                         rm: .reg(operands.a), imm: imm)
            }
        } else if let b = operands.b {
            asm.emit(w ? .cmp64rm : .cmp32rm, reg: operands.a, rm: .reg(b))
        }
        flagsValue = -1
    }

    mutating func lowerBitcast(_ i: Int, _ inst: IRInst) {
        let from = type(inst.a), to = inst.type
        let fromVector = Self.isVectorClass(from), toVector = Self.isVectorClass(to)
        let a = use(inst.a), d = define(i)
        switch (fromVector, toVector) {
        case (false, false): asm.emit(.mov64rm, reg: d, rm: .reg(a))
        case (true, true): asm.emit(.movdqa_x_xm, reg: d, rm: .reg(a))
        case (false, true): asm.emit(to == .f32 ? .movd_x_r32 : .movq_x_r64, reg: d, rm: .reg(a))
        case (true, false): asm.emit(from == .f32 ? .movd_r32_x : .movq_r64_x, reg: a, rm: .reg(d))
        }
    }
}

extension X64Lowerer {
    /// RBIT: BSWAP reverses the bytes, then three mask-and-shift steps swap nibbles, bit
    /// pairs and bits (rax, rcx scratch).
    static let bitReverseSteps: [(shift: Int64, mask: UInt64)] = [(4, 0x0f0f_0f0f_0f0f_0f0f), (2, 0x3333_3333_3333_3333), (1, 0x5555_5555_5555_5555)]

    mutating func lowerBitReverse(_ i: Int, _ inst: IRInst) {
        let a = use(inst.a), d = define(i, reusing: inst.a)
        let w = inst.type == .i64
        let rax = GPR.rax.number, rcx = GPR.rcx.number
        copy(d, a, wide: w)
        asm.emit(w ? .bswap64o : .bswap32o, reg: d)
        for (shift, mask) in Self.bitReverseSteps {
            movImmediate(rcx, w ? mask : mask & 0xffff_ffff)
            asm.emit(w ? .mov64rm : .mov32rm, reg: rax, rm: .reg(d))
            asm.emit(w ? .shr64mi : .shr32mi, rm: .reg(rax), imm: shift)
            asm.emit(w ? .and64rm : .and32rm, reg: rax, rm: .reg(rcx))
            asm.emit(w ? .and64rm : .and32rm, reg: d, rm: .reg(rcx))
            asm.emit(w ? .shl64mi : .shl32mi, rm: .reg(d), imm: shift)
            asm.emit(w ? .or64rm : .or32rm, reg: d, rm: .reg(rax))
        }
    }
}
