import Testing
@testable import KilnA64
import KilnIR

@Test func decodesRepresentativeEncodings() {
    let cases: [(UInt32, String)] = [
        (0x8b02_0020, "ADD"), (0x9100_0421, "ADD"), (0xd101_03ff, "SUB"), (0xaa04_03e3, "ORR"),
        (0xf940_0400, "LDR"), (0xa9be_7bfd, "STP"), (0x9400_0040, "BL"), (0xd65f_03c0, "RET"),
        (0xd503_201f, "HINT"), (0xd400_0001, "SVC"), (0xc8df_fc20, "LDAR"), (0xf8e0_0041, "LDADD"),
        (0x0000_0001, "UDF"), (0xd53b_d042, "MRS"), (0x54000041, "B.cond"),
    ]
    for (word, mnemonic) in cases {
        let d = A64Decoder.shared.decode(word)
        #expect(A64Decoder.shared.encoding(d)?.mnemonic == mnemonic, "\(String(word, radix: 16))")
    }
}

@Test func unallocatedEncodingsDecodeToNothing() {
    // Reserved space in the data-processing-register group and a load/store hole.
    for word: UInt32 in [0x1a80_0000 | 1 << 11 | 0x0000_0000, 0xd4a0_0000, 0x3880_0c00 | 0xc000_0000 | 1 << 22] {
        let d = A64Decoder.shared.decode(word)
        if let e = A64Decoder.shared.encoding(d) {
            // A matching line must reject the word when lifting.
            var t = A64Translator()
            #expect(throws: A64LiftError.self, "\(String(word, radix: 16)) matched \(e.mnemonic)") { try t.lift(word, at: 0) }
        }
    }
}

@Test func decoderMatchesLinearScanOfTheTable() {
    // The bucketed lookup must pick the same line as scanning all lines by specificity.
    let table = A64Decoder.shared.table
    var state: UInt64 = 0x9e37_79b9_7f4a_7c15
    for _ in 0..<20000 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let word = UInt32(truncatingIfNeeded: state >> 32)
        let best = table.indices.filter { table[$0].matches(word) }
            .max { a, b in
                let x = table[a].mask.nonzeroBitCount, y = table[b].mask.nonzeroBitCount
                return x != y ? x < y : a > b
            }
        #expect(A64Decoder.shared.decode(word).index == Int32(best ?? -1))
    }
}

@Test func liftErrorNamesInstruction() {
    var t = A64Translator()
    do {
        try t.lift(0xd53b_d062, at: 0x40)  // MRS x2, TPIDRRO_EL0: valid but not implemented
        Issue.record("expected an error")
    } catch {
        #expect(error.kind == .unimplemented)
        #expect(error.mnemonic == "MRS")
        #expect(error.offset == 0x40)
        #expect(error.description.contains("d53bd062"))
    }
}

@Test func bitMaskImmediates() {
    #expect(decodeBitMasks(n: 1, imms: 0b000111, immr: 0, immediate: true, width: 64)?.0 == 0xff)
    #expect(decodeBitMasks(n: 0, imms: 0b000000, immr: 0, immediate: true, width: 32)?.0 == 1)
    #expect(decodeBitMasks(n: 0, imms: 0b111100, immr: 0, immediate: true, width: 32)?.0 == 0x5555_5555)
    #expect(decodeBitMasks(n: 1, imms: 0b111111, immr: 0, immediate: true, width: 64) == nil)
}
