import Foundation
import KilnTestSupport
@testable import KilnRuntime
import Testing

/// The guest memory map in-process: real host mappings at guest addresses.
@Suite(.serialized) struct AddressSpaceTests {
    let page = Int(GuestLayout.pageSize)

    @Test func anonymousMappingsStayInTheGuestRangeAndSplit() throws {
        let space = GuestAddressSpace()
        let a = space.map(address: 0, length: 5 * GuestLayout.pageSize, protection: PROT_READ | PROT_WRITE,
                          flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 0)
        try #require(a > 0)
        let start = UInt64(a)
        #expect(start + 5 * GuestLayout.pageSize <= GuestLayout.mmapTop && start >= GuestLayout.mmapBottom)
        UnsafeMutableRawPointer(bitPattern: UInt(start))!.storeBytes(of: 0x1234_5678, as: UInt64.self)
        // Unmap the middle page: two mappings remain, with the right extents.
        #expect(space.unmap(address: start + 2 * GuestLayout.pageSize, length: GuestLayout.pageSize) == 0)
        let ranges = space.mappings.filter { $0.start >= start && $0.end <= start + 5 * GuestLayout.pageSize }.map { [$0.start, $0.end] }
        #expect(ranges == [[start, start + 2 * GuestLayout.pageSize], [start + 3 * GuestLayout.pageSize, start + 5 * GuestLayout.pageSize]])
        // mprotect of one page splits again and records the new protection.
        #expect(space.protect(address: start, length: GuestLayout.pageSize, protection: PROT_READ) == 0)
        #expect(space.mapping(containing: start)?.protection == PROT_READ)
        #expect(space.mapping(containing: start + GuestLayout.pageSize)?.protection == PROT_READ | PROT_WRITE)
        #expect(space.mapping(containing: start + 2 * GuestLayout.pageSize) == nil)
        // mprotect over a hole fails as on Linux.
        #expect(space.protect(address: start, length: 4 * GuestLayout.pageSize, protection: PROT_READ) == -Int(ENOMEM))
        #expect(UnsafeRawPointer(bitPattern: UInt(start))!.load(as: UInt64.self) == 0x1234_5678)
        _ = space.unmap(address: start, length: 5 * GuestLayout.pageSize)
    }

    @Test func fixedMappingsOutsideTheGuestRangeAreRefused() {
        let space = GuestAddressSpace()
        let r = space.map(address: GuestLayout.limit, length: GuestLayout.pageSize, protection: PROT_READ,
                          flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, fd: -1, offset: 0)
        #expect(r == -Int(ENOMEM))
        #expect(space.map(address: 0, length: 0, protection: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 0) == -Int(EINVAL))
        #expect(space.map(address: 0, length: 1, protection: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 1) == -Int(EINVAL))
    }

    @Test func remapGrowsOrMovesWithinTheGuestRange() throws {
        let space = GuestAddressSpace()
        let a = space.map(address: 0, length: GuestLayout.pageSize, protection: PROT_READ | PROT_WRITE,
                          flags: MAP_PRIVATE | MAP_ANONYMOUS, fd: -1, offset: 0)
        try #require(a > 0)
        let start = UInt64(a)
        UnsafeMutableRawPointer(bitPattern: UInt(start))!.storeBytes(of: 77, as: UInt64.self)
        // Block growth in place with a neighbour just above.
        let above = space.map(address: start + GuestLayout.pageSize, length: GuestLayout.pageSize, protection: PROT_READ,
                              flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, fd: -1, offset: 0)
        #expect(above == Int(start + GuestLayout.pageSize))
        #expect(space.remap(address: start, oldLength: GuestLayout.pageSize, newLength: 4 * GuestLayout.pageSize, flags: 0, newAddress: 0) == -Int(ENOMEM))
        let moved = space.remap(address: start, oldLength: GuestLayout.pageSize, newLength: 4 * GuestLayout.pageSize, flags: 1, newAddress: 0)
        try #require(moved > 0)
        #expect(UInt64(moved) < GuestLayout.limit && UInt64(moved) != start)
        #expect(UnsafeRawPointer(bitPattern: moved)!.load(as: UInt64.self) == 77)
        #expect(space.mapping(containing: start) == nil)
        #expect(space.mapping(containing: UInt64(moved) + 3 * GuestLayout.pageSize) != nil)
        _ = space.unmap(address: UInt64(moved), length: 4 * GuestLayout.pageSize)
        _ = space.unmap(address: start + GuestLayout.pageSize, length: GuestLayout.pageSize)
    }

    @Test func executableFileMappingIsACodeRegionWithItsLoadBias() throws {
        let path = TestEnvironment.fixturesBinDirectory.appendingPathComponent("hello").path
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let space = GuestAddressSpace()
        let a = space.map(address: 0, length: GuestLayout.pageSize, protection: PROT_READ | PROT_EXEC,
                          flags: MAP_PRIVATE, fd: fd, offset: 0)
        try #require(a > 0)
        let region = try #require(space.codeRegions.first)
        var st = stat()
        fstat(fd, &st)
        #expect(region.path == path && region.inode == UInt64(st.st_ino) && region.device == UInt64(st.st_dev))
        #expect(region.start == UInt64(a) && region.fileOffset == 0)
        // The fixture links its first segment at 0x400000: base = start - 0x400000.
        #expect(region.base == UInt64(a) &- 0x40_0000)
        _ = space.unmap(address: UInt64(a), length: GuestLayout.pageSize)
        #expect(space.codeRegions.isEmpty)
    }

    @Test func breakGrowsAndShrinksInPages() throws {
        let space = GuestAddressSpace()
        let base = GuestLayout.mmapBottom - 64 * GuestLayout.pageSize
        space.setBreakStart(base + 100)
        let start = GuestLayout.pageUp(base + 100)
        #expect(space.setBreak(0) == Int(start))
        #expect(space.setBreak(start + 10_000) == Int(start + 10_000))
        UnsafeMutableRawPointer(bitPattern: UInt(start + 9_000))!.storeBytes(of: 1, as: UInt8.self)
        #expect(space.mapping(containing: start + 9_000) != nil)
        #expect(space.setBreak(start + 10) == Int(start + 10))
        #expect(space.mapping(containing: start + 9_000) == nil)
        #expect(space.setBreak(start - GuestLayout.pageSize) == Int(start + 10), "below the start: unchanged")
        _ = space.setBreak(start)
    }
}

@Suite struct PathAndLayoutTests {
    @Test func pathsResolveRootfsFirstExceptHostDirectories() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-paths-\(getpid())").path
        try FileManager.default.createDirectory(atPath: root + "/usr/lib", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/usr/lib/only-in-rootfs", contents: Data())
        try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/kiln-rootfs-only", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/usr/lib/dangling", withDestinationPath: "/kiln-nowhere")
        // The same answers whether existence is checked by path or from the opened rootfs.
        let descriptor = open(root, GuestProcess.openPath | O_DIRECTORY | O_CLOEXEC)
        defer { close(descriptor) }
        #expect(descriptor >= 0)
        for paths in [PathResolver(rootfs: root + "/"), PathResolver(rootfs: root + "/", rootDescriptor: descriptor)] {
            #expect(paths.hostPath("/usr/lib/only-in-rootfs") == root + "/usr/lib/only-in-rootfs")
            #expect(paths.hostPath("//usr//lib/only-in-rootfs") == root + "//usr//lib/only-in-rootfs")
            #expect(paths.hostPath("/usr/lib/dangling") == root + "/usr/lib/dangling", "a dangling link in the rootfs is the rootfs's")
            #expect(paths.hostPath("/") == root + "/")
            #expect(paths.hostPath("/kiln-rootfs-only/new") == root + "/kiln-rootfs-only/new", "created in a directory only the rootfs has")
            #expect(paths.hostPath("/usr/lib/new-file") == "/usr/lib/new-file", "a directory both have: the host's, as qemu -L does")
            #expect(paths.hostPath("/etc/hostname") == "/etc/hostname", "absent from the rootfs: the host's")
            #expect(paths.hostPath("/tmp/x") == "/tmp/x", "/tmp is always the host's")
            #expect(paths.hostPath("/proc/self/maps") == "/proc/self/maps")
            #expect(paths.hostPath("/etc/ld.so.cache") == root + "/etc/ld.so.cache", "never the host's loader cache")
            #expect(paths.hostPath("/etc/ld.so.preload") == root + "/etc/ld.so.preload")
            #expect(paths.hostPath("relative/path") == "relative/path")
            #expect(paths.guestPath(root + "/usr/lib") == "/usr/lib")
            #expect(paths.guestPath("/home/user") == "/home/user")
        }
    }

    @Test func openFlagsRoundTrip() {
        // arm64 O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC|O_CREAT -> x86-64 bits and back.
        let arm: UInt64 = 0o40000 | 0o100000 | 0o2000000 | 0o100
        let host = LayoutConversion.hostOpenFlags(arm)
        #expect(host == UInt64(O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_CREAT))
        #expect(LayoutConversion.guestOpenFlags(host) == arm)
    }

    @Test func statConvertsToTheArm64Layout() throws {
        var host = stat()
        try #require(stat("/bin/sh", &host) == 0)
        var guest = [UInt8](repeating: 0xee, count: LayoutConversion.guestStatSize)
        withUnsafeBytes(of: &host) { h in guest.withUnsafeMutableBytes { LayoutConversion.convertStat(from: h.baseAddress!, to: $0.baseAddress!) } }
        func u64(_ o: Int) -> UInt64 { guest.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        func u32(_ o: Int) -> UInt32 { guest.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) } }
        #expect(u64(8) == UInt64(host.st_ino))
        #expect(u32(16) == host.st_mode && u32(20) == UInt32(host.st_nlink))
        #expect(u64(48) == UInt64(host.st_size) && u32(56) == UInt32(host.st_blksize) && u64(64) == UInt64(host.st_blocks))
        #expect(u64(88) == UInt64(host.st_mtim.tv_sec) && u64(96) == UInt64(host.st_mtim.tv_nsec))
    }

    @Test func tableCoversTheAsmGenericNumbers() {
        let table = SyscallTable.byNumber.compactMap { $0 }
        #expect(table.count > 300)
        #expect(SyscallTable.entry(56)?.name == "openat" && SyscallTable.entry(93)?.name == "exit")
        #expect(SyscallTable.entry(79)?.name == "newfstatat" && SyscallTable.entry(435)?.name == "clone3")
        // The masks calls read come from the same letters --strace prints.
        #expect(SyscallTable.entry(276)?.pathArguments == 0b1010 && SyscallTable.entry(276)?.descriptorArguments == 0b0101)
        #expect(SyscallTable.entry(63)?.argumentKinds == [.descriptor, .hex, .unsigned])
        for entry in table {
            #expect(entry.argumentKinds.count <= 6, "\(entry.name)")
            #expect(entry.argumentKinds.indices.filter { entry.argumentKinds[$0] == .path }.reduce(0) { $0 | 1 << $1 } == Int(entry.pathArguments))
            if case let .host(n) = entry.action, entry.pathArguments != 0 { Issue.record("\(entry.name) (host \(n)) takes a path but skips the resolver") }
        }
    }
}
