import Foundation
import KilnELF
import KilnTestSupport
import Testing

/// Random mutations of real ELF files: the parser and every table reader must either succeed
/// or throw a typed error, never trap.
@Suite struct ELFFuzzTests {
    /// Real files: the committed arm64 fixture, a dynamic x86-64 host program, and (with the
    /// rootfs) a dynamic arm64 program.
    static var samples: [String] {
        var paths = [TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path, "/bin/ls"]
        let lua = TestEnvironment.rootfsPath + "/usr/bin/lua5.4"
        if FileManager.default.fileExists(atPath: lua) { paths.append(lua) }
        return paths.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    /// Byte ranges worth mutating: the headers and every table the readers parse.
    static func hotRanges(_ elf: ELFFile) -> [Range<Int>] {
        var ranges: [Range<Int>] = [0..<64]
        let ph = Int(elf.header.programHeaderOffset)
        ranges.append(ph..<(ph + Int(elf.header.programHeaderCount) * 56))
        let sh = Int(elf.header.sectionHeaderOffset)
        if sh > 0 { ranges.append(sh..<(sh + Int(elf.header.sectionHeaderCount) * 64)) }
        for p in elf.programHeaders where [ELFSegmentType.dynamic, ELFSegmentType.gnuEHFrame, ELFSegmentType.note].contains(p.type) {
            ranges.append(Int(p.offset)..<Int(p.offset + min(p.fileSize, 4096)))
        }
        return ranges.filter { !$0.isEmpty }
    }

    /// Parses and reads every table; returns true if all succeeded.
    static func exercise(_ bytes: [UInt8]) throws -> Bool {
        let elf = try ELFFile(bytes: bytes)
        _ = try elf.dynamicInfo()
        _ = try elf.symbols()
        _ = try elf.symbols(dynamic: true)
        _ = try elf.relocationTables()
        _ = try elf.ehFrameHeader()
        _ = try elf.buildID()
        return true
    }

    @Test(arguments: samples)
    func mutationsGiveTypedErrors(path: String) throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let elf = try ELFFile(bytes: original)
        #expect(try Self.exercise(original))
        let ranges = Self.hotRanges(elf)
        var random = Random(state: 0x9E37_79B9_7F4A_7C15 ^ UInt64(original.count))
        var failures = 0
        for _ in 0..<1500 {
            var bytes = original
            for _ in 0..<(1 + random.below(4)) {
                let range = ranges[random.below(ranges.count)]
                let index = range.lowerBound + random.below(range.count)
                guard index < bytes.count else { continue }
                switch random.below(4) {
                case 0: bytes[index] ^= UInt8(1 << random.below(8))
                case 1: bytes[index] = 0xff
                case 2: bytes[index] = 0
                default: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            if random.below(8) == 0 { bytes.removeLast(random.below(bytes.count)) }
            do {
                _ = try Self.exercise(bytes)
            } catch is ELFError {
                failures += 1
            } catch is ELFTableError {
                failures += 1
            } catch {
                Issue.record("untyped error \(error)")
            }
        }
        #expect(failures > 0, "mutations never produced an error: the fuzzer is not reaching the parser")
    }

    @Test func dynamicSectionOfHostProgram() throws {
        let elf = try ELFFile(contentsOfFile: "/bin/ls")
        let info = try #require(try elf.dynamicInfo())
        #expect(info.needed.contains("libc.so.6"))
        #expect(!info.hasTextRelocations)
        #expect(try elf.symbols(dynamic: true).contains { $0.isFunction && !$0.isDefined })
        #expect(try elf.relocationTables().contains { !$0.relocations.isEmpty })
        let eh = try #require(try elf.ehFrameHeader())
        #expect(!eh.table.isEmpty)
        #expect(eh.table.map(\.location) == eh.table.map(\.location).sorted())
    }

    @Test func staticFixtureHasNoDynamicSection() throws {
        let elf = try ELFFile(contentsOfFile: TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path)
        #expect(try elf.dynamicInfo() == nil)
    }
}
