import KilnIR

// The slow path: any IR instruction can run through the interpreter helper. The code stores
// a descriptor (operation, types, attribute, immediate) and the operand values into the
// context's argument block and calls the helper through the context's table, so the code
// holds no host address.
extension X64Lowerer {
    /// Descriptor word: op, result type, aux, operand types a, b, c.
    static func helperDescriptor(_ inst: IRInst, _ insts: [IRInst]) -> UInt64 {
        func t(_ v: IRValue) -> UInt64 { v.isNone || Int(v.index) >= insts.count ? 0 : UInt64(insts[Int(v.index)].type.rawValue) }
        let operands = hasValueOperands(inst.op)
        return UInt64(inst.op.rawValue) | UInt64(inst.type.rawValue) << 8 | UInt64(inst.aux) << 16
            | (operands ? t(inst.a) << 32 | t(inst.b) << 40 | t(inst.c) << 48 : 0)
    }

    mutating func lowerViaHelper(_ i: Int) {
        let inst = insts[i]
        helperOps.insert(inst.op)
        flagsValue = -1
        let args = X64ABI.Context.helperArguments
        let rax = GPR.rax.number
        movImmediate(rax, Self.helperDescriptor(inst, insts))
        asm.emit(.mov64mr, reg: rax, rm: context(args))
        movImmediate(rax, inst.imm)
        asm.emit(.mov64mr, reg: rax, rm: context(args + 8))
        if Self.hasValueOperands(inst.op) {
            for k in 0..<3 {
                let v = pick(k, inst.a, inst.b, inst.c, .none)
                guard !v.isNone else { continue }
                let r = use(v)
                let slot = context(args + 16 + 16 * k)
                if Self.isVectorClass(type(v)) { asm.emit(.movdqu_xm_x, reg: r, rm: slot) } else { asm.emit(.mov64mr, reg: r, rm: slot) }
            }
        }
        pinnedGPR = 0; pinnedXMM = 0
        // Operands whose last use is this call need not survive it.
        releaseDeadOperands(i)
        spillCallerSaved()
        // The interpreter resets the host's exception flags: bank ours first.
        if mxcsrState == .dirty { foldMXCSR() }
        emitHelperCall()
        mxcsrState = .unknown
        guard inst.type != .void else { return }
        let d = define(i)
        let result = context(args + 64)
        if Self.isVectorClass(inst.type) { asm.emit(.movdqu_x_xm, reg: d, rm: result) } else { asm.emit(.mov64rm, reg: d, rm: result) }
    }
}
