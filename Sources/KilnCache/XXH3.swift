// XXH3-64 and XXH3-128 (xxHash 0.8 family), one-shot over a contiguous buffer.
//
// Follows the algorithm as the reference implementation (xxhash.h) defines it; checked against
// the reference's sanity vectors and Debian's `xxhsum` in the tests. The long-input loop uses
// 128-bit SIMD lanes (SSE2 on x86-64, the baseline every host has) so the hot path runs at
// memory-bandwidth speed in release builds.

/// A 128-bit XXH3 hash. `high64` comes first in the canonical (printed) form.
public struct XXH128Hash: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var low64: UInt64
    public var high64: UInt64

    public init(low64: UInt64, high64: UInt64) {
        self.low64 = low64
        self.high64 = high64
    }

    /// The canonical big-endian 16-byte form, as `xxhsum -H2` prints it.
    public var canonicalBytes: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            bytes[i] = UInt8(truncatingIfNeeded: high64 >> (56 - 8 * UInt64(i)))
            bytes[8 + i] = UInt8(truncatingIfNeeded: low64 >> (56 - 8 * UInt64(i)))
        }
        return bytes
    }

    /// 32 lowercase hex digits in canonical order.
    public var hex: String { hex64(high64) + hex64(low64) }

    public var description: String { hex }

    public static func < (a: XXH128Hash, b: XXH128Hash) -> Bool {
        (a.high64, a.low64) < (b.high64, b.low64)
    }

    /// Parses 32 hex digits in canonical order.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 32,
              let high = UInt64(hex.prefix(16), radix: 16),
              let low = UInt64(hex.suffix(16), radix: 16) else { return nil }
        self.init(low64: low, high64: high)
    }
}

/// 16 lowercase hex digits, zero-padded.
@inlinable
public func hex64(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// XXH3 hash functions.
public enum XXH3 {
    /// XXH3-64 of `bytes` with `seed` (0 is what `xxhsum -H3` uses).
    public static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return XXH3Core.empty64(seed: seed)
        }
        return XXH3Core.hash64(base, bytes.count, seed: seed)
    }

    /// XXH3-128 of `bytes` with `seed` (0 is what `xxhsum -H2` uses).
    public static func hash128(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> XXH128Hash {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return XXH3Core.empty128(seed: seed)
        }
        return XXH3Core.hash128(base, bytes.count, seed: seed)
    }

    /// XXH3-64 of a byte array.
    public static func hash64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash64($0, seed: seed) }
    }

    /// XXH3-128 of a byte array.
    public static func hash128(_ bytes: [UInt8], seed: UInt64 = 0) -> XXH128Hash {
        bytes.withUnsafeBytes { hash128($0, seed: seed) }
    }
}

@usableFromInline
enum XXH3Core {
    static let prime32_1: UInt64 = 0x9E37_79B1
    static let prime32_2: UInt64 = 0x85EB_CA77
    static let prime32_3: UInt64 = 0xC2B2_AE3D
    static let prime64_1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime64_2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime64_3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime64_4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime64_5: UInt64 = 0x27D4_EB2F_1656_67C5
    static let primeMX1: UInt64 = 0x1656_6791_9E37_79F9
    static let primeMX2: UInt64 = 0x9FB2_1C65_1E98_DF25

    static let secretSize = 192
    static let secretSizeMin = 136
    static let stripeLength = 64
    static let secretConsumeRate = 8
    static let midSizeMax = 240
    static let midSizeStartOffset = 3
    static let midSizeLastOffset = 17
    static let secretLastAccStart = 7
    static let secretMergeAccsStart = 11

    /// The default 192-byte secret, kept in one permanent allocation so the hot paths read it
    /// through a plain pointer (no array bounds checks or retain traffic).
    nonisolated(unsafe) static let defaultSecret: UnsafeRawPointer = {
        let bytes: [UInt8] = [
            0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
            0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
            0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
            0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
            0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
            0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
            0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
            0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
            0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
            0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
            0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
            0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
        ]
        let storage = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return UnsafeRawPointer(storage)
    }()

    // MARK: primitives

    @inline(__always) static func read64(_ p: UnsafeRawPointer, _ offset: Int = 0) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always) static func read32(_ p: UnsafeRawPointer, _ offset: Int = 0) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) static func rotl64(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) static func rotl32(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }

    @inline(__always) static func mult64to128(_ a: UInt64, _ b: UInt64) -> (low: UInt64, high: UInt64) {
        let product = a.multipliedFullWidth(by: b)
        return (product.low, product.high)
    }

    @inline(__always) static func mul128fold64(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.low ^ product.high
    }

    @inline(__always) static func xorshift(_ v: UInt64, _ shift: UInt64) -> UInt64 { v ^ (v >> shift) }

    @inline(__always) static func xxh64Avalanche(_ h: UInt64) -> UInt64 {
        var h = h
        h ^= h >> 33
        h &*= prime64_2
        h ^= h >> 29
        h &*= prime64_3
        h ^= h >> 32
        return h
    }

    @inline(__always) static func avalanche(_ h: UInt64) -> UInt64 {
        var h = xorshift(h, 37)
        h &*= primeMX1
        return xorshift(h, 32)
    }

    @inline(__always) static func rrmxmx(_ h: UInt64, _ length: UInt64) -> UInt64 {
        var h = h
        h ^= rotl64(h, 49) ^ rotl64(h, 24)
        h &*= primeMX2
        h ^= (h >> 35) &+ length
        h &*= primeMX2
        return xorshift(h, 28)
    }

    @inline(__always) static func mix16B(_ input: UnsafeRawPointer, _ secret: UnsafeRawPointer, _ seed: UInt64) -> UInt64 {
        mul128fold64(read64(input) ^ (read64(secret) &+ seed), read64(input, 8) ^ (read64(secret, 8) &- seed))
    }

    // MARK: 64-bit

    static func empty64(seed: UInt64) -> UInt64 {
        xxh64Avalanche(seed ^ (read64(defaultSecret, 56) ^ read64(defaultSecret, 64)))
    }

    @usableFromInline
    static func hash64(_ input: UnsafeRawPointer, _ length: Int, seed: UInt64) -> UInt64 {
        let secret = defaultSecret
        if length <= 16 { return short64(input, length, secret, seed) }
        if length <= 128 { return len17to128x64(input, length, secret, seed) }
        if length <= midSizeMax { return len129to240x64(input, length, secret, seed) }
        return withLongSecret(seed: seed) { secret in
            var acc = Accumulators()
            acc.consumeLong(input, length, secret, secretSize)
            return acc.merge(secret + secretMergeAccsStart, UInt64(truncatingIfNeeded: length) &* prime64_1)
        }
    }

    @inline(__always)
    static func short64(_ input: UnsafeRawPointer, _ length: Int, _ secret: UnsafeRawPointer, _ seed: UInt64) -> UInt64 {
        let len = UInt64(truncatingIfNeeded: length)
        if length > 8 {
            let bitflip1 = (read64(secret, 24) ^ read64(secret, 32)) &+ seed
            let bitflip2 = (read64(secret, 40) ^ read64(secret, 48)) &- seed
            let inputLo = read64(input) ^ bitflip1
            let inputHi = read64(input, length - 8) ^ bitflip2
            let acc = len &+ inputLo.byteSwapped &+ inputHi &+ mul128fold64(inputLo, inputHi)
            return avalanche(acc)
        }
        if length >= 4 {
            let seed2 = seed ^ (UInt64(UInt32(truncatingIfNeeded: seed).byteSwapped) << 32)
            let input1 = UInt64(read32(input))
            let input2 = UInt64(read32(input, length - 4))
            let bitflip = (read64(secret, 8) ^ read64(secret, 16)) &- seed2
            let input64 = input2 &+ (input1 << 32)
            return rrmxmx(input64 ^ bitflip, len)
        }
        if length > 0 {
            let bytes = input.assumingMemoryBound(to: UInt8.self)
            let c1 = UInt32(bytes[0]), c2 = UInt32(bytes[length >> 1]), c3 = UInt32(bytes[length - 1])
            let combined = (c1 << 16) | (c2 << 24) | c3 | (UInt32(length) << 8)
            let bitflip = UInt64(read32(secret) ^ read32(secret, 4)) &+ seed
            return xxh64Avalanche(UInt64(combined) ^ bitflip)
        }
        return xxh64Avalanche(seed ^ (read64(secret, 56) ^ read64(secret, 64)))
    }

    static func len17to128x64(_ input: UnsafeRawPointer, _ length: Int, _ secret: UnsafeRawPointer, _ seed: UInt64) -> UInt64 {
        var acc = UInt64(length) &* prime64_1
        if length > 32 {
            if length > 64 {
                if length > 96 {
                    acc &+= mix16B(input + 48, secret + 96, seed)
                    acc &+= mix16B(input + length - 64, secret + 112, seed)
                }
                acc &+= mix16B(input + 32, secret + 64, seed)
                acc &+= mix16B(input + length - 48, secret + 80, seed)
            }
            acc &+= mix16B(input + 16, secret + 32, seed)
            acc &+= mix16B(input + length - 32, secret + 48, seed)
        }
        acc &+= mix16B(input, secret, seed)
        acc &+= mix16B(input + length - 16, secret + 16, seed)
        return avalanche(acc)
    }

    static func len129to240x64(_ input: UnsafeRawPointer, _ length: Int, _ secret: UnsafeRawPointer, _ seed: UInt64) -> UInt64 {
        var acc = UInt64(length) &* prime64_1
        for i in 0..<8 {
            acc &+= mix16B(input + 16 * i, secret + 16 * i, seed)
        }
        var accEnd = mix16B(input + length - 16, secret + secretSizeMin - midSizeLastOffset, seed)
        acc = avalanche(acc)
        let rounds = length / 16
        var i = 8
        while i < rounds {
            accEnd &+= mix16B(input + 16 * i, secret + 16 * (i - 8) + midSizeStartOffset, seed)
            i += 1
        }
        return avalanche(acc &+ accEnd)
    }

    // MARK: 128-bit

    static func empty128(seed: UInt64) -> XXH128Hash {
        let s = defaultSecret
        return XXH128Hash(
            low64: xxh64Avalanche(seed ^ (read64(s, 64) ^ read64(s, 72))),
            high64: xxh64Avalanche(seed ^ (read64(s, 80) ^ read64(s, 88))))
    }

    @usableFromInline
    static func hash128(_ input: UnsafeRawPointer, _ length: Int, seed: UInt64) -> XXH128Hash {
        let secret = defaultSecret
        if length <= 16 { return short128(input, length, secret, seed) }
        if length <= 128 { return len17to128x128(input, length, secret, seed) }
        if length <= midSizeMax { return len129to240x128(input, length, secret, seed) }
        return withLongSecret(seed: seed) { secret in
            var acc = Accumulators()
            acc.consumeLong(input, length, secret, secretSize)
            let len = UInt64(truncatingIfNeeded: length)
            return XXH128Hash(
                low64: acc.merge(secret + secretMergeAccsStart, len &* prime64_1),
                high64: acc.merge(secret + secretSize - 64 - secretMergeAccsStart, ~(len &* prime64_2)))
        }
    }

    static func short128(_ input: UnsafeRawPointer, _ length: Int, _ secret: UnsafeRawPointer, _ seed: UInt64) -> XXH128Hash {
        let len = UInt64(truncatingIfNeeded: length)
        if length > 8 {
            let bitflipl = (read64(secret, 32) ^ read64(secret, 40)) &- seed
            let bitfliph = (read64(secret, 48) ^ read64(secret, 56)) &+ seed
            let inputLo = read64(input)
            var inputHi = read64(input, length - 8)
            var m = mult64to128(inputLo ^ inputHi ^ bitflipl, prime64_1)
            m.low &+= (len &- 1) << 54
            inputHi ^= bitfliph
            m.high &+= inputHi &+ (UInt64(UInt32(truncatingIfNeeded: inputHi)) &* (prime32_2 &- 1))
            m.low ^= m.high.byteSwapped
            var h = mult64to128(m.low, prime64_2)
            h.high &+= m.high &* prime64_2
            return XXH128Hash(low64: avalanche(h.low), high64: avalanche(h.high))
        }
        if length >= 4 {
            let seed2 = seed ^ (UInt64(UInt32(truncatingIfNeeded: seed).byteSwapped) << 32)
            let inputLo = UInt64(read32(input))
            let inputHi = UInt64(read32(input, length - 4))
            let input64 = inputLo &+ (inputHi << 32)
            let bitflip = (read64(secret, 16) ^ read64(secret, 24)) &+ seed2
            var m = mult64to128(input64 ^ bitflip, prime64_1 &+ (len << 2))
            m.high &+= m.low << 1
            m.low ^= m.high >> 3
            m.low = xorshift(m.low, 35)
            m.low &*= primeMX2
            m.low = xorshift(m.low, 28)
            return XXH128Hash(low64: m.low, high64: avalanche(m.high))
        }
        if length > 0 {
            let bytes = input.assumingMemoryBound(to: UInt8.self)
            let c1 = UInt32(bytes[0]), c2 = UInt32(bytes[length >> 1]), c3 = UInt32(bytes[length - 1])
            let combinedl = (c1 << 16) | (c2 << 24) | c3 | (UInt32(length) << 8)
            let combinedh = rotl32(combinedl.byteSwapped, 13)
            let bitflipl = UInt64(read32(secret) ^ read32(secret, 4)) &+ seed
            let bitfliph = UInt64(read32(secret, 8) ^ read32(secret, 12)) &- seed
            return XXH128Hash(
                low64: xxh64Avalanche(UInt64(combinedl) ^ bitflipl),
                high64: xxh64Avalanche(UInt64(combinedh) ^ bitfliph))
        }
        return XXH128Hash(
            low64: xxh64Avalanche(seed ^ (read64(secret, 64) ^ read64(secret, 72))),
            high64: xxh64Avalanche(seed ^ (read64(secret, 80) ^ read64(secret, 88))))
    }

    @inline(__always)
    static func mix32B(
        _ acc: inout (low: UInt64, high: UInt64), _ input1: UnsafeRawPointer, _ input2: UnsafeRawPointer,
        _ secret: UnsafeRawPointer, _ seed: UInt64
    ) {
        acc.low &+= mix16B(input1, secret, seed)
        acc.low ^= read64(input2) &+ read64(input2, 8)
        acc.high &+= mix16B(input2, secret + 16, seed)
        acc.high ^= read64(input1) &+ read64(input1, 8)
    }

    @inline(__always)
    static func finish128(_ acc: (low: UInt64, high: UInt64), _ length: Int, _ seed: UInt64) -> XXH128Hash {
        let low = acc.low &+ acc.high
        let high = (acc.low &* prime64_1) &+ (acc.high &* prime64_4) &+ ((UInt64(length) &- seed) &* prime64_2)
        return XXH128Hash(low64: avalanche(low), high64: 0 &- avalanche(high))
    }

    static func len17to128x128(_ input: UnsafeRawPointer, _ length: Int, _ secret: UnsafeRawPointer, _ seed: UInt64) -> XXH128Hash {
        var acc: (low: UInt64, high: UInt64) = (UInt64(length) &* prime64_1, 0)
        if length > 32 {
            if length > 64 {
                if length > 96 {
                    mix32B(&acc, input + 48, input + length - 64, secret + 96, seed)
                }
                mix32B(&acc, input + 32, input + length - 48, secret + 64, seed)
            }
            mix32B(&acc, input + 16, input + length - 32, secret + 32, seed)
        }
        mix32B(&acc, input, input + length - 16, secret, seed)
        return finish128(acc, length, seed)
    }

    static func len129to240x128(_ input: UnsafeRawPointer, _ length: Int, _ secret: UnsafeRawPointer, _ seed: UInt64) -> XXH128Hash {
        var acc: (low: UInt64, high: UInt64) = (UInt64(length) &* prime64_1, 0)
        var i = 32
        while i < 160 {
            mix32B(&acc, input + i - 32, input + i - 16, secret + i - 32, seed)
            i += 32
        }
        acc.low = avalanche(acc.low)
        acc.high = avalanche(acc.high)
        i = 160
        while i <= length {
            mix32B(&acc, input + i - 32, input + i - 16, secret + midSizeStartOffset + i - 160, seed)
            i += 32
        }
        mix32B(&acc, input + length - 16, input + length - 32,
               secret + secretSizeMin - midSizeLastOffset - 16, 0 &- seed)
        return finish128(acc, length, seed)
    }

    // MARK: long inputs

    /// Runs `body` with the secret for `seed`: the default one for seed 0, else one derived
    /// from it on the stack.
    @inline(__always)
    static func withLongSecret<R>(seed: UInt64, _ body: (UnsafeRawPointer) -> R) -> R {
        if seed == 0 { return body(defaultSecret) }
        return withUnsafeTemporaryAllocation(byteCount: secretSize, alignment: 16) { custom in
            let out = custom.baseAddress!
            for i in 0..<(secretSize / 16) {
                out.storeBytes(of: (read64(defaultSecret, 16 * i) &+ seed).littleEndian,
                               toByteOffset: 16 * i, as: UInt64.self)
                out.storeBytes(of: (read64(defaultSecret, 16 * i + 8) &- seed).littleEndian,
                               toByteOffset: 16 * i + 8, as: UInt64.self)
            }
            return body(UnsafeRawPointer(out))
        }
    }

    /// The eight 64-bit accumulators of the long-input loop, held as four 128-bit vectors so
    /// the compiler keeps them in SSE registers and uses PMULUDQ for the 32x32->64 products.
    /// Vector loads are native-endian; Kiln hosts (x86-64) are little-endian like the format.
    struct Accumulators {
        var a0 = SIMD2<UInt64>(UInt64(0xC2B2_AE3D), 0x9E37_79B1_85EB_CA87)
        var a1 = SIMD2<UInt64>(0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9)
        var a2 = SIMD2<UInt64>(0x85EB_CA77_C2B2_AE63, UInt64(0x85EB_CA77))
        var a3 = SIMD2<UInt64>(0x27D4_EB2F_1656_67C5, UInt64(0x9E37_79B1))

        @inline(__always)
        static func lane(_ acc: inout SIMD2<UInt64>, _ input: UnsafeRawPointer, _ secret: UnsafeRawPointer) {
            let data = input.loadUnaligned(as: SIMD2<UInt64>.self)
            let key = data ^ secret.loadUnaligned(as: SIMD2<UInt64>.self)
            let low32 = SIMD2<UInt64>(repeating: 0xFFFF_FFFF)
            acc &+= SIMD2<UInt64>(data[1], data[0])
            acc &+= (key & low32) &* (key &>> 32)
        }

        /// One 64-byte stripe.
        @inline(__always)
        mutating func accumulate512(_ input: UnsafeRawPointer, _ secret: UnsafeRawPointer) {
            Accumulators.lane(&a0, input, secret)
            Accumulators.lane(&a1, input + 16, secret + 16)
            Accumulators.lane(&a2, input + 32, secret + 32)
            Accumulators.lane(&a3, input + 48, secret + 48)
        }

        @inline(__always)
        static func scrambleLane(_ acc: inout SIMD2<UInt64>, _ secret: UnsafeRawPointer) {
            let key = secret.loadUnaligned(as: SIMD2<UInt64>.self)
            var value = acc ^ (acc &>> 47)
            value ^= key
            acc = value &* SIMD2<UInt64>(repeating: XXH3Core.prime32_1)
        }

        @inline(__always)
        mutating func scramble(_ secret: UnsafeRawPointer) {
            Accumulators.scrambleLane(&a0, secret)
            Accumulators.scrambleLane(&a1, secret + 16)
            Accumulators.scrambleLane(&a2, secret + 32)
            Accumulators.scrambleLane(&a3, secret + 48)
        }

        @inline(__always)
        mutating func accumulate(_ input: UnsafeRawPointer, _ secret: UnsafeRawPointer, stripes: Int) {
            var n = 0
            while n < stripes {
                accumulate512(input + n &* 64, secret + n &* 8)
                n &+= 1
            }
        }

        mutating func consumeLong(_ input: UnsafeRawPointer, _ length: Int, _ secret: UnsafeRawPointer, _ secretLength: Int) {
            let stripesPerBlock = (secretLength - 64) / 8
            let blockLength = 64 * stripesPerBlock
            let blocks = (length - 1) / blockLength
            var n = 0
            while n < blocks {
                accumulate(input + n &* blockLength, secret, stripes: stripesPerBlock)
                scramble(secret + secretLength - 64)
                n &+= 1
            }
            let stripes = ((length - 1) - blockLength * blocks) / 64
            accumulate(input + blocks * blockLength, secret, stripes: stripes)
            accumulate512(input + length - 64, secret + secretLength - 64 - XXH3Core.secretLastAccStart)
        }

        func merge(_ secret: UnsafeRawPointer, _ start: UInt64) -> UInt64 {
            @inline(__always) func mix(_ lane: SIMD2<UInt64>, _ offset: Int) -> UInt64 {
                XXH3Core.mul128fold64(lane[0] ^ XXH3Core.read64(secret, offset),
                                      lane[1] ^ XXH3Core.read64(secret, offset + 8))
            }
            let result = start &+ mix(a0, 0) &+ mix(a1, 16) &+ mix(a2, 32) &+ mix(a3, 48)
            return XXH3Core.avalanche(result)
        }
    }
}
