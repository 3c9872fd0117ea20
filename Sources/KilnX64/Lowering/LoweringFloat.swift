import KilnIR

// Scalar floating point on SSE, with the reference interpreter as the slow path. The fast path
// runs only when the result cannot differ from A64: FPCR has round-to-nearest and FZ clear, no
// operand is a NaN (A64 and x86 propagate NaNs differently) and the result is not a NaN (x86's
// default NaN has the other sign). Anything else jumps to an out-of-line path that calls the
// interpreter helper. IEEE exception flags accumulate in MXCSR (cleared before the first fast
// operation) and are folded into FPSR before helper calls and at the exit.
extension X64Lowerer {
    /// MXCSR with all exceptions masked, round to nearest, no FTZ/DAZ, no flags.
    static let defaultMXCSR: Int64 = 0x1F80

    enum MXCSRState { case unknown, clean, dirty }

    struct FloatSlowPath {
        var entry: X64Label
        var resume: X64Label
        var instruction: Int
        var operands: (UInt8, UInt8)
        var destination: UInt8
        /// Whether the destination is a vector register (else a GPR).
        var vectorResult: Bool
    }

    /// FCVTZS (toward zero, signed, no fraction bits) with CVTTSS2SI/CVTTSD2SI; the x86
    /// "indefinite" result (NaN or out of range, and the exact INT_MIN) takes the slow path,
    /// which saturates as A64 does. FZ (denormal inputs raise IDC) also goes slow.
    mutating func lowerFloatToInt(_ i: Int, _ inst: IRInst) {
        let t = type(inst.a)
        guard t == .f32 || t == .f64, inst.type == .i32 || inst.type == .i64, inst.imm == 0,
              inst.aux & 15 == IRRounding.towardZero.rawValue, inst.aux & 16 == 0 else { return lowerViaHelper(i) }
        let single = t == .f32, wide = inst.type == .i64
        let a = use(inst.a), d = define(i)
        if mxcsrState == .unknown { clearMXCSR() }
        mxcsrState = .dirty
        let slow = asm.newLabel(), resume = asm.newLabel()
        asm.emit(.test32mi, rm: state(GuestCPUState.fpcrOffset), imm: Int64(FPCRBit.fz))
        asm.jump(.ne, to: slow)
        let op: X64Op = single ? (wide ? .cvttss2si64 : .cvttss2si32) : (wide ? .cvttsd2si64 : .cvttsd2si32)
        asm.emit(op, reg: d, rm: .reg(a))
        // d - 1 overflows only for the indefinite value INT_MIN.
        asm.emit(wide ? .cmp64mi8 : .cmp32mi8, rm: .reg(d), imm: 1)
        asm.jump(.o, to: slow)
        asm.bind(resume)
        floatSlowPaths.append(FloatSlowPath(entry: slow, resume: resume, instruction: i, operands: (a, a), destination: d, vectorResult: false))
    }

    /// SCVTF (and UCVTF from 32 bits) without fraction bits, CVTSI2SS/CVTSI2SD under
    /// round-to-nearest; other FPCR rounding modes take the interpreter.
    mutating func lowerIntToFloat(_ i: Int, _ inst: IRInst) {
        let t = type(inst.a)
        let unsigned = inst.aux & 16 != 0
        guard inst.type == .f32 || inst.type == .f64, t == .i32 || (t == .i64 && !unsigned), inst.imm == 0 else {
            return lowerViaHelper(i)
        }
        let single = inst.type == .f32
        let a = use(inst.a), d = define(i)
        if mxcsrState == .unknown { clearMXCSR() }
        mxcsrState = .dirty
        let slow = asm.newLabel(), resume = asm.newLabel()
        asm.emit(.test32mi, rm: state(GuestCPUState.fpcrOffset), imm: Int64(3 << FPCRBit.rmodeShift))
        asm.jump(.ne, to: slow)
        // A 32-bit unsigned source is converted as the zero-extended 64-bit value.
        let wide = t == .i64 || unsigned
        asm.emit(.xorps, reg: d, rm: .reg(d))
        asm.emit(single ? (wide ? .cvtsi2ss64 : .cvtsi2ss32) : (wide ? .cvtsi2sd64 : .cvtsi2sd32), reg: d, rm: .reg(a))
        asm.bind(resume)
        floatSlowPaths.append(FloatSlowPath(entry: slow, resume: resume, instruction: i, operands: (a, a), destination: d, vectorResult: true))
    }

    /// FCMP/FCMPE: UCOMIS/COMIS raise invalid exactly as A64 does (any NaN for the signalling
    /// form, signalling NaNs for the quiet one); CMOVs turn ZF/PF/CF into NZCV. Only FZ, which
    /// flushes denormal inputs, needs the slow path.
    mutating func lowerFloatCompare(_ i: Int, _ inst: IRInst) {
        let t = type(inst.a)
        guard t == .f32 || t == .f64, type(inst.b) == t else { return lowerViaHelper(i) }
        let single = t == .f32
        let a = use(inst.a), b = use(inst.b), d = define(i)
        if mxcsrState == .unknown { clearMXCSR() }
        mxcsrState = .dirty
        let slow = asm.newLabel(), resume = asm.newLabel()
        asm.emit(.test32mi, rm: state(GuestCPUState.fpcrOffset), imm: Int64(FPCRBit.fz))
        asm.jump(.ne, to: slow)
        let signalling = inst.aux & 1 == 1
        asm.emit(single ? (signalling ? .comiss : .ucomiss) : (signalling ? .comisd : .ucomisd), reg: a, rm: .reg(b))
        let rax = GPR.rax.number
        asm.emit(.mov32oi, reg: d, imm: 0x2000_0000)
        // Less sets CF, equal ZF, unordered all three: the last move that applies wins.
        asm.emit(.mov32oi, reg: rax, imm: 0x8000_0000)
        asm.emit(.cmov32, reg: d, rm: .reg(rax), cc: .b)
        asm.emit(.mov32oi, reg: rax, imm: 0x6000_0000)
        asm.emit(.cmov32, reg: d, rm: .reg(rax), cc: .e)
        asm.emit(.mov32oi, reg: rax, imm: 0x3000_0000)
        asm.emit(.cmov32, reg: d, rm: .reg(rax), cc: .p)
        asm.bind(resume)
        floatSlowPaths.append(FloatSlowPath(entry: slow, resume: resume, instruction: i, operands: (a, b), destination: d, vectorResult: false))
    }

    mutating func lowerFloat(_ i: Int, _ inst: IRInst) {
        let t = inst.type
        guard t == .f32 || t == .f64 else { return lowerViaHelper(i) }
        let single = t == .f32
        if inst.op == .fneg || inst.op == .fabs {
            // Sign-bit operations: no rounding, flags or NaN processing.
            let a = use(inst.a), d = define(i)
            let sign: UInt64 = single ? 0x8000_0000 : 0x8000_0000_0000_0000
            movImmediate(GPR.rax.number, inst.op == .fneg ? sign : ~sign & (single ? 0xffff_ffff : ~0))
            asm.emit(.movq_x_r64, reg: 0, rm: .reg(GPR.rax.number))
            asm.emit(.movaps_x_xm, reg: d, rm: .reg(a))
            asm.emit(inst.op == .fneg ? .xorps : .andps, reg: d, rm: .reg(0))
            return
        }
        let op: X64Op
        switch inst.op {
        case .fadd: op = single ? .addss : .addsd
        case .fsub: op = single ? .subss : .subsd
        case .fmul: op = single ? .mulss : .mulsd
        case .fdiv: op = single ? .divss : .divsd
        default: op = single ? .sqrtss : .sqrtsd
        }
        let unary = inst.op == .fsqrt
        let a = use(inst.a)
        let b = unary ? a : use(inst.b)
        let d = define(i)
        if mxcsrState == .unknown { clearMXCSR() }
        mxcsrState = .dirty
        let slow = asm.newLabel(), resume = asm.newLabel()
        let compare: X64Op = single ? .ucomiss : .ucomisd
        asm.emit(.test32mi, rm: state(GuestCPUState.fpcrOffset), imm: Int64(FPCRBit.fz | 3 << FPCRBit.rmodeShift))
        asm.jump(.ne, to: slow)
        asm.emit(compare, reg: a, rm: .reg(b))
        asm.jump(.p, to: slow)
        if unary {
            asm.emit(op, reg: d, rm: .reg(a))
        } else {
            asm.emit(.movaps_x_xm, reg: d, rm: .reg(a))
            asm.emit(op, reg: d, rm: .reg(b))
        }
        asm.emit(compare, reg: d, rm: .reg(d))
        asm.jump(.p, to: slow)
        asm.bind(resume)
        floatSlowPaths.append(FloatSlowPath(entry: slow, resume: resume, instruction: i, operands: (a, b), destination: d, vectorResult: true))
    }

    mutating func clearMXCSR() {
        asm.emit(.mov32mi, rm: context(X64ABI.Context.mxcsr), imm: Self.defaultMXCSR)
        asm.emit(.ldmxcsr, rm: context(X64ABI.Context.mxcsr))
        mxcsrState = .clean
    }

    /// Makes guest FPSR current before IR reads or writes it.
    mutating func bankFloatFlags() {
        guard mxcsrState == .dirty else { return }
        foldMXCSR()
        flagsValue = -1
    }

    /// FPSR |= the IEEE flags in MXCSR (IE, ZE, OE, UE, PE -> IOC, DZC, OFC, UFC, IXC); then
    /// clears them.
    mutating func foldMXCSR() {
        let rax = GPR.rax.number, rcx = GPR.rcx.number
        asm.emit(.stmxcsr, rm: context(X64ABI.Context.mxcsr))
        asm.emit(.mov32rm, reg: rax, rm: context(X64ABI.Context.mxcsr))
        asm.emit(.mov32rm, reg: rcx, rm: .reg(rax))
        asm.emit(.and32mi8, rm: .reg(rcx), imm: 1)
        asm.emit(.shr32mi, rm: .reg(rax), imm: 1)
        asm.emit(.and32mi8, rm: .reg(rax), imm: 0x1E)
        asm.emit(.or32rm, reg: rax, rm: .reg(rcx))
        asm.emit(.or32mr, reg: rax, rm: state(GuestCPUState.fpsrOffset))
        clearMXCSR()
        flagsValue = -1
    }

    /// The out-of-line slow paths: park every caller-saved allocatable register, call the
    /// interpreter helper, restore, load the result, resume.
    mutating func emitFloatSlowPaths() {
        guard !floatSlowPaths.isEmpty else { return }
        let gprs: [GPR] = X64ABI.allocatableGPRs.filter { !X64ABI.calleeSavedGPRs.contains($0.number) }
        for path in floatSlowPaths {
            asm.bind(path.entry)
            for (k, r) in gprs.enumerated() { asm.emit(.mov64mr, reg: r.number, rm: context(X64ABI.Context.gprSaveArea + 8 * k)) }
            for (k, x) in X64ABI.allocatableXMMs.enumerated() { asm.emit(.movdqu_xm_x, reg: x, rm: context(X64ABI.Context.xmmSaveArea + 16 * k)) }
            foldMXCSR()
            let inst = insts[path.instruction]
            let args = X64ABI.Context.helperArguments
            let rax = GPR.rax.number
            movImmediate(rax, Self.helperDescriptor(inst, insts))
            asm.emit(.mov64mr, reg: rax, rm: context(args))
            movImmediate(rax, inst.imm)
            asm.emit(.mov64mr, reg: rax, rm: context(args + 8))
            for k in 0..<2 {
                let operand = k == 0 ? inst.a : inst.b, register = k == 0 ? path.operands.0 : path.operands.1
                guard !operand.isNone else { continue }
                let slot = context(args + 16 + 16 * k)
                if Self.isVectorClass(type(operand)) { asm.emit(.movdqu_xm_x, reg: register, rm: slot) } else { asm.emit(.mov64mr, reg: register, rm: slot) }
            }
            emitHelperCall()
            // The interpreter has accounted for its own flags in FPSR.
            clearMXCSR()
            for (k, r) in gprs.enumerated() { asm.emit(.mov64rm, reg: r.number, rm: context(X64ABI.Context.gprSaveArea + 8 * k)) }
            for (k, x) in X64ABI.allocatableXMMs.enumerated() { asm.emit(.movdqu_x_xm, reg: x, rm: context(X64ABI.Context.xmmSaveArea + 16 * k)) }
            if path.vectorResult {
                asm.emit(.movdqu_x_xm, reg: path.destination, rm: context(args + 64))
            } else {
                asm.emit(.mov64rm, reg: path.destination, rm: context(args + 64))
            }
            asm.jump(nil, to: path.resume)
        }
        floatSlowPaths.removeAll(keepingCapacity: true)
    }

    mutating func emitHelperCall() {
        asm.emit(.mov64rm, reg: GPR.rdi.number, rm: .reg(X64ABI.contextRegister.number))
        asm.emit(.lea64rm, reg: GPR.rsi.number, rm: state(0))
        asm.emit(.callm, rm: context(X64ABI.Context.helpers + 8 * X64Helper.interpretInstruction.rawValue))
    }
}
