// Moves, extensions, conditional forms, control transfer and atomics: one line per form.
extension X64Form {
    static let moves: [X64Form] = [
        gpr(.mov8mr, "mov", .mr, .b, .primary, 0x88), gpr(.mov16mr, "mov", .mr, .w, .primary, 0x89),
        gpr(.mov32mr, "mov", .mr, .d, .primary, 0x89), gpr(.mov64mr, "mov", .mr, .q, .primary, 0x89),
        gpr(.mov32rm, "mov", .rm, .d, .primary, 0x8B), gpr(.mov64rm, "mov", .rm, .q, .primary, 0x8B),
        gpr(.mov32mi, "mov", .mImm32, .d, .primary, 0xC7, digit: 0), gpr(.mov64mi, "mov", .mImm32, .q, .primary, 0xC7, digit: 0),
        gpr(.mov32oi, "mov", .oImm32, .d, .primary, 0xB8), gpr(.mov64oi, "movabs", .oImm64, .q, .primary, 0xB8),
        gpr(.movzx32rm8, "movzx", .rm, .d, .map0F, 0xB6, rm: .gpr8), gpr(.movzx32rm16, "movzx", .rm, .d, .map0F, 0xB7, rm: .gpr16),
        gpr(.movsx32rm8, "movsx", .rm, .d, .map0F, 0xBE, rm: .gpr8), gpr(.movsx64rm8, "movsx", .rm, .q, .map0F, 0xBE, rm: .gpr8),
        gpr(.movsx32rm16, "movsx", .rm, .d, .map0F, 0xBF, rm: .gpr16), gpr(.movsx64rm16, "movsx", .rm, .q, .map0F, 0xBF, rm: .gpr16),
        gpr(.movsxd64rm, "movsxd", .rm, .q, .primary, 0x63, rm: .gpr32),
        gpr(.lea32rm, "lea", .rm, .d, .primary, 0x8D, rm: .memory), gpr(.lea64rm, "lea", .rm, .q, .primary, 0x8D, rm: .memory),
        gpr(.xchg64mr, "xchg", .mr, .q, .primary, 0x87),
        gpr(.push64o, "push", .o, .q, .primary, 0x50), gpr(.pop64o, "pop", .o, .q, .primary, 0x58),
        gpr(.pushm, "push", .m, .d, .primary, 0xFF, digit: 6, rm: .gpr64),
    ]

    static let conditional: [X64Form] = [
        gpr(.setcc, "set", .m, .b, .map0F, 0x90, digit: 0, conditional: true),
        gpr(.cmov32, "cmov", .rm, .d, .map0F, 0x40, conditional: true), gpr(.cmov64, "cmov", .rm, .q, .map0F, 0x40, conditional: true),
        gpr(.jcc8, "j", .rel8, .d, .primary, 0x70, conditional: true), gpr(.jcc32, "j", .rel32, .d, .map0F, 0x80, conditional: true),
        gpr(.lahf, "lahf", .none, .d, .primary, 0x9F, feature: .lahfsahf), gpr(.sahf, "sahf", .none, .d, .primary, 0x9E, feature: .lahfsahf),
        gpr(.cmc, "cmc", .none, .d, .primary, 0xF5), gpr(.stc, "stc", .none, .d, .primary, 0xF9),
        gpr(.clc, "clc", .none, .d, .primary, 0xF8),
        gpr(.pushfq, "pushfq", .none, .d, .primary, 0x9C), gpr(.popfq, "popfq", .none, .d, .primary, 0x9D),
    ]

    static let control: [X64Form] = [
        gpr(.jmp8, "jmp", .rel8, .d, .primary, 0xEB), gpr(.jmp32, "jmp", .rel32, .d, .primary, 0xE9),
        gpr(.jmpm, "jmp", .m, .d, .primary, 0xFF, digit: 4, rm: .gpr64),
        gpr(.call32, "call", .rel32, .d, .primary, 0xE8), gpr(.callm, "call", .m, .d, .primary, 0xFF, digit: 2, rm: .gpr64),
        gpr(.ret, "ret", .none, .d, .primary, 0xC3), gpr(.ud2, "ud2", .none, .d, .map0F, 0x0B),
        gpr(.int3, "int3", .none, .d, .primary, 0xCC), gpr(.nop, "nop", .none, .d, .primary, 0x90),
        X64Form(.mfence, "mfence", .m, reg: .none, rm: .none, map: .map0F, opcode: 0xAE, digit: 6),
        X64Form(.lfence, "lfence", .m, reg: .none, rm: .none, map: .map0F, opcode: 0xAE, digit: 5),
        X64Form(.ldmxcsr, "ldmxcsr", .m, reg: .none, rm: .memory, map: .map0F, opcode: 0xAE, digit: 2),
        X64Form(.stmxcsr, "stmxcsr", .m, reg: .none, rm: .memory, map: .map0F, opcode: 0xAE, digit: 3),
    ]

    static let atomics: [X64Form] = [
        gpr(.lockCmpxchg8, "cmpxchg", .mr, .b, .map0F, 0xB0, rm: .memory, lock: true),
        gpr(.lockCmpxchg16, "cmpxchg", .mr, .w, .map0F, 0xB1, rm: .memory, lock: true),
        gpr(.lockCmpxchg32, "cmpxchg", .mr, .d, .map0F, 0xB1, rm: .memory, lock: true),
        gpr(.lockCmpxchg64, "cmpxchg", .mr, .q, .map0F, 0xB1, rm: .memory, lock: true),
        gpr(.lockXadd8, "xadd", .mr, .b, .map0F, 0xC0, rm: .memory, lock: true),
        gpr(.lockXadd16, "xadd", .mr, .w, .map0F, 0xC1, rm: .memory, lock: true),
        gpr(.lockXadd32, "xadd", .mr, .d, .map0F, 0xC1, rm: .memory, lock: true),
        gpr(.lockXadd64, "xadd", .mr, .q, .map0F, 0xC1, rm: .memory, lock: true),
        gpr(.xchg8, "xchg", .mr, .b, .primary, 0x86, rm: .memory), gpr(.xchg16, "xchg", .mr, .w, .primary, 0x87, rm: .memory),
        gpr(.xchg32, "xchg", .mr, .d, .primary, 0x87, rm: .memory),
        gpr(.lockCmpxchg16b, "cmpxchg16b", .m, .q, .map0F, 0xC7, digit: 1, rm: .memory, lock: true, feature: .cmpxchg16b),
    ]
}
