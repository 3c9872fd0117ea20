import Foundation
import Testing
import KilnELF
import KilnIR
import KilnA64
import KilnTestSupport

/// Real AArch64 code: every block of a library's executable sections must translate to IR that
/// verifies and serializes deterministically, and nothing outside the excluded families may be
/// left unimplemented.
struct RealCodeTests {
    static let crossLibc = "/usr/aarch64-linux-gnu/lib/libc.so.6"

    static func translateAll(_ path: String) throws -> (instructions: Int, traps: [String]) {
        let elf = try ELFFile(contentsOfFile: path)
        var translator = A64Translator()
        var instructions = 0
        var traps: [String] = []
        for section in elf.sectionHeaders where section.type == ELFSectionType.progbits && section.flags & 4 != 0 {
            let bytes = try elf.fileBytes(of: section)
            var offset = section.address
            let end = section.address + UInt64(bytes.count & ~3)
            while offset < end {
                translator.translate(code: bytes, codeOffset: section.address, at: offset)
                let block = translator.block
                try IRVerifier.verify(block)
                let serialized = IRFormat.serialize(block)
                var position = 0
                #expect(try IRFormat.deserialize(serialized, offset: &position) == block)
                if block.exit.kind == .trap && (block.exit.trap == .unimplemented || block.exit.trap == .unallocated) {
                    var probe = A64Translator()
                    do { try probe.lift(block.exit.info, at: offset) } catch {
                        if error.kind != .excluded { traps.append(error.description) }
                    }
                }
                let length = UInt64(max(block.guestLength, 4))
                instructions += Int(length / 4)
                offset += length
            }
        }
        return (instructions, traps)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: crossLibc)))
    func crossLibcTranslatesCompletely() throws {
        let (count, traps) = try Self.translateAll(Self.crossLibc)
        #expect(count > 200_000)
        #expect(traps.isEmpty, "\(traps.prefix(5))")
    }

    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled))
    func debianBinariesTranslateCompletely() throws {
        let root = TestEnvironment.rootfsPath
        let lib = root + "/usr/lib/aarch64-linux-gnu"
        for path in [lib + "/libc.so.6", root + "/lib/ld-linux-aarch64.so.1", root + "/usr/bin/python3.11",
                     root + "/usr/bin/lua5.4", root + "/usr/bin/sqlite3", root + "/usr/bin/busybox",
                     root + "/usr/bin/xz", root + "/usr/bin/perl", lib + "/libstdc++.so.6"] {
            let (_, traps) = try Self.translateAll(path)
            #expect(traps.isEmpty, "\(path): \(traps.prefix(5))")
        }
    }

    @Test func translationIsDeterministicAndPositionIndependent() throws {
        // Two translators give identical bytes, and no PC-relative value (ADRP, literal
        // address, link address) appears as an absolute constant.
        let words: [UInt32] = [0x9000_0001, 0x5800_0040, 0x9400_0010, 0xd65f_03c0]  // adrp, ldr literal, bl, ret
        var bytes: [UInt8] = []
        for w in words { withUnsafeBytes(of: w.littleEndian) { bytes.append(contentsOf: $0) } }
        var a = A64Translator(), b = A64Translator()
        let first = bytes.withUnsafeBytes { code -> [UInt8] in
            a.translate(code: code, codeOffset: 0x4000, at: 0x4000)
            return IRFormat.serialize(a.block)
        }
        let second = bytes.withUnsafeBytes { code -> [UInt8] in
            b.translate(code: code, codeOffset: 0x4000, at: 0x4000)
            return IRFormat.serialize(b.block)
        }
        #expect(first == second)
        #expect(!a.block.instructions.contains { $0.op == .const && $0.imm >= 0x4000 })
        #expect(a.block.instructions.filter { $0.op == .regionAddress }.count == 3)
    }
}
