import Foundation
import Testing
@testable import KilnCache
import KilnTestSupport

/// The reference implementation's sanity buffer (cli/xsum_sanity_check.c): byte i is the top
/// byte of PRIME32 * PRIME64^i.
private func sanityBuffer(_ length: Int) -> [UInt8] {
    var generator: UInt64 = 2_654_435_761
    var bytes = [UInt8](repeating: 0, count: length)
    for i in 0..<length {
        bytes[i] = UInt8(truncatingIfNeeded: generator >> 56)
        generator = generator &* 11_400_714_785_074_694_797
    }
    return bytes
}

private let prime32: UInt64 = 2_654_435_761
private let prime64: UInt64 = 11_400_714_785_074_694_797

/// (length, seed, expected) from the reference's XSUM_XXH3_testdata.
private let xxh3Vectors: [(Int, UInt64, UInt64)] = [
    (0, 0, 0x2D06_8005_38D3_94C2), (0, prime64, 0xA8A6_B918_B2F0_364A),
    (1, 0, 0xC44B_DFF4_074E_ECDB), (1, prime64, 0x032B_E332_DD76_6EF8),
    (6, 0, 0x27B5_6A84_CD2D_7325), (6, prime64, 0x8458_9C11_6AB5_9AB9),
    (12, 0, 0xA713_DAF0_DFBB_77E7), (12, prime64, 0xE730_3E1B_2336_DE0E),
    (24, 0, 0xA3FE_70BF_9D35_10EB), (24, prime64, 0x850E_80FC_35BD_D690),
    (48, 0, 0x397D_A259_ECBA_1F11), (48, prime64, 0xADC2_CBAA_44AC_C616),
    (80, 0, 0xBCDE_FBBB_2C47_C90A), (80, prime64, 0xC6DD_0CB6_9953_2E73),
    (195, 0, 0xCD94_217E_E362_EC3A), (195, prime64, 0xBA68_003D_370C_B3D9),
    (403, 0, 0xCDEB_804D_65C6_DEA4), (403, prime64, 0x6259_F6EC_FD64_43FD),
    (512, 0, 0x617E_4959_9013_CB6B), (512, prime64, 0x3CE4_57DE_14C2_7708),
    (2048, 0, 0xDD59_E2C3_A5F0_38E0), (2048, prime64, 0x66F8_1670_669A_BABC),
    (2099, 0, 0xC6B9_D9B3_FC9A_C765), (2099, prime64, 0x184F_3168_4366_3974),
    (2240, 0, 0x6E73_A905_39CF_2948), (2240, prime64, 0x757B_A848_7D1B_5247),
    (2367, 0, 0xCB37_AEB9_E5D3_61ED), (2367, prime64, 0xD2DB_3415_B942_B42A),
]

/// (length, seed, low64, high64) from the reference's XSUM_XXH128_testdata.
private let xxh128Vectors: [(Int, UInt64, UInt64, UInt64)] = [
    (0, 0, 0x6001_C324_468D_497F, 0x99AA_06D3_0147_98D8),
    (0, prime32, 0x5444_F786_9C67_1AB0, 0x9222_0AE5_5E14_AB50),
    (1, 0, 0xC44B_DFF4_074E_ECDB, 0xA6CD_5E93_9200_0F6A),
    (1, prime32, 0xB53D_5557_E7F7_6F8D, 0x89B9_9554_BA22_467C),
    (6, 0, 0x3E70_39BD_DA43_CFC6, 0x082A_FE0B_8162_D12A),
    (6, prime32, 0x269D_8F70_BE98_856E, 0x5A86_5B53_89AB_D2B1),
    (12, 0, 0x061A_1927_13F6_9AD9, 0x6E3E_FD8F_C780_2B18),
    (12, prime32, 0x9BE9_F9A6_7F3C_7DFB, 0xD7E0_9D51_8A34_05D3),
    (24, 0, 0x1E70_44D2_8B1B_901D, 0x0CE9_66E4_678D_3761),
    (24, prime32, 0xD730_4C54_EBAD_40A9, 0x3162_0267_14A6_A243),
    (48, 0, 0xF942_219A_ED80_F67B, 0xA002_AC4E_5478_227E),
    (48, prime32, 0x7BA3_C3E4_53A1_934E, 0x163A_DDE3_6C07_2295),
    (81, 0, 0x5E8B_AFB9_F95F_B803, 0x4952_F581_81AB_0042),
    (81, prime32, 0x703F_BB3D_7A5F_755C, 0x2724_EC7A_DC75_0FB6),
    (222, 0, 0xF1AE_BD59_7CEC_6B3A, 0x337E_0964_1B94_8717),
    (222, prime32, 0xAE99_5BB8_AF91_7A8D, 0x9182_0016_621E_97F1),
    (403, 0, 0xCDEB_804D_65C6_DEA4, 0x1B6D_E21E_332D_D73D),
    (403, prime64, 0x6259_F6EC_FD64_43FD, 0xBED3_1197_1E0B_E8F2),
    (512, 0, 0x617E_4959_9013_CB6B, 0x18D2_D110_DCC9_BCA1),
    (512, prime64, 0x3CE4_57DE_14C2_7708, 0x925D_06B8_EC5B_8040),
    (2048, 0, 0xDD59_E2C3_A5F0_38E0, 0xF736_557F_D470_73A5),
    (2048, prime32, 0x230D_43F3_0206_260B, 0x7FB0_3F7E_7186_C3EA),
    (2240, 0, 0x6E73_A905_39CF_2948, 0xCCB1_34FB_FA7C_E49D),
    (2240, prime32, 0xED38_5111_126F_BA6F, 0x50A1_FE17_B338_995F),
    (2367, 0, 0xCB37_AEB9_E5D3_61ED, 0xE89C_0F6F_F369_B427),
    (2367, prime32, 0x6F53_60AE_69C2_F406, 0xD23A_AE4B_76C3_1ECB),
]

@Suite struct XXH3Tests {
    @Test func referenceVectors64() {
        let buffer = sanityBuffer(2367)
        for (length, seed, expected) in xxh3Vectors {
            let got = buffer.withUnsafeBytes { XXH3.hash64(UnsafeRawBufferPointer(rebasing: $0[0..<length]), seed: seed) }
            #expect(got == expected, "XXH3-64 length \(length) seed \(seed): \(hex64(got))")
        }
    }

    @Test func referenceVectors128() {
        let buffer = sanityBuffer(2367)
        for (length, seed, low, high) in xxh128Vectors {
            let got = buffer.withUnsafeBytes { XXH3.hash128(UnsafeRawBufferPointer(rebasing: $0[0..<length]), seed: seed) }
            #expect(got == XXH128Hash(low64: low, high64: high), "XXH128 length \(length) seed \(seed): \(got)")
        }
    }

    /// Random files of every size class against Debian's xxhsum, both widths, through the
    /// `hash` helper that `kiln cache hash` also prints with.
    @Test(.enabled(if: TestEnvironment.which("xxhsum") != nil))
    func agreesWithXXHSum() throws {
        let xxhsum = try #require(TestEnvironment.which("xxhsum"))
        let dir = try TemporaryDirectory()
        var generator = SplitMix64(seed: 0x4B49_4C4E)
        let lengths = [0, 1, 3, 4, 8, 9, 16, 17, 100, 128, 129, 200, 240, 241, 1000, 1024, 1025,
                       4096, 65_537, 1_048_576 + 13] + (0..<12).map { _ in Int(generator.next() % 20_000) }
        var paths: [String] = []
        var bytesByPath: [String: [UInt8]] = [:]
        for (i, length) in lengths.enumerated() {
            var bytes = [UInt8](repeating: 0, count: length)
            for j in 0..<length { bytes[j] = UInt8(truncatingIfNeeded: generator.next()) }
            let path = dir.path + "/f\(i)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            paths.append(path)
            bytesByPath[path] = bytes
        }
        for (algorithm, flag) in [(HashAlgorithm.xxh3_64, "-H3"), (HashAlgorithm.xxh128, "-H2")] {
            let result = try runProcess(xxhsum, [flag] + paths)
            #expect(result.status == 0)
            let theirs = result.stdoutText.split(separator: "\n").map(String.init)
            let ours = paths.map { path in
                xxhsumLine(algorithm: algorithm, digest: algorithm.hexDigest(bytesByPath[path]!), path: path)
            }
            #expect(theirs.count == paths.count)
            for (mine, reference) in zip(ours, theirs) {
                #expect(mine == reference)
            }
        }
    }

    @Test func hex128RoundTrips() {
        let h = XXH128Hash(low64: 0x0123_4567_89AB_CDEF, high64: 0x0FED_CBA9_8765_4321)
        #expect(h.hex == "0fedcba98765432101234567" + "89abcdef")
        #expect(XXH128Hash(hex: h.hex) == h)
        #expect(h.canonicalBytes.prefix(2) == [0x0F, 0xED])
    }
}
