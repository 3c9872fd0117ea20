import Foundation
import KilnIR
import KilnTestSupport
@testable import KilnRuntime
import Testing

/// The pieces of code invalidation in-process: which blocks a range hits, which guest ranges
/// alias a shared mapping, and which mapping changes report a range.
@Suite(.serialized) struct CodeInvalidationTests {
    @Test func blockCacheRemovesExactlyTheOverlappingBlocks() {
        var cache = BlockCache<Int>()
        // Blocks at 0x1000 (16 bytes), 0x1ff8 (16 bytes: crosses into the next page), 0x3000 (4).
        cache.insert(1, at: 0x1000, length: 16)
        cache.insert(2, at: 0x1ff8, length: 16)
        cache.insert(3, at: 0x3000, length: 4)
        #expect(cache.lookup(0x1ff8) == 2)
        #expect(cache.removeBlocks(overlapping: 0x1010, 0x1ff8).isEmpty)
        // A line in the second page hits the block that started in the first one.
        #expect(cache.removeBlocks(overlapping: 0x2000, 0x2040).map(\.pc) == [0x1ff8])
        #expect(cache.lookup(0x1ff8) == nil && cache[0x1ff8] == nil)
        #expect(cache.removeBlocks(overlapping: 0, .max).map(\.pc).sorted() == [0x1000, 0x3000])
        #expect(cache.isEmpty)
        cache.insert(4, at: 0x3000, length: 4)
        #expect(cache.lookup(0x3000) == 4)
    }

    @Test func instructionCacheLineIsTheRegistersLine() {
        let state = GuestCPUState()
        state.setX(3, 0x1234_5678)
        // IC IVAU, x3 (SYS #3, C7, C5, #1, x3); CTR_EL0.IminLine = 4 (64 bytes).
        let line = instructionCacheMaintenanceRange(encoding: 0xD50B_7523, state: state, cacheType: 0x8444_c004)
        #expect(line.start == 0x1234_5640 && line.end == 0x1234_5680)
        // IC IALLU: everything.
        let all = instructionCacheMaintenanceRange(encoding: 0xD508_751F, state: state, cacheType: 0x8444_c004)
        #expect(all.start == 0 && all.end == .max)
    }

    /// A file mapped twice (shared): an invalidation of part of one view reports the same file
    /// bytes in the other; private and anonymous mappings have no aliases, and only executable
    /// ranges (where translations can be) are reported.
    @Test func sharedMappingsOfOneFileAreAliases() throws {
        let space = GuestAddressSpace()
        var reported: [[UInt64]] = []
        space.invalidate = { reported.append([$0, $1]) }
        var template = Array((NSTemporaryDirectory() + "kiln-alias-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        unlink(template)
        defer { close(fd) }
        let page = GuestLayout.pageSize
        try #require(ftruncate(fd, off_t(4 * page)) == 0)
        let rw = space.map(address: 0, length: 4 * page, protection: PROT_READ | PROT_WRITE, flags: MAP_SHARED, fd: fd, offset: 0)
        // The executable view maps file pages 1...2 only.
        let rx = space.map(address: 0, length: 2 * page, protection: PROT_READ | PROT_EXEC, flags: MAP_SHARED, fd: fd, offset: page)
        let copy = space.map(address: 0, length: page, protection: PROT_READ, flags: MAP_PRIVATE, fd: fd, offset: page)
        try #require(rw > 0 && rx > 0 && copy > 0)
        let rwStart = UInt64(rw), rxStart = UInt64(rx)
        reported.removeAll()
        // 64 bytes in file page 2 through the writable view -> the same bytes in the executable one.
        space.invalidateCode(rwStart + 2 * page + 0x40, rwStart + 2 * page + 0x80)
        #expect(reported == [[rxStart + page + 0x40, rxStart + page + 0x80]])
        // File page 3 is not in the executable view; the private copy never aliases.
        reported.removeAll()
        space.invalidateCode(rwStart + 3 * page, rwStart + 4 * page)
        #expect(reported.isEmpty)
        // Through the executable view: itself (the writable alias holds no translations).
        reported.removeAll()
        space.invalidateCode(rxStart, rxStart + 4)
        #expect(reported == [[rxStart, rxStart + 4]])
        for (start, length) in [(rw, 4 * page), (rx, 2 * page), (copy, page)] { _ = space.unmap(address: UInt64(start), length: length) }
    }

    /// mprotect reports its range only when translations there may go stale (execute removed
    /// or write added); map and unmap only when they replace executable memory.
    @Test func onlyChangesToExecutableMemoryInvalidate() throws {
        let space = GuestAddressSpace()
        var reported = 0
        space.invalidate = { _, _ in reported += 1 }
        let page = GuestLayout.pageSize
        let a = space.map(address: 0, length: page, protection: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 0)
        try #require(a > 0)
        let start = UInt64(a)
        reported = 0
        #expect(space.protect(address: start, length: page, protection: PROT_READ | PROT_EXEC) == 0)
        #expect(reported == 0, "write removed, exec added: nothing translated can be stale")
        #expect(space.protect(address: start, length: page, protection: PROT_READ | PROT_WRITE | PROT_EXEC) == 0)
        #expect(reported == 1, "write added")
        #expect(space.protect(address: start, length: page, protection: PROT_READ | PROT_WRITE) == 0)
        #expect(reported == 2, "exec removed")
        #expect(space.unmap(address: start, length: page) == 0)
        #expect(reported == 2, "unmapping memory that is not executable drops nothing")
        let b = space.map(address: 0, length: page, protection: PROT_READ | PROT_EXEC, flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 0)
        try #require(b > 0)
        #expect(reported == 2, "a fresh mapping replaces nothing")
        #expect(space.unmap(address: UInt64(b), length: page) == 0)
        #expect(reported == 3, "executable memory unmapped")
    }

    @Test func epochsAdvance() {
        let first = CodeInvalidationEpoch.advance()
        #expect(CodeInvalidationEpoch.current >= first && CodeInvalidationEpoch.advance() > first)
    }
}
