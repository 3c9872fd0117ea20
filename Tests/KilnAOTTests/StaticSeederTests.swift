import Foundation
import Testing
import KilnA64
import KilnCache
import KilnELF
import KilnIR
import KilnTestSupport
@testable import KilnAOT

private func fixture(_ name: String) -> String { TestEnvironment.fixturesBinDirectory.appendingPathComponent(name).path }

/// Seeds plus discovered blocks of a file, as `kiln bake` will compute them.
private func allEntries(_ path: String) throws -> (seeder: StaticSeeder, seeds: SeedSet) {
    let seeder = try StaticSeeder(file: try ELFFile(contentsOfFile: path))
    var seeds = try seeder.seeds()
    BlockDiscovery(image: seeder.image).discover(into: &seeds)
    return (seeder, seeds)
}

/// Debian's arm64 libc from libc6-arm64-cross (installed by .ci/run).
private let crossLibc = "/usr/aarch64-linux-gnu/lib/libc.so.6"
private var crossToolsPresent: Bool { FileManager.default.fileExists(atPath: crossLibc) && TestEnvironment.which("aarch64-linux-gnu-readelf") != nil }

@Suite struct StaticSeederTests {
    /// fixtures/src/hello.S, addresses as aarch64-linux-gnu-objdump shows them.
    @Test func helloBlocksAreExactlyItsControlFlow() throws {
        let (_, seeds) = try allEntries(fixture("hello"))
        // 0x4000f0 (`mov x0, #0` after `b.ne short_write`) is inside the unit at 0x4000e8,
        // whose B.NE is a side exit.
        #expect(seeds.addresses == [0x4000d4, 0x4000e8, 0x4000f8, 0x4000fc])
        #expect(seeds.source(of: 0x4000d4) == .entry)
        #expect(seeds.source(of: 0x4000e8) == .discovered, "return point of the write syscall")
        // The ADR to the message points into .rodata, which shares the executable segment.
        #expect(!seeds.contains(0x400104))
    }

    /// A bake flags the entries indirect branches reach (here the ELF entry point, which the
    /// kernel enters) and not those reached by direct branches only (the return point of the
    /// write syscall, found by following the code).
    @Test func bakedEntriesAreFlaggedWhereIndirectBranchesReachThem() throws {
        let path = NSTemporaryDirectory() + "kiln-aot-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = try CacheDirectory.open(path: path, create: true).get()
        let baker = RegionBaker(store: CacheStore(directory: directory), jobs: 1, seeds: .staticSeeds)
        let result = try baker.bake(hostPath: fixture("hello"), recorded: [])
        let file = try CacheFile.open(path: result.cachePath, expectedKey: nil, hostFeatures: HostFeatures.detect()).get()
        var flagged: [UInt64: Bool] = [:]
        for i in 0..<file.view.entryCount {
            guard case .success(let entry) = file.view.checkEntry(i, guest: nil) else { Issue.record("entry \(i)"); continue }
            flagged[entry.guestOffset] = entry.flags.contains(.indirectTarget)
        }
        #expect(flagged[0x4000d4] == true)
        #expect(flagged[0x4000e8] == false)
    }

    @Test func seedsAreDeterministicAndSorted() throws {
        let first = try allEntries(fixture("math")).seeds
        let second = try allEntries(fixture("math")).seeds
        #expect(first == second)
        #expect(first.addresses == first.addresses.sorted())
        #expect(first.countsBySource.map(\.count).reduce(0, +) == first.count)
    }

    /// Against a real run: the blocks qemu-aarch64 executed in the static, stripped math fixture
    /// (no symbols; printf's computed-goto tables, switch jump tables) are found statically:
    /// each is an entry or the fall-through of a side exit inside one (qemu's blocks end at
    /// every branch; Kiln's units run past conditional ones).
    @Test(.enabled(if: TestEnvironment.which("qemu-aarch64") != nil || TestEnvironment.rootfsRequired))
    func staticSeedsCoverWhatARealRunExecutes() throws {
        let qemu = try #require(TestEnvironment.which("qemu-aarch64"))
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-qemu-exec-\(getpid()).log").path
        defer { unlink(log) }
        let run = try runProcess(qemu, ["-d", "nochain,exec", "-D", log, fixture("math")])
        try #require(run.status == 0)
        let (seeder, seeds) = try allEntries(fixture("math"))
        var executed = Set<UInt64>()
        for line in try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n") {
            // "Trace 0: 0x7f... [0000000001009331/0000000000400570/00000001/00000200]"
            guard let open = line.firstIndex(of: "[") else { continue }
            let fields = line[line.index(after: open)...].split(separator: "/")
            if fields.count > 1, let pc = UInt64(fields[1], radix: 16), seeder.image.containsCode(pc) { executed.insert(pc) }
        }
        try #require(executed.count > 500)
        var translator = A64Translator()
        var fallThroughs = Set<UInt64>()
        for start in seeds.addresses {
            guard let segment = seeder.image.segment(containing: start) else { continue }
            translator.translate(code: segment.bytes, codeOffset: segment.address, at: start)
            var sideExit = false
            for inst in translator.block.instructions {
                if inst.op == .exitIf { sideExit = true }
                if inst.op == .guestInstruction && sideExit { fallThroughs.insert(inst.imm); sideExit = false }
            }
        }
        let missed = executed.filter { !seeds.contains($0) && !fallThroughs.contains($0) }.sorted()
        let share = Double(executed.count - missed.count) / Double(executed.count)
        // qemu also starts blocks where Kiln does not (after MSR TPIDR_EL0, at page boundaries).
        #expect(share >= 0.98, "static seeding missed \(missed.count) of \(executed.count) executed blocks, e.g. \(missed.prefix(8).map { String($0, radix: 16) })")
    }

    /// Every function libc exports is an entry, checked against binutils' reading of .dynsym.
    @Test(.enabled(if: crossToolsPresent || TestEnvironment.rootfsRequired))
    func everyExportedFunctionOfLibcIsSeeded() throws {
        let readelf = try #require(TestEnvironment.which("aarch64-linux-gnu-readelf"))
        let listing = try runProcess(readelf, ["-W", "--dyn-syms", crossLibc]).stdoutText
        var functions = Set<UInt64>()
        for line in listing.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            // Num: Value Size Type Bind Vis Ndx Name
            guard f.count >= 8, f[3] == "FUNC" || f[3] == "IFUNC", f[6] != "UND", let value = UInt64(f[1], radix: 16) else { continue }
            functions.insert(value)
        }
        try #require(functions.count > 1000)
        let seeds = try StaticSeeder(file: try ELFFile(contentsOfFile: crossLibc)).seeds()
        let missing = functions.filter { !seeds.contains($0) }
        #expect(missing.isEmpty, "not seeded: \(missing.sorted().prefix(5).map { String($0, radix: 16) })")
        let sources = Dictionary(uniqueKeysWithValues: seeds.countsBySource.map { ($0.source, $0.count) })
        #expect((sources[.unwind] ?? 0) > 0, "FDE starts of local functions add to the symbols")
        #expect((sources[.plt] ?? 0) > 0)
    }

    @Test func truncatedFileIsATypedError() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("math"))))
        for length in [0, 16, 63, 64, 200, 4096] {
            #expect(throws: ELFError.self) { _ = try StaticSeeder(file: try ELFFile(bytes: Array(bytes.prefix(length)))) }
        }
    }

    @Test func immediateFields() {
        #expect(A64Immediate.branch26(0x9400_0001) == 4)                        // bl .+4
        #expect(A64Immediate.branch26(0x97FF_FFFF) == UInt64(bitPattern: -4))   // bl .-4
        #expect(A64Immediate.adr21(0x1000_0161) == 0x2C)                         // adr x1, .+0x2c
        #expect(A64Immediate.adr21(0x9000_0000 | (1 << 29)) == 1)                // adrp immlo=1
    }
}
