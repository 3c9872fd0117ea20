import KilnTestSupport
import Foundation
import Testing
@testable import KilnCache
import KilnELF

@Suite struct CacheFormatTests {
    @Test func roundTripServesEveryEntry() throws {
        let entries = Fixture.entries(count: 40, seed: 7)
        let bytes = try CacheFileBuilder.build(key: Fixture.key(), entries: entries)
        try bytes.withUnsafeBytes { raw in
            let view = try CacheFileView.attach(raw, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt, .avx]).get()
            #expect(view.entryCount == 40)
            #expect(view.codeFileOffset % UInt64(CacheFormat.pageSize) == 0)
            Fixture.image.withGuestRegion { guest in
                for input in entries {
                    let index = view.entryIndex(forGuestOffset: input.guestOffset)
                    #expect(index != nil)
                    guard let index, case .success(let entry) = view.validateEntry(index, guest: guest) else {
                        Issue.record("entry 0x\(String(input.guestOffset, radix: 16)) not served"); continue
                    }
                    var resolved = input.code
                    #expect(CacheTableLayout.resolve(&resolved, references: input.references, codeOffset: Int(entry.codeOffset),
                                                     tableOffset: Int(entry.tableOffset), tableAreaOffset: view.tableAreaOffset))
                    #expect(Array(entry.code) == resolved)
                    #expect(Array(entry.ir) == input.ir)
                    #expect(entry.initializers == input.initializers && entry.tableSlots == input.tableSlots)
                    #expect(UInt64(entry.tableOffset) + UInt64(entry.tableSlots) <= view.header.tableSlots)
                    #expect(entry.guestLength == input.guestLength && entry.flags == input.flags)
                    #expect(Int(entry.codeOffset) % CacheFormat.codeAlignment == 0)
                }
                #expect(view.entryIndex(forGuestOffset: entries[0].guestOffset + 1) == nil)
            }
        }
    }

    @Test func bytesAreDeterministicWhateverTheEntryOrder() throws {
        let entries = Fixture.entries(count: 30, seed: 11)
        let a = try CacheFileBuilder.build(key: Fixture.key(), entries: entries)
        let b = try CacheFileBuilder.build(key: Fixture.key(), entries: entries.reversed())
        var shuffled = entries
        var rng = SplitMix64(seed: 3)
        shuffled.shuffle(using: &rng)
        let c = try CacheFileBuilder.build(key: Fixture.key(), entries: shuffled)
        #expect(a == b && b == c)
        #expect(a != (try CacheFileBuilder.build(key: Fixture.key(hostFeatures: [.avx]), entries: entries)))
    }

    /// The pages section bounds each guest page's entries: every entry is found from its own
    /// offset, across empty pages, crowded pages and page boundaries, and nothing else is.
    @Test func pageIndexFindsEveryEntryAndNothingElse() throws {
        let template = Fixture.entries(count: 1, seed: 2)[0]
        var offsets: [UInt64] = [0x1000, 0x1004, 0x1FFC, 0x2000, 0x7000, 0x7FF8]
        offsets += (0..<300).map { 0x9000 + 4 * UInt64($0) }
        let entries = offsets.map { o -> CacheEntryInput in
            var e = template
            e.guestOffset = o
            e.tableSlots = 2
            e.references = []
            e.initializers = [CacheSlotInitializer(kind: .regionAddress, slot: 0, target: 0),
                              CacheSlotInitializer(kind: .link, slot: 1, target: 0x7000, addend: 0)]
            return e
        }
        let bytes = try CacheFileBuilder.build(key: Fixture.key(), entries: entries)
        try bytes.withUnsafeBytes { raw in
            let view = try CacheFileView.attach(raw, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
            for (i, o) in offsets.enumerated() { #expect(view.entryIndex(forGuestOffset: o) == i, "0x\(String(o, radix: 16))") }
            for miss: UInt64 in [0, 0xFFC, 0x1008, 0x2004, 0x3000, 0x6FFC, 0x8000, 0x9000 + 4 * 300, 0xFFFF_FFFF_F000] {
                #expect(view.entryIndex(forGuestOffset: miss) == nil, "0x\(String(miss, radix: 16))")
            }
            // Every link record names the entry at its target (0x7000 is entry 4).
            for i in 0..<view.entryCount {
                guard case .success(let checked) = view.checkEntry(i, guest: nil) else { Issue.record("entry \(i) rejected"); continue }
                for record in Int(checked.slotStart)..<Int(checked.slotStart + checked.slotRecords) where view.slotInitializer(record).kind == .link {
                    #expect(view.linkTargetEntry(record) == 4)
                }
            }
        }
    }

    @Test func emptyCacheIsValid() throws {
        let bytes = try CacheFileBuilder.build(key: Fixture.key(), entries: [])
        try bytes.withUnsafeBytes { raw in
            let view = try CacheFileView.attach(raw, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
            #expect(view.entryCount == 0 && view.entryIndex(forGuestOffset: 0) == nil)
        }
    }

    @Test func builderRejectsInconsistentInput() {
        let entry = Fixture.entries(count: 1, seed: 5)[0]
        #expect(throws: CacheBuildError.duplicateGuestOffset(entry.guestOffset)) {
            try CacheFileBuilder.build(key: Fixture.key(), entries: [entry, entry])
        }
        var bad = entry
        bad.initializers = [CacheSlotInitializer(kind: .helper, slot: entry.tableSlots, target: 1)]
        #expect(throws: CacheBuildError.slotOutsideTable(guestOffset: entry.guestOffset, slot: entry.tableSlots)) {
            try CacheFileBuilder.build(key: Fixture.key(), entries: [bad])
        }
        bad = entry
        bad.initializers = [CacheSlotInitializer(kind: .link, slot: 0, target: 8, addend: UInt64(entry.code.count))]
        #expect(throws: CacheBuildError.stubOutsideCode(guestOffset: entry.guestOffset, offset: UInt64(entry.code.count))) {
            try CacheFileBuilder.build(key: Fixture.key(), entries: [bad])
        }
        bad = entry
        bad.references = [CacheTableReference(fieldOffset: UInt32(entry.code.count - 2), instructionEnd: UInt32(entry.code.count), slot: 0)]
        #expect(throws: CacheBuildError.referenceUnresolvable(guestOffset: entry.guestOffset)) {
            try CacheFileBuilder.build(key: Fixture.key(), entries: [bad])
        }
        bad = entry
        bad.guestLength = 0
        #expect(throws: CacheBuildError.emptyGuestRange(entry.guestOffset)) { try CacheFileBuilder.build(key: Fixture.key(), entries: [bad]) }
    }

    /// Each rejection reason a reader can give for a whole file, produced for real.
    @Test func fileRejectionsHaveTheirReasons() throws {
        let bytes = Fixture.cacheBytes()
        let host: HostFeatures = [.sse41, .sse42, .popcnt]
        func reason(_ b: [UInt8], key: CacheKey? = Fixture.key(), host: HostFeatures = host) -> CacheRejectionReason? {
            b.withUnsafeBytes { raw in
                if case .failure(let r) = CacheFileView.attach(raw, expectedKey: key, hostFeatures: host) { return r.reason }
                return nil
            }
        }
        #expect(reason(bytes) == nil)
        var v = bytes; v[8] = 1
        #expect(reason(v) == .formatVersion)
        #expect(reason(Array(bytes.prefix(100))) == .truncated)
        #expect(reason(Array(bytes.prefix(bytes.count - 1))) == .truncated)
        #expect(reason(Array(bytes.prefix(5))) == .truncated)
        v = bytes; v[0] = 0x7F
        #expect(reason(v) == .corruptHeader)
        v = bytes; v[40] ^= 1
        #expect(reason(v) == .corruptHeader)
        v = bytes; v[v.count - 1] ^= 0x10
        #expect(reason(v) == .corruptSection)
        #expect(reason(bytes + [0]) == .corruptHeader)
        #expect(reason(bytes, host: [.sse41]) == .hostFeatures)
        #expect(reason(bytes, key: Fixture.key(hostFeatures: [.sse41])) == .keyMismatch)
        var otherIdentity = Fixture.key()
        otherIdentity.identity.contentHash.low64 ^= 1
        #expect(reason(bytes, key: otherIdentity) == .keyMismatch)
    }

    @Test func changedGuestBytesRejectOnlyThatEntry() throws {
        let entries = Fixture.entries(count: 10, seed: 21)
        let bytes = try CacheFileBuilder.build(key: Fixture.key(), entries: entries)
        var guest = Fixture.image.bytes
        guest[Int(entries[3].guestOffset)] ^= 0xFF
        try bytes.withUnsafeBytes { raw in
            let view = try CacheFileView.attach(raw, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
            guest.withUnsafeBytes { g in
                for (i, input) in entries.enumerated() {
                    let result = view.validateEntry(view.entryIndex(forGuestOffset: input.guestOffset)!, guest: GuestRegion(bytes: g))
                    if i == 3 {
                        if case .failure(let r) = result { #expect(r.reason == .guestBytesChanged) } else { Issue.record("stale entry served") }
                    } else {
                        #expect((try? result.get()) != nil)
                    }
                }
                // A region shorter than the entry's range is a change too, not a crash.
                let short = GuestRegion(bytes: UnsafeRawBufferPointer(rebasing: g[0..<Int(entries[0].guestOffset)]))
                if case .failure(let r) = view.validateEntry(0, guest: short) { #expect(r.reason == .guestBytesChanged) } else { Issue.record("served past region end") }
            }
        }
    }

    @Test func cacheFileLookupCountsIntoDiagnostics() throws {
        let dir = try TemporaryDirectory()
        let entries = Fixture.entries(count: 8, seed: 4)
        let path = try CacheWriter(directory: CacheDirectory(path: dir.path))
            .publish(try CacheFileBuilder.build(key: Fixture.key(), entries: entries), name: Fixture.key().fileName)
        let diagnostics = CacheDiagnostics()
        let file = try CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt], diagnostics: diagnostics).get()
        var guest = Fixture.image.bytes
        guest[Int(entries[1].guestOffset)] ^= 1
        guest.withUnsafeBytes { g in
            let region = GuestRegion(bytes: g)
            #expect(file.lookup(guestOffset: entries[0].guestOffset, guest: region) != nil)
            #expect(file.lookup(guestOffset: entries[0].guestOffset, guest: region) != nil)
            #expect(file.lookup(guestOffset: entries[1].guestOffset, guest: region) == nil)
            #expect(file.lookup(guestOffset: entries[1].guestOffset, guest: region) == nil)
            #expect(file.lookup(guestOffset: 1, guest: region) == nil)
        }
        _ = CacheFile.open(path: dir.path + "/absent.kcache", expectedKey: Fixture.key(), hostFeatures: [], diagnostics: diagnostics)
        let s = diagnostics.snapshot
        #expect(s.filesAttached == 1 && s.entriesServed == 2 && s.entriesMissed == 2)
        #expect(s.entriesRejected == ["guest-bytes-changed": 1] && s.filesRejected == ["missing": 1])
        let text = diagnostics.renderText()
        #expect(text.contains("guest-bytes-changed: 1") && text.contains("missing: 1"))
        let json = try JSONSerialization.jsonObject(with: Data(diagnostics.renderJSON().utf8)) as? [String: Any]
        #expect((json?["entriesRejected"] as? [String: Int])?["guest-bytes-changed"] == 1)
        #expect((json?["events"] as? [[String: Any]])?.count == 2)
    }

    /// The code maps executable from the file with the table area right after its last page,
    /// where the resolved displacements point; first use of an entry fills its slots.
    @Test func codeMapsExecutableWithTablesBesideIt() throws {
        let dir = try TemporaryDirectory()
        let entries = Fixture.entries(count: 5, seed: 8)
        let path = try CacheWriter(directory: CacheDirectory(path: dir.path))
            .publish(try CacheFileBuilder.build(key: Fixture.key(), entries: entries), name: Fixture.key().fileName)
        let file = try CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
        switch file.mapCodeAndTables() {
        case .success(let (code, tables)):
            #expect(code.elementsEqual(file.view.code))
            let tableStart = UInt(bitPattern: try #require(tables))
            #expect(tableStart == UInt(bitPattern: code.baseAddress!) + UInt(file.view.tableAreaOffset))
            let regionBase: UInt64 = 0x5500_0000_0000
            Fixture.image.withGuestRegion { guest in
                for input in entries {
                    guard case let .ready(host, index, length) = file.prepare(guestOffset: input.guestOffset, guest: guest, regionBase: regionBase,
                                                                               helper: { 0x1000 + $0 }),
                          case .success(let entry) = file.view.validateEntry(index, guest: nil) else {
                        Issue.record("entry 0x\(String(input.guestOffset, radix: 16)) not prepared"); continue
                    }
                    #expect(length == input.guestLength && host == UnsafeRawPointer(code.baseAddress! + Int(entry.codeOffset)))
                    for initializer in input.initializers {
                        let value = tables![Int(entry.tableOffset) + Int(initializer.slot)]
                        switch initializer.kind {
                        case .regionAddress: #expect(value == regionBase + initializer.target)
                        case .helper: #expect(value == 0x1000 + initializer.target)
                        case .link: #expect(value == UInt64(UInt(bitPattern: host)) + initializer.addend)
                        }
                    }
                    for reference in input.references {
                        let field = host + Int(reference.fieldOffset)
                        let displacement = Int(field.loadUnaligned(as: Int32.self))
                        let rip = UInt(bitPattern: host) + UInt(reference.instructionEnd)
                        #expect(rip &+ UInt(bitPattern: displacement) == tableStart + UInt(entry.tableOffset + reference.slot) * 8)
                    }
                }
            }
        case .failure(let rejection):
            // Only a noexec mount may refuse, and then with the permissions reason.
            #expect(rejection.reason == .permissions)
        }
    }

    /// Hot entries (those a codemap recorded) take the start of the entry records, the code and
    /// the table area, each part in guest order; lookups by guest offset find every entry
    /// through the guest-order section, and every host address inside a prepared entry's code
    /// leads back to that entry (an entry not prepared runs no code and is not named).
    @Test func hotEntriesComeFirstAndHostAddressesFindTheirEntry() throws {
        let dir = try TemporaryDirectory()
        var entries = Fixture.entries(count: 30, seed: 21)
        for i in entries.indices where i % 3 == 1 { entries[i].hot = true }
        let path = try CacheWriter(directory: CacheDirectory(path: dir.path))
            .publish(try CacheFileBuilder.build(key: Fixture.key(), entries: entries), name: Fixture.key().fileName)
        let file = try CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
        let view = file.view
        let byGuestOffset = entries.sorted { $0.guestOffset < $1.guestOffset }
        let placed = byGuestOffset.filter(\.hot) + byGuestOffset.filter { !$0.hot }
        #expect(view.hotEntryCount == 10)
        #expect(placed.map { view.entryIndex(forGuestOffset: $0.guestOffset) } == Array(0..<30))
        #expect((1..<30).allSatisfy { view.codeOffset(ofEntry: $0 - 1) < view.codeOffset(ofEntry: $0) })
        guard case .success(let (code, _)) = file.mapCodeAndTables() else { return } // noexec mount: see codeMapsExecutableWithTablesBesideIt
        let hotSlots = placed.prefix(10).reduce(0) { $0 + Int($1.tableSlots) }
        Fixture.image.withGuestRegion { guest in
            for (index, input) in placed.enumerated() {
                guard case .success(let checked) = view.checkEntry(index, guest: guest) else { Issue.record("entry \(index) rejected"); continue }
                #expect((Int(checked.tableOffset) < hotSlots) == input.hot)
                let start = UInt(bitPattern: code.baseAddress!) + UInt(checked.codeOffset)
                #expect(file.entry(containingHostAddress: start) == nil)
                guard case .ready = file.prepare(guestOffset: input.guestOffset, guest: guest, regionBase: 0) else { Issue.record("entry \(index) not ready"); continue }
                for k in [0, Int(checked.codeLength) / 2, Int(checked.codeLength) - 1] {
                    #expect(file.entry(containingHostAddress: start + UInt(k)) == input.guestOffset)
                }
            }
        }
    }

    /// A hot entry's first lookup prepares its chunk of hot entries; a link into a chunk not
    /// yet prepared keeps its stub until that chunk is prepared, and then goes straight to
    /// its target.
    @Test func hotChunksArePreparedTogetherAndLinkedWhenReady() throws {
        let dir = try TemporaryDirectory()
        let count = CacheFile.hotChunkSize + 40
        var entries = Fixture.entries(count: count, seed: 31)
        for i in entries.indices {
            entries[i].hot = true
            entries[i].tableSlots = 2
            entries[i].references = []
            entries[i].initializers = [CacheSlotInitializer(kind: .regionAddress, slot: 0, target: 0)]
        }
        let last = count - 1
        entries[0].initializers.append(CacheSlotInitializer(kind: .link, slot: 1, target: entries[last].guestOffset, addend: 1))
        entries[last].initializers.append(CacheSlotInitializer(kind: .link, slot: 1, target: entries[0].guestOffset, addend: 2))
        let path = try CacheWriter(directory: CacheDirectory(path: dir.path))
            .publish(try CacheFileBuilder.build(key: Fixture.key(), entries: entries), name: Fixture.key().fileName)
        let file = try CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
        guard case .success(let (_, mappedTables)) = file.mapCodeAndTables(), let tables = mappedTables else { return } // noexec mount
        #expect(file.view.hotEntryCount == count)
        Fixture.image.withGuestRegion { guest in
            func prepared(_ i: Int) -> UnsafeRawPointer? {
                guard case .ready(let host, _, _) = file.prepare(guestOffset: entries[i].guestOffset, guest: guest, regionBase: 0x5500_0000_0000, chunks: true) else {
                    Issue.record("entry \(i) not prepared"); return nil
                }
                return host
            }
            func linkSlot(_ i: Int) -> UInt64 {
                guard case .success(let entry) = file.view.checkEntry(i, guest: nil) else { return 0 }
                return tables[Int(entry.tableOffset) + 1]
            }
            guard let first = prepared(0) else { return }
            #expect(file.preparedInChunks == CacheFile.hotChunkSize)
            #expect(linkSlot(0) == UInt64(UInt(bitPattern: first)) + 1, "a link into an unprepared chunk keeps its stub")
            guard let lastCode = prepared(last) else { return }
            #expect(file.preparedInChunks == count)
            #expect(linkSlot(last) == UInt64(UInt(bitPattern: first)), "links into a prepared chunk go straight to the target")
            #expect(linkSlot(0) == UInt64(UInt(bitPattern: lastCode)), "the waiting link was pointed at its target")
        }
    }

    /// Preparing a hot chunk hands the entries flagged `indirectTarget` (and only those) to
    /// the caller's indirect-branch table, at their guest address with their host code.
    @Test func hotChunksRegisterTheirIndirectTargets() throws {
        let dir = try TemporaryDirectory()
        var entries = Fixture.entries(count: 40, seed: 37)
        for i in entries.indices {
            entries[i].hot = true
            if i % 3 == 1 { entries[i].flags.insert(.indirectTarget) }
        }
        let path = try CacheWriter(directory: CacheDirectory(path: dir.path))
            .publish(try CacheFileBuilder.build(key: Fixture.key(), entries: entries), name: Fixture.key().fileName)
        let file = try CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
        guard case .success(let (code, _)) = file.mapCodeAndTables(), let base = code.baseAddress else { return } // noexec mount
        let regionBase: UInt64 = 0x5500_0000_0000
        Fixture.image.withGuestRegion { guest in
            var registered: [UInt64: UnsafeRawPointer] = [:]
            guard case .ready = file.prepare(guestOffset: entries[0].guestOffset, guest: guest, regionBase: regionBase, chunks: true,
                                             register: { registered[$0] = $1 }) else { Issue.record("not prepared"); return }
            let flagged = entries.indices.filter { $0 % 3 == 1 }
            #expect(registered.count == flagged.count)
            for i in flagged {
                guard case .success(let entry) = file.view.checkEntry(i, guest: nil) else { Issue.record("entry \(i)"); continue }
                #expect(entry.flags.contains(.indirectTarget))
                #expect(registered[regionBase + entries[i].guestOffset] == base + Int(entry.codeOffset))
            }
        }
    }

    /// Eager chaining: a link slot filled after its target entry is in use (the next entry or
    /// one further away) points straight at the target's code; one whose target is not in use
    /// yet keeps its stub.
    @Test func linkSlotsChainEagerlyToEntriesAlreadyInUse() throws {
        let dir = try TemporaryDirectory()
        var entries = Fixture.entries(count: 4, seed: 11)
        entries[0].tableSlots = 3
        entries[0].references = []
        entries[0].initializers = [
            CacheSlotInitializer(kind: .link, slot: 0, target: entries[1].guestOffset, addend: 0),
            CacheSlotInitializer(kind: .link, slot: 1, target: entries[2].guestOffset, addend: 4),
            CacheSlotInitializer(kind: .link, slot: 2, target: entries[3].guestOffset, addend: 2),
        ]
        let path = try CacheWriter(directory: CacheDirectory(path: dir.path))
            .publish(try CacheFileBuilder.build(key: Fixture.key(), entries: entries), name: Fixture.key().fileName)
        let file = try CacheFile.open(path: path, expectedKey: Fixture.key(), hostFeatures: [.sse41, .sse42, .popcnt]).get()
        guard case .success(let (_, mappedTables)) = file.mapCodeAndTables(), let tables = mappedTables else {
            return // only a noexec mount refuses (codeMapsExecutableWithTablesBesideIt checks the reason)
        }
        Fixture.image.withGuestRegion { guest in
            func prepared(_ input: CacheEntryInput) -> UnsafeRawPointer? {
                guard case .ready(let host, _, _) = file.prepare(guestOffset: input.guestOffset, guest: guest, regionBase: 0x5500_0000_0000) else {
                    Issue.record("entry 0x\(String(input.guestOffset, radix: 16)) not prepared"); return nil
                }
                return host
            }
            guard let target = prepared(entries[1]), let farTarget = prepared(entries[2]), let source = prepared(entries[0]),
                  case .success(let entry) = file.view.validateEntry(0, guest: nil) else { return }
            let table = tables + Int(entry.tableOffset)
            #expect(table[0] == UInt64(UInt(bitPattern: target)))
            #expect(table[1] == UInt64(UInt(bitPattern: farTarget)))
            #expect(table[2] == UInt64(UInt(bitPattern: source)) + 2)
        }
    }
}
