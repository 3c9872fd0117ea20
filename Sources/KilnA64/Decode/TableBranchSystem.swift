import KilnIR

extension A64Table {
    /// Branches, exception generation and system instructions.
    static let branchSystem: [A64Encoding] = [
        A64Encoding("000101xx_xxxxxxxx_xxxxxxxx_xxxxxxxx", "B", .branch, Branch.unconditional),
        A64Encoding("100101xx_xxxxxxxx_xxxxxxxx_xxxxxxxx", "BL", .branch, Branch.unconditional),
        A64Encoding("01010100_xxxxxxxx_xxxxxxxx_xxx0xxxx", "B.cond", .branch, Branch.conditional),
        A64Encoding("x0110100_xxxxxxxx_xxxxxxxx_xxxxxxxx", "CBZ", .branch, Branch.compareAndBranch),
        A64Encoding("x0110101_xxxxxxxx_xxxxxxxx_xxxxxxxx", "CBNZ", .branch, Branch.compareAndBranch),
        A64Encoding("x0110110_xxxxxxxx_xxxxxxxx_xxxxxxxx", "TBZ", .branch, Branch.testAndBranch),
        A64Encoding("x0110111_xxxxxxxx_xxxxxxxx_xxxxxxxx", "TBNZ", .branch, Branch.testAndBranch),
        A64Encoding("11010110_00011111_000000xx_xxx00000", "BR", .branch, Branch.register),
        A64Encoding("11010110_00111111_000000xx_xxx00000", "BLR", .branch, Branch.register),
        A64Encoding("11010110_01011111_000000xx_xxx00000", "RET", .branch, Branch.register),
        A64Encoding("11010100_000xxxxx_xxxxxxxx_xxx00001", "SVC", .system, Branch.supervisorCall),
        A64Encoding("11010100_000xxxxx_xxxxxxxx_xxx00010", "HVC", .system, Branch.undefined),
        A64Encoding("11010100_000xxxxx_xxxxxxxx_xxx00011", "SMC", .system, Branch.undefined),
        A64Encoding("11010100_001xxxxx_xxxxxxxx_xxx00000", "BRK", .system, Branch.breakpoint),
        A64Encoding("11010100_010xxxxx_xxxxxxxx_xxx00000", "HLT", .system, Branch.undefined),
        A64Encoding("00000000_00000000_xxxxxxxx_xxxxxxxx", "UDF", .system, Branch.undefined),
        A64Encoding("11010101_00000011_0010xxxx_xxx11111", "HINT", .system, System.hint),
        A64Encoding("11010101_00000011_0011xxxx_01011111", "CLREX", .system, System.clearExclusive),
        A64Encoding("11010101_00000011_0011xxxx_10011111", "DSB", .system, System.barrier),
        A64Encoding("11010101_00000011_0011xxxx_10111111", "DMB", .system, System.barrier),
        A64Encoding("11010101_00000011_0011xxxx_11011111", "ISB", .system, System.barrier),
        A64Encoding("11010101_00000011_00110000_11111111", "SB", .system, System.barrier),
        A64Encoding("11010101_00000000_01000000_00011111", "CFINV", .system, System.invertCarry),
        A64Encoding("11010101_00000xxx_0100xxxx_xxx11111", "MSR (immediate)", .system, nil),
        A64Encoding("11010101_00001xxx_xxxxxxxx_xxxxxxxx", "SYS", .system, System.sys),
        A64Encoding("11010101_00101xxx_xxxxxxxx_xxxxxxxx", "SYSL", .system, nil),
        A64Encoding("11010101_0001xxxx_xxxxxxxx_xxxxxxxx", "MSR", .system, System.moveToSystem),
        A64Encoding("11010101_0011xxxx_xxxxxxxx_xxxxxxxx", "MRS", .system, System.moveFromSystem),
    ]
}
