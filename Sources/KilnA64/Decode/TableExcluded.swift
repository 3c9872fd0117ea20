import KilnIR

extension A64Table {
    /// Excluded families (SVE, SME, MTE, MOPS): recognized and reported, never lifted.
    static let excluded: [A64Encoding] = [
        A64Encoding("xxx0010x_xxxxxxxx_xxxxxxxx_xxxxxxxx", "SVE", .sve, nil),
        A64Encoding("1xx0000x_xxxxxxxx_xxxxxxxx_xxxxxxxx", "SME", .sme, nil),
        A64Encoding("11011001_xx1xxxxx_xxxxxxxx_xxxxxxxx", "MTE load/store tags", .mte, nil),
        A64Encoding("1x010001_10xxxxxx_xxxxxxxx_xxxxxxxx", "ADDG/SUBG", .mte, nil),
        A64Encoding("10011010_110xxxxx_000100xx_xxxxxxxx", "IRG", .mte, nil),
        A64Encoding("10011010_110xxxxx_000101xx_xxxxxxxx", "GMI", .mte, nil),
        A64Encoding("10011010_110xxxxx_000000xx_xxxxxxxx", "SUBP", .mte, nil),
        A64Encoding("10111010_110xxxxx_000000xx_xxxxxxxx", "SUBPS", .mte, nil),
        A64Encoding("01101000_10xxxxxx_xxxxxxxx_xxxxxxxx", "STGP", .mte, nil),
        A64Encoding("01101001_00xxxxxx_xxxxxxxx_xxxxxxxx", "STGP", .mte, nil),
        A64Encoding("01101001_10xxxxxx_xxxxxxxx_xxxxxxxx", "STGP", .mte, nil),
        A64Encoding("11010101_00001011_01110100_011xxxxx", "DC GVA", .mte, nil),
        A64Encoding("11010101_00001011_01110100_100xxxxx", "DC GZVA", .mte, nil),
        A64Encoding("xx011001_xx0xxxxx_xxxx01xx_xxxxxxxx", "CPY/SET (MOPS)", .mops, nil),
        A64Encoding("xx011101_xx0xxxxx_xxxx01xx_xxxxxxxx", "CPY (MOPS)", .mops, nil),
    ]
}
