import KilnTestSupport
import Foundation
import Testing
@testable import KilnCache

/// Corrupts valid cache files in every way the brief lists and checks the reader's promises:
/// no crash, a typed reason for every rejection, and no entry handed out unless it checks out.
@Suite struct CacheFuzzTests {
    static let host: HostFeatures = [.sse41, .sse42, .popcnt]

    /// Recomputes section hashes and the header hash wherever the (possibly corrupt) table
    /// allows, as an attacker or a buggy writer would: the reader must then rely on its
    /// structural checks alone.
    static func reseal(_ b: inout [UInt8]) {
        guard b.count >= CacheFormat.fixedHeaderSize else { return }
        func u32(_ o: Int) -> Int { Int(readLE32(b, o)) }
        func u64(_ o: Int) -> UInt64 { readLE64(b, o) }
        func put64(_ o: Int, _ v: UInt64) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        let count = min(u32(CacheFormat.sectionCountOffset), CacheFormat.maximumSections)
        let headerSize = CacheFormat.headerSize(sectionCount: count)
        guard headerSize <= b.count else { return }
        for i in 0..<count {
            let row = CacheFormat.fixedHeaderSize + i * CacheFormat.sectionRecordSize
            let offset = u64(row + 8), length = u64(row + 16)
            guard offset <= UInt64(b.count), length <= UInt64(b.count) - offset else { continue }
            let hash = b.withUnsafeBytes { XXH3.hash64(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset + length)])) }
            put64(row + 24, hash)
        }
        if u32(CacheFormat.headerSizeOffset) == headerSize {
            let hash = b.withUnsafeBytes { XXH3.hash64(UnsafeRawBufferPointer(rebasing: $0[0..<(headerSize - 8)])) }
            put64(headerSize - 8, hash)
        }
    }

    static func put(_ b: inout [UInt8], _ offset: Int, _ width: Int, _ value: UInt64) {
        guard offset >= 0, offset + width <= b.count else { return }
        for i in 0..<width { b[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    static func interestingValue(_ rng: inout SplitMix64) -> UInt64 {
        let choices: [UInt64] = [0, 1, 7, 8, 24, 56, 4095, 4096, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x1_0000_0000,
                                 UInt64(Int.max), .max, .max - 7]
        return rng.next() % 3 == 0 ? rng.next() : choices[Int(rng.next() % UInt64(choices.count))]
    }

    /// One random corruption; returns a label for failure messages.
    static func corrupt(_ b: inout [UInt8], _ rng: inout SplitMix64, entryCount: Int) -> String {
        let table = CacheFormat.fixedHeaderSize
        let entriesOffset = Int(readLE64(b, table + 8))
        let slotsOffset = Int(readLE64(b, table + CacheFormat.sectionRecordSize + 8))
        switch rng.next() % 10 {
        case 0:
            let flips = 1 + Int(rng.next() % 8)
            for _ in 0..<flips { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1) << (rng.next() % 8) }
            return "bit flips"
        case 1:
            b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
            return "truncation"
        case 2:
            let fields: [(Int, Int)] = [(8, 4), (12, 4), (16, 8), (24, 4), (28, 4), (32, 40), (72, 8), (96, 1), (168, 8), (176, 8)]
            let (offset, width) = fields[Int(rng.next() % UInt64(fields.count))]
            put(&b, offset, min(width, 8), interestingValue(&rng))
            if rng.next() % 2 == 0 { reseal(&b) }
            return "header field \(offset)"
        case 3:
            let count = Int(readLE32(b, CacheFormat.sectionCountOffset))
            let i = Int(rng.next() % UInt64(count)), j = Int(rng.next() % UInt64(count))
            for k in 0..<CacheFormat.sectionRecordSize { b.swapAt(table + i * 32 + k, table + j * 32 + k) }
            reseal(&b)
            return "swapped sections \(i) \(j)"
        case 4:
            let count = Int(readLE32(b, CacheFormat.sectionCountOffset))
            let i = Int(rng.next() % UInt64(count))
            let other = Int(rng.next() % UInt64(count))
            let otherOffset = readLE64(b, table + other * 32 + 8)
            put(&b, table + i * 32 + 8, 8, otherOffset &+ rng.next() % 64)
            if rng.next() % 2 == 0 { put(&b, table + i * 32 + 16, 8, interestingValue(&rng)) }
            reseal(&b)
            return "overlapping section \(i)"
        case 5:
            put(&b, CacheFormat.entryCountOffset, 8, interestingValue(&rng))
            put(&b, table + 16, 8, interestingValue(&rng))
            reseal(&b)
            return "huge counts"
        case 6, 7:
            guard entryCount > 0 else { return "none" }
            let e = Int(rng.next() % UInt64(entryCount))
            let fields: [(Int, Int)] = [(0, 8), (8, 8), (16, 8), (24, 8), (32, 4), (36, 4), (40, 4), (44, 4), (48, 4), (52, 4), (56, 4), (60, 4), (64, 8)]
            let (offset, width) = fields[Int(rng.next() % UInt64(fields.count))]
            put(&b, entriesOffset + e * CacheFormat.entryRecordSize + offset, width, interestingValue(&rng))
            reseal(&b)
            return "entry \(e) field \(offset)"
        case 8:
            // The pages section: its first page, count, or one page's first entry.
            guard let pages = (0..<Int(readLE32(b, CacheFormat.sectionCountOffset))).first(where: {
                readLE32(b, table + $0 * CacheFormat.sectionRecordSize) == CacheSectionKind.pages.rawValue
            }) else { return "none" }
            let offset = Int(readLE64(b, table + pages * CacheFormat.sectionRecordSize + 8))
            let length = Int(readLE64(b, table + pages * CacheFormat.sectionRecordSize + 16))
            let field = Int(rng.next() % UInt64(max(length / 4, 1))) * 4
            put(&b, offset + field, field < CacheFormat.pageIndexHeaderSize ? 8 : 4, interestingValue(&rng))
            reseal(&b)
            return "pages field \(field)"
        default:
            let slotBytes = Int(readLE64(b, table + CacheFormat.sectionRecordSize + 16))
            guard slotBytes >= CacheFormat.slotRecordSize else { return "none" }
            let r = Int(rng.next() % UInt64(slotBytes / CacheFormat.slotRecordSize))
            let fields: [(Int, Int)] = [(0, 1), (1, 1), (4, 4), (8, 8), (16, 4), (20, 4)]
            let (offset, width) = fields[Int(rng.next() % UInt64(fields.count))]
            put(&b, slotsOffset + r * CacheFormat.slotRecordSize + offset, width, interestingValue(&rng))
            reseal(&b)
            return "slot initialiser \(r) field \(offset)"
        }
    }

    @Test func tenThousandCorruptionsNeverCrashOrServeBadEntries() throws {
        let entries = Fixture.entries(count: 12, seed: 99, codeSize: 4...40)
        let original = try CacheFileBuilder.build(key: Fixture.key(), entries: entries)
        let byOffset = Dictionary(uniqueKeysWithValues: entries.map { ($0.guestOffset, $0) })
        var rng = SplitMix64(seed: 0xF022)
        var rejectedByReason: [CacheRejectionReason: Int] = [:]
        var accepted = 0, entriesServed = 0, entriesRejected = 0
        let iterations = 10_000
        Fixture.image.withGuestRegion { guest in
            for iteration in 0..<iterations {
                var bytes = original
                let label = CacheFuzzTests.corrupt(&bytes, &rng, entryCount: entries.count)
                let result = bytes.withUnsafeBytes { raw -> Result<Void, CacheRejection> in
                    switch CacheFileView.attach(raw, expectedKey: Fixture.key(), hostFeatures: CacheFuzzTests.host) {
                    case .failure(let rejection):
                        return .failure(rejection)
                    case .success(let view):
                        // Every entry the reader serves must stand up to independent checks.
                        for i in 0..<view.entryCount {
                            guard case .success(let entry) = view.validateEntry(i, guest: guest) else { entriesRejected += 1; continue }
                            entriesServed += 1
                            let end = Int(entry.guestOffset) + Int(entry.guestLength)
                            let actual = guest.bytes.count >= end
                                ? XXH3.hash64(UnsafeRawBufferPointer(rebasing: guest.bytes[Int(entry.guestOffset)..<end])) : nil
                            let recorded = raw.loadUnaligned(fromByteOffset: Int(view.header.section(.entries)!.offset) + i * CacheFormat.entryRecordSize + 8, as: UInt64.self)
                            #expect(actual == recorded, "iteration \(iteration) (\(label)): served entry \(i) with wrong guest bytes")
                            let found = view.entryIndex(forGuestOffset: entry.guestOffset)
                            #expect(found == nil || found == i, "iteration \(iteration) (\(label)): lookup of entry \(i)'s offset found \(String(describing: found))")
                            #expect(entry.initializers.allSatisfy { $0.slot < entry.tableSlots && ($0.kind != .link || $0.addend < UInt64(entry.code.count)) })
                            #expect(UInt64(entry.tableOffset) + UInt64(entry.tableSlots) <= view.header.tableSlots)
                            let codeStart = entry.code.baseAddress.map { $0 - raw.baseAddress! } ?? Int(view.codeFileOffset)
                            #expect(codeStart >= Int(view.codeFileOffset) && codeStart + entry.code.count <= raw.count)
                            if let input = byOffset[entry.guestOffset], input.guestLength == entry.guestLength,
                               input.guestHash == recorded, bytes == original {
                                var resolved = input.code
                                _ = CacheTableLayout.resolve(&resolved, references: input.references, codeOffset: Int(entry.codeOffset),
                                                             tableOffset: Int(entry.tableOffset), tableAreaOffset: view.tableAreaOffset)
                                #expect(Array(entry.code) == resolved)
                            }
                        }
                        return .success(())
                    }
                }
                switch result {
                case .failure(let rejection):
                    #expect(!rejection.detail.isEmpty)
                    rejectedByReason[rejection.reason, default: 0] += 1
                case .success:
                    accepted += 1
                    // Without resealing, any changed byte must have been caught.
                    if ["bit flips", "truncation"].contains(label) { #expect(bytes == original, "iteration \(iteration): \(label) accepted") }
                }
            }
        }
        let rejected = rejectedByReason.values.reduce(0, +)
        #expect(rejected + accepted == iterations)
        #expect(rejected > iterations / 2)
        for reason in [CacheRejectionReason.truncated, .corruptHeader, .corruptSection, .formatVersion] {
            #expect(rejectedByReason[reason, default: 0] > 0, "no \(reason) rejections")
        }
        #expect(entriesRejected > 0 && entriesServed > 0)
    }

    /// Truncations through the real file path (mmap, not an in-memory buffer).
    @Test func truncatedFilesOnDiskAreRejected() throws {
        let dir = try TemporaryDirectory()
        let bytes = Fixture.cacheBytes(count: 6, seed: 3)
        var rng = SplitMix64(seed: 17)
        for length in [0, 1, 7, 8, 12, 100, 183, 184, 300] + (0..<40).map({ _ in Int(rng.next() % UInt64(bytes.count)) }) {
            let path = dir.path + "/t.kcache"
            try writeFile(path, Array(bytes.prefix(length)))
            switch CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: CacheFuzzTests.host) {
            case .success: Issue.record("truncated to \(length) accepted")
            case .failure(let rejection): #expect(rejection.reason == .truncated || rejection.reason == .corruptHeader, "\(length): \(rejection)")
            }
        }
    }
}
