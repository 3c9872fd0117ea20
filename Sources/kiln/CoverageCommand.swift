import ArgumentParser
import Dispatch
import KilnA64
import KilnELF
import KilnHost
import KilnIR
import KilnRuntime

/// The executable code of an AArch64 ELF file: its SHF_EXECINSTR sections, or its executable
/// PT_LOAD segments when it has no section headers.
struct CodeRanges {
    struct Range {
        var name: String
        /// Virtual address of the first byte.
        var address: UInt64
        var bytes: [UInt8]
    }

    struct NotAArch64: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path): not an AArch64 ELF file" }
    }

    var path: String
    var ranges: [Range]

    init(path: String) throws {
        self.path = path
        let elf = try ELFFile(contentsOfFile: path)
        guard elf.header.machine == .aarch64 else { throw NotAArch64(path: path) }
        let sectionFlagExecute: UInt64 = 4
        var ranges: [Range] = []
        for section in elf.sectionHeaders where section.type == ELFSectionType.progbits && section.flags & sectionFlagExecute != 0 {
            ranges.append(Range(name: section.name, address: section.address, bytes: Array(try elf.fileBytes(of: section))))
        }
        if elf.sectionHeaders.isEmpty {
            for (i, segment) in elf.programHeaders.enumerated() where segment.isExecutableLoad {
                ranges.append(Range(name: "segment \(i)", address: segment.virtualAddress, bytes: Array(try elf.fileBytes(of: segment))))
            }
        }
        self.ranges = ranges
    }
}

/// `kiln coverage`: how much of a binary's code Kiln can decode and lift.
struct CoverageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "Decode every instruction of ELF files' executable sections and report what Kiln cannot lift.",
        discussion: """
            Counts instructions, valid instructions that are not implemented (by mnemonic, with \
            one example each), unallocated encodings (usually data in text) and instructions of \
            the excluded families (SVE, SME, MTE, MOPS). --bench also measures decode and \
            decode+lift rates on one core.
            """
    )

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(help: "Measure decode and decode+lift throughput (use a release build).")
    var bench = false

    @Argument(help: "AArch64 ELF files.")
    var files: [String]

    struct Example {
        var count = 0
        var address: UInt64 = 0
        var encoding: UInt32 = 0
    }

    struct FileReport {
        var path: String
        var instructions = 0
        var unsupported = 0
        var excluded = 0
        var unallocated = 0
        var unsupportedByMnemonic: [String: Example] = [:]
        var excludedByMnemonic: [String: Example] = [:]
        var unallocatedExamples: [Example] = []
        var decodeRate: Double?
        var liftRate: Double?
    }

    func run() throws {
        var reports: [FileReport] = []
        for path in files {
            let elf = try CodeRanges(path: path)
            var report = Self.measure(elf)
            if bench { Self.benchmark(elf, &report) }
            reports.append(report)
        }
        if json {
            print(Self.json(reports))
        } else {
            for r in reports { print(Self.text(r), terminator: "") }
        }
    }

    static func measure(_ elf: CodeRanges) -> FileReport {
        var report = FileReport(path: elf.path)
        var translator = A64Translator()
        for range in elf.ranges {
            let count = range.bytes.count / 4
            for i in 0..<count {
                let word = UInt32(range.bytes[4 * i]) | UInt32(range.bytes[4 * i + 1]) << 8
                    | UInt32(range.bytes[4 * i + 2]) << 16 | UInt32(range.bytes[4 * i + 3]) << 24
                let address = range.address + UInt64(4 * i)
                report.instructions += 1
                translator.lifter.builder.reset(addressing: .region, startOffset: address)
                do {
                    try translator.lift(word, at: address)
                } catch {
                    switch error.kind {
                    case .unimplemented:
                        report.unsupported += 1
                        record(&report.unsupportedByMnemonic, error.mnemonic, address, word)
                    case .excluded:
                        report.excluded += 1
                        record(&report.excludedByMnemonic, error.mnemonic, address, word)
                    case .unallocated:
                        report.unallocated += 1
                        if report.unallocatedExamples.count < 5 {
                            report.unallocatedExamples.append(Example(count: 1, address: address, encoding: word))
                        }
                    }
                }
            }
        }
        return report
    }

    static func record(_ table: inout [String: Example], _ mnemonic: String, _ address: UInt64, _ word: UInt32) {
        if table[mnemonic] == nil { table[mnemonic] = Example(count: 0, address: address, encoding: word) }
        table[mnemonic]?.count += 1
    }

    /// Decode rate: every word of the executable sections, repeated for about a second.
    /// Decode+lift rate: blocks translated back to back through the sections.
    static func benchmark(_ elf: CodeRanges, _ report: inout FileReport) {
        let decoder = A64Decoder.shared
        var words: [UInt32] = []
        for range in elf.ranges {
            range.bytes.withUnsafeBytes { raw in
                for i in 0..<(raw.count / 4) { words.append(raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            }
        }
        guard !words.isEmpty else { return }
        var checksum: Int64 = 0
        var decoded = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed: UInt64 = 0
        repeat {
            words.withUnsafeBufferPointer { buffer in
                for w in buffer { checksum &+= Int64(decoder.decode(w).index) }
            }
            decoded += words.count
            elapsed = DispatchTime.now().uptimeNanoseconds - start
        } while elapsed < 1_000_000_000
        report.decodeRate = Double(decoded) / (Double(elapsed) / 1e9)

        var translator = A64Translator()
        var lifted = 0
        let liftStart = DispatchTime.now().uptimeNanoseconds
        var liftElapsed: UInt64 = 0
        repeat {
            for range in elf.ranges {
                range.bytes.withUnsafeBytes { code in
                    var offset = range.address
                    let end = range.address + UInt64(code.count & ~3)
                    while offset < end {
                        translator.translate(code: code, codeOffset: range.address, at: offset)
                        let length = UInt64(max(translator.block.guestLength, 4))
                        lifted += Int(length / 4)
                        offset += length
                    }
                }
            }
            liftElapsed = DispatchTime.now().uptimeNanoseconds - liftStart
        } while liftElapsed < 1_000_000_000
        report.liftRate = Double(lifted) / (Double(liftElapsed) / 1e9)
        if checksum == Int64.min { print("") }  // keeps the decode loop observable
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    static func word(_ w: UInt32) -> String {
        let s = String(w, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    static func text(_ r: FileReport) -> String {
        var out = "\(r.path): \(r.instructions) instructions, \(r.unsupported) unsupported, \(r.excluded) excluded, \(r.unallocated) unallocated\n"
        if !r.unsupportedByMnemonic.isEmpty {
            out += "  valid but not implemented:\n"
            let sorted = r.unsupportedByMnemonic.sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.key < $1.key }
            for (m, e) in sorted { out += "    \(m.padded(to: 24)) \(String(e.count).leftPadded(8))  e.g. \(hex(e.address)): \(word(e.encoding))\n" }
        }
        if !r.excludedByMnemonic.isEmpty {
            out += "  excluded families:\n"
            for (m, e) in r.excludedByMnemonic.sorted(by: { $0.key < $1.key }) {
                out += "    \(m.padded(to: 24)) \(String(e.count).leftPadded(8))  e.g. \(hex(e.address)): \(word(e.encoding))\n"
            }
        }
        if !r.unallocatedExamples.isEmpty {
            out += "  unallocated, e.g.: " + r.unallocatedExamples.map { "\(hex($0.address)): \(word($0.encoding))" }.joined(separator: ", ") + "\n"
        }
        if let d = r.decodeRate, let l = r.liftRate {
            out += String(printf: "  decode: %.1f M instr/s, decode+lift: %.1f M instr/s\n", d / 1e6, l / 1e6)
        }
        return out
    }

    /// JSON with keys in a fixed order, so reports diff cleanly.
    static func json(_ reports: [FileReport]) -> String {
        func table(_ t: [String: Example]) -> String {
            "{" + t.sorted { $0.key < $1.key }.map { m, e in
                "\(jsonQuoted(m)): {\"count\": \(e.count), \"example_address\": \"\(hex(e.address))\", \"example_encoding\": \"\(word(e.encoding))\"}"
            }.joined(separator: ", ") + "}"
        }
        let files = reports.map { r -> String in
            var fields = [
                "\"path\": \(jsonQuoted(r.path))",
                "\"instructions\": \(r.instructions)",
                "\"unsupported\": \(r.unsupported)",
                "\"excluded\": \(r.excluded)",
                "\"unallocated\": \(r.unallocated)",
                "\"unsupported_by_mnemonic\": \(table(r.unsupportedByMnemonic))",
                "\"excluded_by_mnemonic\": \(table(r.excludedByMnemonic))",
                "\"unallocated_examples\": [" + r.unallocatedExamples.map { "{\"address\": \"\(hex($0.address))\", \"encoding\": \"\(word($0.encoding))\"}" }.joined(separator: ", ") + "]",
            ]
            if let d = r.decodeRate, let l = r.liftRate {
                fields.append(String(printf: "\"decode_per_second\": %.0f", d))
                fields.append(String(printf: "\"decode_lift_per_second\": %.0f", l))
            }
            return "{" + fields.joined(separator: ", ") + "}"
        }
        return "{\"files\": [" + files.joined(separator: ", ") + "]}"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    /// Spaces added or characters cut to make `width`, as padding(toLength:withPad:startingAt:) did.
    func padded(to width: Int) -> String { count >= width ? String(prefix(width)) : self + String(repeating: " ", count: width - count) }
}
