import Foundation

/// The executable code of an AArch64 ELF file, read with the minimum of ELF needed by
/// `kiln coverage`: executable sections (SHF_EXECINSTR), or executable PT_LOAD segments when
/// the file has no section headers.
struct CoverageELF {
    struct CodeRange {
        var name: String
        /// Virtual address of the first byte.
        var address: UInt64
        var bytes: [UInt8]
    }

    enum ReadError: Error, CustomStringConvertible {
        case notELF(String)
        case unsupported(String, String)
        case truncated(String)

        var description: String {
            switch self {
            case .notELF(let p): return "\(p): not an ELF file"
            case .unsupported(let p, let why): return "\(p): \(why)"
            case .truncated(let p): return "\(p): truncated ELF file"
            }
        }
    }

    var path: String
    var ranges: [CodeRange]

    init(path: String) throws {
        self.path = path
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        guard data.count >= 64, data[0] == 0x7f, data[1] == 0x45, data[2] == 0x4c, data[3] == 0x46 else { throw ReadError.notELF(path) }
        guard data[4] == 2, data[5] == 1 else { throw ReadError.unsupported(path, "not a little-endian ELF64 file") }
        func u16(_ o: Int) throws -> UInt64 { try int(o, 2) }
        func u32(_ o: Int) throws -> UInt64 { try int(o, 4) }
        func u64(_ o: Int) throws -> UInt64 { try int(o, 8) }
        func int(_ o: Int, _ n: Int) throws -> UInt64 {
            guard o >= 0, o + n <= data.count else { throw ReadError.truncated(path) }
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(data[o + i]) << UInt64(8 * i) }
            return v
        }
        func slice(_ offset: UInt64, _ size: UInt64) throws -> [UInt8] {
            guard offset <= UInt64(data.count), size <= UInt64(data.count) - offset else { throw ReadError.truncated(path) }
            return Array(data[Int(offset)..<Int(offset + size)])
        }
        guard try u16(18) == 183 else { throw ReadError.unsupported(path, "not an AArch64 ELF file (e_machine \(try u16(18)))") }
        let shoff = try u64(40), shentsize = Int(try u16(58)), shnum = Int(try u16(60)), shstrndx = Int(try u16(62))
        var ranges: [CodeRange] = []
        if shoff != 0 && shnum > 0 && shentsize >= 64 {
            func header(_ i: Int) -> Int { Int(shoff) + i * shentsize }
            let namesOffset = shstrndx < shnum ? try u64(header(shstrndx) + 24) : 0
            for i in 0..<shnum {
                let h = header(i)
                let type = try u32(h + 4), flags = try u64(h + 8)
                guard type == 1, flags & 4 != 0 else { continue }  // SHT_PROGBITS, SHF_EXECINSTR
                var name = ""
                var p = Int(namesOffset) + Int(try u32(h))
                while p < data.count, data[p] != 0 { name.append(Character(UnicodeScalar(data[p]))); p += 1 }
                ranges.append(CodeRange(name: name, address: try u64(h + 16), bytes: try slice(try u64(h + 24), try u64(h + 32))))
            }
        } else {
            let phoff = try u64(32), phentsize = Int(try u16(54)), phnum = Int(try u16(56))
            for i in 0..<phnum {
                let h = Int(phoff) + i * phentsize
                guard try u32(h) == 1, try u32(h + 4) & 1 != 0 else { continue }  // PT_LOAD, PF_X
                ranges.append(CodeRange(name: "segment \(i)", address: try u64(h + 16), bytes: try slice(try u64(h + 8), try u64(h + 32))))
            }
        }
        self.ranges = ranges
    }
}
