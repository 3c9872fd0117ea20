import Foundation
import Testing
@testable import KilnCache

@Suite struct CodemapTests {
    static let regionA = XXH128Hash(low64: 1, high64: 2)
    static let regionB = XXH128Hash(low64: 3, high64: 4)

    @Test func recorderAppendsAndMergeDeduplicatesAcrossFilesAndRuns() throws {
        let root = try TemporaryDirectory()
        let dir = try CacheDirectory.open(path: root.path + "/codemaps", create: true).get()
        do {
            let first = try CodemapRecorder(directory: dir.path, processID: 100)
            first.record(region: CodemapTests.regionA, offset: 0x10)
            first.record(region: CodemapTests.regionA, offset: 0x20)
            first.flush()
            first.record(region: CodemapTests.regionA, offset: 0x10)
            first.record(region: CodemapTests.regionB, offset: 0x30)
            let second = try CodemapRecorder(directory: dir.path, processID: 200)
            second.record(region: CodemapTests.regionA, offset: 0x20)
            second.record(region: CodemapTests.regionA, offset: 0x40)
        }
        let merged = try CodemapMerge.mergeDirectory(dir)
        #expect(merged == [CodemapTests.regionA: [0x10, 0x20, 0x40], CodemapTests.regionB: [0x30]])
        #expect(listDirectory(dir.path) == ["merged.kcodemap"])
        // A later run adds to what earlier merges found.
        do {
            let third = try CodemapRecorder(directory: dir.path, processID: 300)
            third.record(region: CodemapTests.regionB, offset: 0x50)
            third.record(region: CodemapTests.regionA, offset: 0x10)
        }
        let again = try CodemapMerge.mergeDirectory(dir)
        #expect(again == [CodemapTests.regionA: [0x10, 0x20, 0x40], CodemapTests.regionB: [0x30, 0x50]])
        // Merged files are deterministic: merging an unchanged set rewrites identical bytes.
        let bytes = try readFile(dir.path + "/merged.kcodemap")
        try CodemapMerge.mergeDirectory(dir)
        #expect(try readFile(dir.path + "/merged.kcodemap") == bytes)
    }

    @Test func aRunThatRecordsNothingLeavesNoFile() throws {
        let root = try TemporaryDirectory()
        let directory = root.path + "/codemaps"
        do {
            let recorder = try CodemapRecorder(directory: directory, processID: 5)
            recorder.name(region: CodemapTests.regionA, path: "/usr/bin/true")
            recorder.flush()
            #expect(!FileManager.default.fileExists(atPath: recorder.path))
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
        // The first record creates directory and file under the descriptor number reserved
        // at the start, still close-on-exec.
        let recorder = try CodemapRecorder(directory: directory, processID: 6)
        let descriptor = recorder.descriptor
        recorder.record(region: CodemapTests.regionA, offset: 4)
        recorder.flush()
        #expect(recorder.descriptor == descriptor)
        #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0)
        #expect(Codemap.read(path: recorder.path).offsets == [CodemapTests.regionA: [4]])
    }

    @Test func tornOrCorruptTailKeepsEverythingBefore() throws {
        let root = try TemporaryDirectory()
        let dir = try CacheDirectory.open(path: root.path + "/codemaps", create: true).get()
        let path: String
        do {
            let recorder = try CodemapRecorder(directory: dir.path, processID: 1)
            path = recorder.path
            recorder.record(region: CodemapTests.regionA, offset: 1)
            recorder.flush()
            recorder.record(region: CodemapTests.regionB, offset: 2)
            recorder.flush()
        }
        let full = try readFile(path)
        #expect(Codemap.read(path: path).clean)
        // Every prefix (a crash mid-write) yields a prefix of the records and never traps.
        var sawPartial = false
        for length in 0...full.count {
            try writeFile(path, Array(full.prefix(length)))
            let (offsets, _) = Codemap.read(path: path)
            #expect(offsets.isEmpty || offsets[CodemapTests.regionA] == [1])
            if offsets.count == 1 { sawPartial = true }
        }
        #expect(sawPartial)
        var flipped = full
        flipped[flipped.count - 3] ^= 0x40
        try writeFile(path, flipped)
        let (offsets, clean) = Codemap.read(path: path)
        #expect(!clean && offsets == [CodemapTests.regionA: [1]])
    }

    @Test func codemapsOfOtherUsersAreIgnored() throws {
        let root = try TemporaryDirectory()
        let dir = try CacheDirectory.open(path: root.path + "/codemaps", create: true).get()
        let path: String
        do {
            let recorder = try CodemapRecorder(directory: dir.path, processID: 7)
            path = recorder.path
            recorder.record(region: CodemapTests.regionA, offset: 9)
        }
        chmod(path, 0o666)
        #expect(Codemap.read(path: path).offsets.isEmpty)
    }
}
