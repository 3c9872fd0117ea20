import Testing
import KilnIR
import KilnTestSupport
import KilnA64

/// AES and SHA instructions against unicorn: results recorded by running each encoding (from
/// aarch64-linux-gnu-as) on random v1, v2, v3 in unicorn's "max" CPU. The vector files carry no
/// crypto classes, so these live here.
struct CryptoTests {
    static let cases: [(word: UInt32, v1: V128, v2: V128, v3: V128, expected: V128)] = [
        (0x4e284841, V128(lo: 0xf2a74de452e6b438, hi: 0x6513270e269e0d37), V128(lo: 0x0c5c7fd0a6a3a450, hi: 0xd23f0824128b2f33), V128(lo: 0x1818e811892f902b, hi: 0x9531985d5d9dc9f8), V128(lo: 0xbf719318a9592345, hi: 0x180fcae5bb6e15f2)),  // aese v1.16b, v2.16b
        (0x4e284841, V128(lo: 0xe8e25d940ed90475, hi: 0x36f675cc81e74ef5), V128(lo: 0x1600a35a099950d8, hi: 0x6b0d549b6f03675a), V128(lo: 0x3d9c172411e20b8f, hi: 0x8d116ece1738f7d9), V128(lo: 0xc50fa58b4c69bb95, hi: 0x2898205bbb09fd79)),  // aese v1.16b, v2.16b
        (0x4e284841, V128(lo: 0x0f21ddb66cad4a26, hi: 0x90c192cfd3ac94af), V128(lo: 0xf28c105d1fb17c23, hi: 0xa170b33839263059), V128(lo: 0x953f48f1a09f76b5, hi: 0x0fd630f1f29d0da9), V128(lo: 0x8fc849e9c77ebd6b, hi: 0x87950568549cfd42)),  // aese v1.16b, v2.16b
        (0x4e285841, V128(lo: 0x95e60af593bd04cf, hi: 0x0cb1e29c658cda14), V128(lo: 0x3898d190f9ebdacc, hi: 0x8e81973e0becd7b0), V128(lo: 0x2217beaddbc496cb, hi: 0x6b4cb2424a23d596), V128(lo: 0x45089cbc18903fd5, hi: 0x588af31a11b99f1d)),  // aesd v1.16b, v2.16b
        (0x4e285841, V128(lo: 0x8a6a63ec24ede6a4, hi: 0x922766581e27a1c0), V128(lo: 0x8f6d05584ef8aa38, hi: 0xae97ba94d0eda82f), V128(lo: 0x1a61dbe22e44158b, hi: 0x923a736994e3bf91), V128(lo: 0xecfc5dc63610931c, hi: 0x583840276d2fd361)),  // aesd v1.16b, v2.16b
        (0x4e285841, V128(lo: 0x301850c5a38fd547, hi: 0x18f135d25f557203), V128(lo: 0xb64ce4228c38fb29, hi: 0x907a70c31012f037), V128(lo: 0x9e7769b10f4205b4, hi: 0x7f15052434b9b5df), V128(lo: 0x92cec3b0dc166845, hi: 0x4efd11e39720c628)),  // aesd v1.16b, v2.16b
        (0x4e286841, V128(lo: 0x881ed162ae2eb154, hi: 0xc6f877186d76b07e), V128(lo: 0x7731af10506bf2ef, hi: 0xec66a78795e761d1), V128(lo: 0x5c90a9587403e430, hi: 0x3f98e2774cbd87ad), V128(lo: 0x4044718c133bfdf3, hi: 0x90c3946ddfc1b468)),  // aesmc v1.16b, v2.16b
        (0x4e286841, V128(lo: 0x2e05319acb5c7427, hi: 0xc7a2ea20b2f14c94), V128(lo: 0x14f4733f3e7d1bfb, hi: 0x4cdd2055930d6eaf), V128(lo: 0x7ebff20686734721, hi: 0x57ee05cde00902c7), V128(lo: 0xee83ca0b0c587483, hi: 0x9a00255bb475f769)),  // aesmc v1.16b, v2.16b
        (0x4e286841, V128(lo: 0x72e6cc3ababced20, hi: 0x9be4bcfc49b64a08), V128(lo: 0x12bd4acefaecbd38, hi: 0x830e07bc1e398f10), V128(lo: 0x2a3af4d46b0a18e8, hi: 0x5790f82ec1d3fcff), V128(lo: 0x9ad394f6f6538cba, hi: 0xcb3923e7bacf408d)),  // aesmc v1.16b, v2.16b
        (0x4e287841, V128(lo: 0xeeeacbe226e87555, hi: 0x6bf46c697d2caf82), V128(lo: 0xf646e1f40a097c97, hi: 0x13deef86ab1031d0), V128(lo: 0x8ede0d7ac3baea9e, hi: 0xca02135e92b1d3f2), V128(lo: 0x543912da01a8bcfd, hi: 0x0cd7a3dcbfec9198)),  // aesimc v1.16b, v2.16b
        (0x4e287841, V128(lo: 0xd17f9acae01f5057, hi: 0x571242425051c1cc), V128(lo: 0x59a54a7bb1fee08f, hi: 0x7f26144b98289fcd), V128(lo: 0xcc011cdd9474031b, hi: 0x119a72d174c9df6a), V128(lo: 0xaeec3cb3a984b8b5, hi: 0x960df16c9d594563)),  // aesimc v1.16b, v2.16b
        (0x4e287841, V128(lo: 0x17f5e837d70820fe, hi: 0x451abd81f1d69ed6), V128(lo: 0xb2715945795e8229, hi: 0x10a3d6b2aa05e11a), V128(lo: 0xbb2d420f0f88080b, hi: 0x4f426dcbb394fb36), V128(lo: 0xbb41f5d098576023, hi: 0x4faf3c0b24fec749)),  // aesimc v1.16b, v2.16b
        (0x5e030041, V128(lo: 0x93f448b3a5aa3c81, hi: 0xae658f33fe3b890b), V128(lo: 0x72158370d269a9a5, hi: 0xb774eb5248db40af), V128(lo: 0xe315128862c33a4f, hi: 0x58d5563dab2cd31e), V128(lo: 0xb47676a1b5cbc3a9, hi: 0xea2980caa93d260e)),  // sha1c q1, s2, v3.4s
        (0x5e030041, V128(lo: 0xf0ce583505c6af07, hi: 0x5affb2297631a992), V128(lo: 0x9c6539382b0537e6, hi: 0x7e62aa0a1df9fd78), V128(lo: 0x37dc76fb0f17a300, hi: 0x49952399c4aaeac1), V128(lo: 0x3f9db8e982e96014, hi: 0x9b491977ab671ae1)),  // sha1c q1, s2, v3.4s
        (0x5e030041, V128(lo: 0xbd0561e6211c70cf, hi: 0x65dc9f503f63af83), V128(lo: 0xeab477d26415479c, hi: 0x7f1b103cdf1582b0), V128(lo: 0x2a96fb1a14a0f9e7, hi: 0x66d2287672fdf202), V128(lo: 0xd3041478415d94c0, hi: 0x468786be84e6b635)),  // sha1c q1, s2, v3.4s
        (0x5e031041, V128(lo: 0x4720771f8ca81811, hi: 0x230d977ee2257159), V128(lo: 0x6e36aab0d1bc52d9, hi: 0x8cdb305fdd2e1609), V128(lo: 0xb4d66a3a47469a4d, hi: 0xfc891b4a6a50df4d), V128(lo: 0xf293f195d79f99d9, hi: 0xcd03a023463e620b)),  // sha1p q1, s2, v3.4s
        (0x5e031041, V128(lo: 0xaec6f0245bd86d40, hi: 0x616499c9e25a7605), V128(lo: 0x3b1287fff52ddf5d, hi: 0x153e7c2a26a2c0bd), V128(lo: 0x26bb7dbd2d1c9af0, hi: 0xa8948c893b618676), V128(lo: 0x9f54bf045f5c3650, hi: 0x32d41090e11701ba)),  // sha1p q1, s2, v3.4s
        (0x5e031041, V128(lo: 0x0316909e3bbbe9ea, hi: 0xd4c28c2e7c26847f), V128(lo: 0x2eae05cf96d0cc5f, hi: 0x482c9cbc43435cc5), V128(lo: 0x254b0c4e010c4759, hi: 0x88daf4016b4013ef), V128(lo: 0xfd41d0a6bd190913, hi: 0xaed33a734ac0e701)),  // sha1p q1, s2, v3.4s
        (0x5e032041, V128(lo: 0x9c1caaf75e8766ed, hi: 0x519088f590fbbd11), V128(lo: 0x20203626f3fe39c0, hi: 0xdbf4a8b2b0c4312d), V128(lo: 0xf341e07a83f73f16, hi: 0xa7abe1c29e1a8ef4), V128(lo: 0x5d6b28ad92d1c1c9, hi: 0xb65ebfddd2ae61c1)),  // sha1m q1, s2, v3.4s
        (0x5e032041, V128(lo: 0xbd628881ad1b72db, hi: 0x74e69a5d0dd27a65), V128(lo: 0xdef88334e647cb8f, hi: 0xf3aed0b6c7ac1491), V128(lo: 0xae3a2b7fdfe01893, hi: 0x8f2c6ec8cc4169a3), V128(lo: 0xbc3b36e3b1c26456, hi: 0x29de36774fe59cf4)),  // sha1m q1, s2, v3.4s
        (0x5e032041, V128(lo: 0x65e7e4236472f1a3, hi: 0x64e50cad66237a04), V128(lo: 0x7b45145c1a81682c, hi: 0x66836886a260cd0b), V128(lo: 0x30cbc97d0fef7928, hi: 0xfc132d0d113db17d), V128(lo: 0x6f3f5e9f8ef6a26b, hi: 0x476da0796c3d42f3)),  // sha1m q1, s2, v3.4s
        (0x5e033041, V128(lo: 0x70ccec313571810a, hi: 0x1c2442f9298cb3a5), V128(lo: 0x99c94309570dc195, hi: 0x1a358ca00d75985d), V128(lo: 0x9118bb16000f49c8, hi: 0x895fd7b326b94c7f), V128(lo: 0xfdf015de1cf27b67, hi: 0x0cb2d64358383e4f)),  // sha1su0 v1.4s, v2.4s, v3.4s
        (0x5e033041, V128(lo: 0xf2ee4e4519f9919c, hi: 0x9d1de2a05d158a2f), V128(lo: 0x1200339d068739fa, hi: 0x353c631cdfd43f37), V128(lo: 0x6050914a9d33a01c, hi: 0xa268aa872607679d), V128(lo: 0x0fa33dafd9dfbbaf, hi: 0x2d757bba7d95d448)),  // sha1su0 v1.4s, v2.4s, v3.4s
        (0x5e033041, V128(lo: 0xf4998d7c4093f6de, hi: 0x9a2ef80f58ee8571), V128(lo: 0x7961fd925d39d0a8, hi: 0x1d87cec31f7296ab), V128(lo: 0x7cf20724d953ee26, hi: 0xfa529ba3fe3bfada), V128(lo: 0x12457257c12e9d89, hi: 0x191d9e3efbecaf03)),  // sha1su0 v1.4s, v2.4s, v3.4s
        (0x5e281841, V128(lo: 0x7afb2c68774b15d7, hi: 0x4fd58dbe7bdc968b), V128(lo: 0x24e4e25a15fc899e, hi: 0xbfeaa1551a28f7b3), V128(lo: 0xbd87a86557b6fb7e, hi: 0x7a86f7a243c71b9a), V128(lo: 0xc1a7b7b6a75fef1a, hi: 0xd114c549886c6fbd)),  // sha1su1 v1.4s, v2.4s
        (0x5e281841, V128(lo: 0xb12aa1f6d42fddbb, hi: 0x842e7fc229540a6e), V128(lo: 0x3488f87605e999f3, hi: 0xf3b7a50df373ca53), V128(lo: 0x5c9bcf35873be078, hi: 0xb0a844e52587be6b), V128(lo: 0x84b2d74ac14e4b9b, hi: 0x8ac068b2b5c75ec7)),  // sha1su1 v1.4s, v2.4s
        (0x5e281841, V128(lo: 0xea0575438b0d590b, hi: 0xc215a82a06ec41ad), V128(lo: 0x4c4f9b0687322e25, hi: 0xa49636a2fa7f0eab), V128(lo: 0x174c77a2dd02de92, hi: 0xd86f40f6b239f3c7), V128(lo: 0x20f4f7d08e85841b, hi: 0x9920586244f4ee1f)),  // sha1su1 v1.4s, v2.4s
        (0x5e280841, V128(lo: 0x84b5a81842d87208, hi: 0xe883a1d45de00997), V128(lo: 0x5b0ee76f2ac34446, hi: 0x3908f227c59db916), V128(lo: 0x8aa4248c8857f9a4, hi: 0x80b0c08bc7702420), V128(lo: 0x000000008ab0d111, hi: 0x0000000000000000)),  // sha1h s1, s2
        (0x5e280841, V128(lo: 0xa2eddbbd5464ecc2, hi: 0x9cfc865239194242), V128(lo: 0xc9d488b1cfbf3360, hi: 0xc2216b02fc241d0b), V128(lo: 0x31f51707da45e18a, hi: 0x3d4882a5ce5b2a92), V128(lo: 0x0000000033efccd8, hi: 0x0000000000000000)),  // sha1h s1, s2
        (0x5e280841, V128(lo: 0x66934036d17e4497, hi: 0xcda6c6fdbd685167), V128(lo: 0x332dd3313a0b9965, hi: 0x7e26f36a8483f8b8), V128(lo: 0xbb2313f55b06258e, hi: 0xfd56a926076b3e36), V128(lo: 0x000000004e82e659, hi: 0x0000000000000000)),  // sha1h s1, s2
        (0x5e034041, V128(lo: 0xca44eb860726e25c, hi: 0x78e4b98d4787f93b), V128(lo: 0x3192b70442594052, hi: 0x9aea6429b1491e24), V128(lo: 0x5822cb77f4de2c08, hi: 0xcefe2a1f727d8349), V128(lo: 0xb2d9250a5f8e5798, hi: 0x806192374eaa95d9)),  // sha256h q1, q2, v3.4s
        (0x5e034041, V128(lo: 0xb91ee9e5efe09f07, hi: 0x597a1ecffcf00fec), V128(lo: 0xf979d04af47aebdd, hi: 0x149e259b5d58c705), V128(lo: 0x1a26f88938703800, hi: 0x785729763a12917c), V128(lo: 0x0ed5f5379b763fb2, hi: 0xf74d834a32cc284b)),  // sha256h q1, q2, v3.4s
        (0x5e034041, V128(lo: 0x5675f6ad325b55dd, hi: 0x7b8f2ab53451d013), V128(lo: 0xfc3947249fc2d0a1, hi: 0x9c3a23cde67a9b75), V128(lo: 0x007d1034d726c86b, hi: 0xe8c147437abec539), V128(lo: 0x5b43367235cda33e, hi: 0xa837e384c27871ef)),  // sha256h q1, q2, v3.4s
        (0x5e035041, V128(lo: 0x5810d60ea72991b9, hi: 0xa4a45effccb573d9), V128(lo: 0xd5ab8b4d15b40aeb, hi: 0x1eb20109a91c2439), V128(lo: 0x63771407e8e72789, hi: 0xb6246771c8450070), V128(lo: 0xc5bbec886183fe4a, hi: 0x3a33198064cdcdbf)),  // sha256h2 q1, q2, v3.4s
        (0x5e035041, V128(lo: 0x330698a1c0093492, hi: 0xe39639be7a605a91), V128(lo: 0x6f15b6ad2db3997f, hi: 0xa2c68e45ca04c79f), V128(lo: 0x16353d03551fd8f9, hi: 0xf237e45acd02c5e1), V128(lo: 0x4814abcaedbcaa1c, hi: 0xf39f6811a4e81697)),  // sha256h2 q1, q2, v3.4s
        (0x5e035041, V128(lo: 0xb8c9817af8be8831, hi: 0x7691b06f6555abfe), V128(lo: 0xbe4c5ce666c1494e, hi: 0x15bd448ff26149ed), V128(lo: 0x28aaca51b98c67c2, hi: 0xfe3c9c8f2b855c1f), V128(lo: 0x074c4b6a62ab9a76, hi: 0xa23ef5cbc1e79a45)),  // sha256h2 q1, q2, v3.4s
        (0x5e282841, V128(lo: 0x070d710920859634, hi: 0x973f798626b1cffc), V128(lo: 0x77216e9ee7a46309, hi: 0xa7e6529bce76e9f4), V128(lo: 0x9c9011ef256badf9, hi: 0x988af3fbd39630d6), V128(lo: 0x9671c4d56f338b34, hi: 0xaf3936d4e85a0408)),  // sha256su0 v1.4s, v2.4s
        (0x5e282841, V128(lo: 0x796f74adfaf55496, hi: 0xeffddeeaa842bc19), V128(lo: 0x27e9e06f59b44e92, hi: 0x8c5c715f8c74fc1e), V128(lo: 0x057a40b22188287e, hi: 0xcca2a92b03a56cc1), V128(lo: 0x02ce2d9883e9c2bd, hi: 0x2c1f560c67ddb7b8)),  // sha256su0 v1.4s, v2.4s
        (0x5e282841, V128(lo: 0xb9f3635cf88c422b, hi: 0x1a4f44f9a6511445), V128(lo: 0xbfdefc1586ce03f9, hi: 0x23a5ef88ef02090b), V128(lo: 0xfc8e80b36f0e2289, hi: 0x31dec4f4df2a8b79), V128(lo: 0x948b4c906f26e6fc, hi: 0x7d7982c4c69444ca)),  // sha256su0 v1.4s, v2.4s
        (0x5e036041, V128(lo: 0xdfb85c0dd37ee915, hi: 0x072a98d23606defc), V128(lo: 0x3678bc8d40783f0a, hi: 0x804c25d64affdcd1), V128(lo: 0xc38084a03d93fd4c, hi: 0x537409029620bf0d), V128(lo: 0xb06df7b4523a979d, hi: 0x89bf6b64cf7c92d1)),  // sha256su1 v1.4s, v2.4s, v3.4s
        (0x5e036041, V128(lo: 0x8b5ab3ee4265bb31, hi: 0xd58dcdb46b446806), V128(lo: 0x0f977044218e0b7b, hi: 0xbd6b881ae8f6e0bd), V128(lo: 0xe5cfedfa5a9196f0, hi: 0xa997f351754a09cd), V128(lo: 0x7c3a18b097bf7203, hi: 0x7f70a3c080144714)),  // sha256su1 v1.4s, v2.4s, v3.4s
        (0x5e036041, V128(lo: 0xd0a6ec179556585e, hi: 0x844a7034e77ffe48), V128(lo: 0xd3bf6d016bae4b5b, hi: 0xe0cfab4ceaefc4d2), V128(lo: 0x2179b37d806c10b5, hi: 0x26debfdb8825ae56), V128(lo: 0x43b5f104cbd961dc, hi: 0x4b68c5b96536b463)),  // sha256su1 v1.4s, v2.4s, v3.4s
    ]

    @Test func cryptoInstructionsMatchUnicorn() throws {
        var translator = A64Translator(maxInstructions: 1)
        var interpreter = IRInterpreter()
        for c in Self.cases {
            var word = c.word.littleEndian
            withUnsafeBytes(of: &word) { translator.translate(code: $0, codeOffset: 0, at: 0) }
            #expect(translator.block.exit.kind == .jump, "\(String(c.word, radix: 16)) did not lift")
            try IRVerifier.verify(translator.block)
            let state = GuestCPUState()
            state.setV(1, c.v1)
            state.setV(2, c.v2)
            state.setV(3, c.v3)
            var memory = SparseMemory(bytes: [:])
            _ = try interpreter.run(translator.block, state: state, memory: &memory, regionBase: 0)
            #expect(state.v(1) == c.expected, "\(String(c.word, radix: 16))")
        }
    }
}
