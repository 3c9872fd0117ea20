import Foundation
import Testing
import KilnELF
import KilnTestSupport

private let arm64LibC = "/usr/aarch64-linux-gnu/lib/libc.so.6"
private let x86Binary = "/usr/bin/ls"

/// `readelf`'s view of a file, the oracle for the parser.
private struct ReadelfView {
    var loads: [(offset: UInt64, vaddr: UInt64, filesz: UInt64, memsz: UInt64, flags: String)] = []
    var buildID: String?
    var sectionNames: [String] = []

    init(path: String, readelf: String) throws {
        let segments = try runProcess(readelf, ["-lW", path]).stdoutText
        for line in segments.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.first == "LOAD", fields.count >= 8 else { continue }
            func hex(_ s: Substring) -> UInt64 { UInt64(s.dropFirst(2), radix: 16) ?? .max }
            let flags = fields[6..<(fields.count - 1)].joined()
            loads.append((hex(fields[1]), hex(fields[2]), hex(fields[4]), hex(fields[5]), flags))
        }
        let notes = try runProcess(readelf, ["-n", path]).stdoutText
        if let range = notes.range(of: "Build ID: ") {
            buildID = String(notes[range.upperBound...].prefix { $0.isHexDigit })
        }
        let sections = try runProcess(readelf, ["-SW", path]).stdoutText
        for line in sections.split(separator: "\n") {
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]"),
                  Int(line[line.index(after: open)..<close].trimmingCharacters(in: .whitespaces)) != nil else { continue }
            let rest = line[line.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
            sectionNames.append(rest.first.map(String.init) ?? "")
        }
    }
}

private func flagString(_ flags: ELFSegmentFlags) -> String {
    [flags.contains(.read) ? "R" : nil, flags.contains(.write) ? "W" : nil, flags.contains(.execute) ? "E" : nil]
        .compactMap { $0 }.joined()
}

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

@Suite struct ELFFileTests {
    @Test(.enabled(if: TestEnvironment.which("readelf") != nil), arguments: [arm64LibC, x86Binary])
    func matchesReadelf(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let elf = try ELFFile(contentsOfFile: path)
        let oracle = try ReadelfView(path: path, readelf: #require(TestEnvironment.which("readelf")))
        let loads = elf.programHeaders.filter { $0.type == ELFSegmentType.load }
        #expect(loads.count == oracle.loads.count)
        for (ours, theirs) in zip(loads, oracle.loads) {
            #expect(ours.offset == theirs.offset && ours.virtualAddress == theirs.vaddr)
            #expect(ours.fileSize == theirs.filesz && ours.memorySize == theirs.memsz)
            #expect(flagString(ours.flags) == theirs.flags)
        }
        #expect(try elf.buildID().map(hex) == oracle.buildID)
        // readelf prints the type NULL where section 0's (empty) name would be.
        #expect(elf.sectionHeaders.first?.name == "")
        #expect(Array(elf.sectionHeaders.map(\.name).dropFirst()) == Array(oracle.sectionNames.dropFirst()))
        #expect(elf.programHeaders.contains { $0.isExecutableLoad })
    }

    /// Many real files of both machines: LOAD segments, build-id and section names agree with
    /// readelf for every ELF among them, and non-ELF files fail with `badMagic`.
    @Test(.enabled(if: TestEnvironment.which("readelf") != nil))
    func manyRealFilesMatchReadelf() throws {
        let readelf = try #require(TestEnvironment.which("readelf"))
        let fm = FileManager.default
        var paths: [String] = []
        for dir in ["/usr/bin", "/usr/aarch64-linux-gnu/lib"] {
            let names = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            paths += names.prefix(24).map { dir + "/" + $0 }
        }
        var parsed = 0
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let handle = FileHandle(forReadingAtPath: path) else { continue }
            let magic = handle.readData(ofLength: 4)
            try? handle.close()
            guard magic == Data([0x7F, 0x45, 0x4C, 0x46]) else {
                if !magic.isEmpty { #expect(throws: ELFError.badMagic) { try ELFFile(contentsOfFile: path) } }
                continue
            }
            let elf: ELFFile
            do { elf = try ELFFile(contentsOfFile: path) } catch ELFError.unsupportedMachine { continue }
            let oracle = try ReadelfView(path: path, readelf: readelf)
            #expect(elf.programHeaders.filter { $0.type == ELFSegmentType.load }.count == oracle.loads.count, "\(path)")
            #expect(try elf.buildID().map(hex) == oracle.buildID, "\(path)")
            #expect(Array(elf.sectionHeaders.map(\.name).dropFirst()) == Array(oracle.sectionNames.dropFirst()), "\(path)")
            parsed += 1
        }
        #expect(parsed >= 10)
    }

    @Test func arm64LibraryHeader() throws {
        guard FileManager.default.fileExists(atPath: arm64LibC) else { return }
        let elf = try ELFFile(contentsOfFile: arm64LibC)
        #expect(elf.header.machine == .aarch64)
        #expect(elf.header.type == .sharedObject)
        let text = try #require(elf.section(named: ".text"))
        // .text lies inside an executable segment, in the file and in memory.
        #expect(elf.programHeaders.contains {
            $0.isExecutableLoad && $0.offset <= text.offset && text.offset + text.size <= $0.offset + $0.fileSize
        })
        #expect(try elf.fileBytes(of: text).count == Int(text.size))
        #expect(elf.fileOffset(ofVirtualAddress: text.address) == text.offset)
        #expect(elf.loadSegment(containing: text.address)?.isExecutableLoad == true)
        let bss = try #require(elf.section(named: ".bss"))
        #expect(elf.loadSegment(containing: bss.address) != nil)
        #expect(elf.fileOffset(ofVirtualAddress: bss.address + bss.size - 1) == nil)
        #expect(elf.fileOffset(ofVirtualAddress: .max) == nil)
    }

    @Test func x86Header() throws {
        let elf = try ELFFile(contentsOfFile: x86Binary)
        #expect(elf.header.machine == .x86_64)
    }

    /// A small arm64 executable linked without a build-id has none; with one it has the size
    /// the linker was asked for.
    @Test(.enabled(if: TestEnvironment.which("aarch64-linux-gnu-gcc") != nil))
    func buildIDPresenceFollowsLinker() throws {
        let gcc = try #require(TestEnvironment.which("aarch64-linux-gnu-gcc"))
        let dir = NSTemporaryDirectory() + "kiln-elf-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "int main(void){return 7;}\n".write(toFile: dir + "/m.c", atomically: true, encoding: .utf8)
        for (flag, expected) in [("-Wl,--build-id=none", nil), ("-Wl,--build-id=md5", 16), ("-Wl,--build-id=sha1", 20)] as [(String, Int?)] {
            let out = dir + "/m\(expected ?? 0)"
            let result = try runProcess(gcc, ["-O1", flag, "-o", out, dir + "/m.c"])
            #expect(result.status == 0, "\(result.stderrText)")
            let elf = try ELFFile(contentsOfFile: out)
            #expect(elf.header.machine == .aarch64)
            #expect(try elf.buildID()?.count == expected)
        }
    }

    @Test func rejectsNonELF() {
        #expect(throws: ELFError.badMagic) { try ELFFile(bytes: [0x7F, 0x45, 0x4C]) }
        #expect(throws: ELFError.badMagic) { try ELFFile(bytes: Array("#!/bin/sh\n".utf8)) }
        #expect(throws: ELFError.badMagic) { try ELFFile(bytes: []) }
    }

    @Test func rejectsWrongClassEncodingAndMachine() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: x86Binary)).prefix(4096))
        bytes[4] = 1
        #expect(throws: ELFError.unsupportedClass(1)) { try ELFFile(bytes: bytes) }
        bytes[4] = 2; bytes[5] = 2
        #expect(throws: ELFError.unsupportedEncoding(2)) { try ELFFile(bytes: bytes) }
        bytes[5] = 1; bytes[18] = 40; bytes[19] = 0
        #expect(throws: ELFError.unsupportedMachine(40)) { try ELFFile(bytes: bytes) }
    }

    /// Every truncation of the headers, and random byte edits in them, give either a parsed
    /// file or a typed error: never a trap.
    @Test func corruptedHeadersNeverTrap() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: x86Binary)))
        let elf = try ELFFile(bytes: original)
        let tableEnd = Int(elf.header.sectionHeaderOffset) + Int(elf.header.sectionHeaderCount) * 64
        var lengths = Array(stride(from: 0, to: 4096, by: 7))
        lengths += Array(stride(from: max(0, tableEnd - 300), to: tableEnd, by: 1))
        var failures = 0
        for length in lengths {
            do { _ = try ELFFile(bytes: Array(original.prefix(length))).notes() } catch is ELFError { failures += 1 }
        }
        #expect(failures > 0)
        var rng = LinearCongruential(state: 0x454C46)
        for _ in 0..<2000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let region = Bool.random(using: &rng) ? 0..<1024 : max(0, tableEnd - 64 * 40)..<tableEnd
                bytes[Int.random(in: region, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            do {
                let parsed = try ELFFile(bytes: bytes)
                _ = try parsed.notes()
                for segment in parsed.programHeaders where segment.isExecutableLoad { _ = try? parsed.fileBytes(of: segment) }
            } catch is ELFError {
                continue
            }
        }
    }
}

/// A deterministic generator so the corruption test replays identically.
private struct LinearCongruential: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 29)
    }
}
