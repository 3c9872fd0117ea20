import Foundation
import KilnCache
import KilnELF
import KilnTestSupport

/// Cache files built over a real arm64 region: Debian's cross libc. Guest hashes come from its
/// executable bytes; code, relocations and IR are deterministic pseudo-random payloads (the
/// format treats them as opaque).
enum Fixture {
    static let libcPath = "/usr/aarch64-linux-gnu/lib/libc.so.6"

    static let elf: ELFFile = {
        do { return try ELFFile(contentsOfFile: libcPath) } catch { fatalError("fixture \(libcPath): \(error)") }
    }()

    static let image: RegionImage = {
        do { return try RegionImage(elf: elf) } catch { fatalError("region image: \(error)") }
    }()

    static let identity: ContentIdentity = {
        do { return try ContentIdentity.compute(for: elf) } catch { fatalError("identity: \(error)") }
    }()

    static let textSegment: ELFProgramHeader = elf.programHeaders.first { $0.isExecutableLoad }!

    static func configuration(hostFeatures: HostFeatures = [.sse41, .sse42, .popcnt]) -> TranslationConfiguration {
        TranslationConfiguration(hostFeatures: hostFeatures)
    }

    static func key(hostFeatures: HostFeatures = [.sse41, .sse42, .popcnt]) -> CacheKey {
        cacheKey(identity: identity, configuration: configuration(hostFeatures: hostFeatures), baseName: libcPath)
    }

    /// `count` entries at distinct 4-aligned offsets inside libc's executable segment.
    static func entries(count: Int, seed: UInt64, codeSize: ClosedRange<Int> = 8...96) -> [CacheEntryInput] {
        var rng = SplitMix64(seed: seed)
        var offsets = Set<UInt64>()
        let start = textSegment.virtualAddress, span = textSegment.fileSize - 256
        while offsets.count < count { offsets.insert(start + (rng.next() % span) & ~3) }
        return offsets.sorted().map { offset in
            let length = UInt32(4 * (1 + rng.next() % 16))
            let guestHash = image.bytes.withUnsafeBytes {
                XXH3.hash64(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset + UInt64(length))]))
            }
            let code = (0..<Int.random(in: codeSize, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let tableSlots = UInt32(1 + rng.next() % 4)
            let initializers = (0..<tableSlots).map { slot -> CacheSlotInitializer in
                let kind = CacheSlotKind.allCases.randomElement(using: &rng)!
                return CacheSlotInitializer(kind: kind, slot: slot, target: rng.next() % 0x10_0000,
                                            addend: kind == .link ? rng.next() % UInt64(code.count) : 0)
            }
            let references: [CacheTableReference] = code.count < 8 ? [] : (0..<Int(rng.next() % 3)).map { _ in
                let field = UInt32(rng.next() % UInt64(code.count - 4))
                return CacheTableReference(fieldOffset: field, instructionEnd: field + 4, slot: UInt32(rng.next() % UInt64(tableSlots)))
            }
            let ir = (0..<Int(rng.next() % 24)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return CacheEntryInput(guestOffset: offset, guestLength: length, guestHash: guestHash, code: code, tableSlots: tableSlots,
                                   references: references, initializers: initializers, ir: ir,
                                   flags: rng.next() % 2 == 0 ? [] : .fallsThrough)
        }
    }

    static func cacheBytes(count: Int = 24, seed: UInt64 = 1, key: CacheKey = Fixture.key()) -> [UInt8] {
        do { return try CacheFileBuilder.build(key: key, entries: entries(count: count, seed: seed)) } catch {
            fatalError("fixture build: \(error)")
        }
    }

    /// The built `kiln` executable next to the test bundle (SwiftPM builds it with the tests).
    static var kilnExecutable: String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kiln").path,
            TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/kiln").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Writes `bytes` to `path` with `mode`.
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    chmod(path, mode)
}

func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}
