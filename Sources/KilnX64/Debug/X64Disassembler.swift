#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// Disassembles x86-64 bytes with llvm-objdump (shipped with the Swift toolchain), for golden
/// tests and diagnostics (lockstep reports print a block's host code). llvm-objdump needs an
/// object file, so the bytes are wrapped in a minimal ELF64 relocatable with one .text section.
public enum X64Disassembler {
    public struct Line: Equatable, Sendable {
        public var offset: Int
        public var text: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case toolMissing
        case failed(String)
        public var description: String {
            switch self {
            case .toolMissing: return "llvm-objdump not found in /opt/swift/usr/bin or PATH"
            case .failed(let s): return "llvm-objdump failed: \(s)"
            }
        }
    }

    /// The llvm-objdump to use: the toolchain's, else one on PATH.
    public static var tool: String? {
        let bundled = "/opt/swift/usr/bin/llvm-objdump"
        if FileManager.default.isExecutableFile(atPath: bundled) { return bundled }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/llvm-objdump") {
            return "\(dir)/llvm-objdump"
        }
        return nil
    }

    /// One line per decoded instruction (Intel syntax), with its offset.
    public static func disassemble(_ code: [UInt8]) throws -> [Line] {
        guard let tool else { throw Failure.toolMissing }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("kiln-x64-\(getpid())-\(UInt64.random(in: 0 ... .max)).o").path
        try Data(elf(wrapping: code)).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try ChildProcess(executable: tool, arguments: ["-d", "--no-show-raw-insn", "-M", "intel", path]).run()
        guard result.status == 0, !result.signaled else { throw Failure.failed(String(decoding: result.stderr, as: UTF8.self)) }
        var lines: [Line] = []
        for raw in String(decoding: result.stdout, as: UTF8.self).split(separator: "\n") {
            // "      1f: \tmov\trax, rbx"
            let trimmed = raw.drop(while: { $0 == " " })
            guard let colon = trimmed.firstIndex(of: ":"),
                  let offset = Int(trimmed[..<colon], radix: 16) else { continue }
            let text = trimmed[trimmed.index(after: colon)...]
                .split(whereSeparator: { $0 == "\t" || $0 == " " }).joined(separator: " ")
            guard !text.isEmpty, !text.hasPrefix("<") else { continue }
            // llvm-objdump prints a LOCK prefix as a line of its own.
            if let last = lines.last, last.text == "lock" {
                lines[lines.count - 1].text = "lock " + text
                continue
            }
            lines.append(Line(offset: offset, text: text))
        }
        return lines
    }

    /// ELF64 relocatable: header, .text, .shstrtab, three section headers.
    public static func elf(wrapping code: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
        func u32(_ v: Int) { for i in 0..<4 { out.append(UInt8(v >> (8 * i) & 0xff)) } }
        func u64(_ v: Int) { for i in 0..<8 { out.append(UInt8(v >> (8 * i) & 0xff)) } }
        let names: [UInt8] = Array("\0.text\0.shstrtab\0".utf8)
        let textOffset = 64
        let namesOffset = textOffset + code.count
        var headersOffset = namesOffset + names.count
        headersOffset = (headersOffset + 7) & ~7
        out += [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        u16(1); u16(62); u32(1); u64(0); u64(0); u64(headersOffset)
        u32(0); u16(64); u16(0); u16(0); u16(64); u16(3); u16(2)
        out += code
        out += names
        while out.count < headersOffset { out.append(0) }
        out += [UInt8](repeating: 0, count: 64)
        // .text: SHT_PROGBITS, SHF_ALLOC|SHF_EXECINSTR
        u32(1); u32(1); u64(6); u64(0); u64(textOffset); u64(code.count); u32(0); u32(0); u64(16); u64(0)
        // .shstrtab: SHT_STRTAB
        u32(7); u32(3); u64(0); u64(0); u64(namesOffset); u64(names.count); u32(0); u32(0); u64(1); u64(0)
        return out
    }
}

