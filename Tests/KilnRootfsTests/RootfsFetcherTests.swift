import Foundation
import Testing
import KilnTestSupport
@testable import KilnRootfs

private func temporaryDirectory(_ tag: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-\(tag)-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct RootfsManifestTests {
    let sample = RootfsManifest(suite: "bookworm", requested: ["busybox-static", "libc6"], packages: [
        .init(name: "busybox-static", version: "1:1.35.0-4+deb12u1+b1", architecture: "arm64", sha256: String(repeating: "a", count: 64)),
        .init(name: "libc6", version: "2.36-9+deb12u14", architecture: "arm64", sha256: String(repeating: "b", count: 64)),
    ])

    @Test func roundTripsWithDeterministicBytes() throws {
        let dir = try temporaryDirectory("manifest")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = try sample.encoded()
        #expect(try sample.encoded() == bytes)
        FileManager.default.createFile(atPath: dir + "/" + RootfsManifest.fileName, contents: bytes)
        #expect(try RootfsManifest.load(fromRootfs: dir) == sample)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"sha256\" : \"aaaa"))
        #expect(text.range(of: "\"architecture\"")!.lowerBound < text.range(of: "\"format\"")!.lowerBound, "sorted keys")
    }

    @Test func completenessNeedsManifestAndNoMarker() throws {
        let dir = try temporaryDirectory("complete")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(!RootfsManifest.isComplete(rootfs: dir))
        #expect(try RootfsManifest.load(fromRootfs: dir) == nil)
        FileManager.default.createFile(atPath: dir + "/" + RootfsManifest.fileName, contents: try sample.encoded())
        #expect(RootfsManifest.isComplete(rootfs: dir))
        FileManager.default.createFile(atPath: dir + "/" + RootfsManifest.incompleteMarker, contents: Data())
        #expect(!RootfsManifest.isComplete(rootfs: dir))
    }

    @Test func corruptManifestIsReported() throws {
        let dir = try temporaryDirectory("corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/" + RootfsManifest.fileName, contents: Data("{\"format\": 1, \"suite\":".utf8))
        #expect {
            try RootfsManifest.load(fromRootfs: dir)
        } throws: { error in
            guard case RootfsError.corruptManifest = error else { return false }
            return true
        }
    }
}

@Suite struct RootfsFetcherErrorTests {
    @Test func missingAptIsReported() throws {
        let dir = try temporaryDirectory("noapt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fetcher = RootfsFetcher(directory: dir + "/rootfs", sources: .fromHost(mirror: nil), toolSearchPath: [dir])
        #expect {
            try fetcher.fetch(["lua5.4"])
        } throws: { error in
            guard case RootfsError.toolMissing(tool: "apt-get", hint: _) = error else { return false }
            return "\(error)".contains("apt-get not found")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/rootfs"), "nothing created before the tools are found")
    }

    @Test(.enabled(if: TestEnvironment.which("apt-get") != nil))
    func unwritableDirectoryIsReported() throws {
        let dir = try temporaryDirectory("unwritable")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/file", contents: Data("x".utf8))
        // A path below a regular file cannot be created, even by root.
        let fetcher = RootfsFetcher(directory: dir + "/file/rootfs", sources: .fromHost(mirror: nil))
        #expect {
            try fetcher.fetch([])
        } throws: { error in
            guard case RootfsError.directoryNotWritable(path: dir + "/file/rootfs", reason: _) = error else { return false }
            return true
        }
    }

    @Test(.enabled(if: TestEnvironment.which("apt-get") != nil))
    func concurrentFetchIsRefused() throws {
        let dir = try temporaryDirectory("busy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/.kiln-apt", withIntermediateDirectories: true)
        let fd = open(dir + "/.kiln-apt/lock", O_CREAT | O_RDWR, 0o600)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX) == 0)
        let fetcher = RootfsFetcher(directory: dir, sources: .fromHost(mirror: nil))
        #expect(throws: RootfsError.busy(path: dir)) { try fetcher.fetch([]) }
    }
}

/// A small tmpfs, where the test may mount one (root with CAP_SYS_ADMIN); elsewhere these
/// tests are skipped and the disk-full path is covered only by the unit tests above.
private enum SmallFileSystem {
    static let canMount: Bool = {
        guard let dir = try? temporaryDirectory("mountprobe") else { return false }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard (try? runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=1M", "tmpfs", dir]))?.status == 0 else { return false }
        _ = try? runProcess("/bin/umount", [dir])
        return true
    }()
}

@Suite(.enabled(if: SmallFileSystem.canMount && TestEnvironment.which("apt-get") != nil))
struct RootfsDiskFullTests {
    @Test func fullDiskFailsUpFrontWithSizes() throws {
        let mountPoint = try temporaryDirectory("tinyfs")
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        try #require(try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=3M", "tmpfs", mountPoint]).status == 0)
        defer { _ = try? runProcess("/bin/umount", [mountPoint]) }
        let fetcher = RootfsFetcher(directory: mountPoint + "/rootfs", sources: .fromHost(mirror: nil))
        #expect {
            try fetcher.fetch(["lua5.4"])
        } throws: { error in
            guard case RootfsError.diskFull(path: _, needed: let needed?, available: let available?) = error else { return false }
            return needed > available && "\(error)".contains("not enough disk space")
        }
        #expect(!RootfsManifest.isComplete(rootfs: mountPoint + "/rootfs"))
    }
}

/// Against Debian's real arm64 archive and the rootfs CI fetched (`KILN_REQUIRE_ROOTFS=1`).
@Suite(.serialized, .enabled(if: TestEnvironment.rootfsTestsEnabled))
struct RootfsFetchNetworkTests {
    @Test func refetchOfExistingRootfsIsANoOp() throws {
        let dir = TestEnvironment.rootfsPath
        try #require(RootfsManifest.isComplete(rootfs: dir), "no complete rootfs at \(dir); run kiln rootfs fetch")
        let before = try RootfsManifest.load(fromRootfs: dir)
        var events: [RootfsProgress] = []
        let result = try RootfsFetcher(directory: dir, sources: .fromHost(mirror: nil)).fetch([]) { events.append($0) }
        #expect(result.added.isEmpty)
        #expect(result.manifest == before)
        #expect(events.contains { if case .upToDate = $0 { return true } else { return false } })
        #expect(RootfsManifest.isComplete(rootfs: dir))
    }

    @Test func unknownPackageFailsClearly() throws {
        let dir = TestEnvironment.rootfsPath
        try #require(RootfsManifest.isComplete(rootfs: dir), "no complete rootfs at \(dir)")
        #expect(throws: RootfsError.unknownPackages(["kiln-no-such-package"])) {
            try RootfsFetcher(directory: dir, sources: .fromHost(mirror: nil)).fetch(["kiln-no-such-package"])
        }
        #expect(RootfsManifest.isComplete(rootfs: dir), "a failed fetch leaves the rootfs as it was")
    }

    @Test(.enabled(if: TestEnvironment.which("qemu-aarch64") != nil || TestEnvironment.rootfsRequired))
    func rootfsRunsLuaUnderQemu() throws {
        let dir = TestEnvironment.rootfsPath
        let qemu = try #require(TestEnvironment.which("qemu-aarch64"))
        let manifest = try #require(try RootfsManifest.load(fromRootfs: dir))
        try #require(manifest.packages.contains { $0.name == "lua5.4" }, "CI's rootfs includes lua5.4")
        let result = try runProcess(qemu, ["-L", dir, dir + "/usr/bin/lua5.4", "-e", "print(6*7)"])
        #expect(result.stdoutText == "42\n")
        #expect(result.status == 0)
    }

    /// A fresh rootfs gets the defaults; adding a package extracts only it; again is a no-op.
    @Test func freshFetchThenIncrementalAdd() throws {
        let dir = try temporaryDirectory("fresh")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fetcher = RootfsFetcher(directory: dir, sources: .fromHost(mirror: nil))
        let first = try fetcher.fetch([])
        let names = Set(first.manifest.packages.map(\.name))
        #expect(names.isSuperset(of: RootfsFetcher.defaultPackages))
        #expect(first.manifest.packages.allSatisfy { $0.sha256.count == 64 })
        #expect(RootfsManifest.isComplete(rootfs: dir))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/lib")) == "usr/lib")
        #expect(FileManager.default.fileExists(atPath: dir + "/lib/ld-linux-aarch64.so.1"))
        #expect(FileManager.default.fileExists(atPath: dir + "/usr/lib/ld-linux-aarch64.so.1"))

        let second = try fetcher.fetch(["zlib1g"])
        #expect(second.added.map(\.name) == ["zlib1g"])
        #expect(second.manifest.requested.contains("zlib1g"))
        #expect(FileManager.default.fileExists(atPath: dir + "/usr/lib/aarch64-linux-gnu/libz.so.1"))

        let third = try fetcher.fetch(["zlib1g"])
        #expect(third.added.isEmpty)
        #expect(third.manifest == second.manifest)

        if let qemu = TestEnvironment.which("qemu-aarch64") {
            let echo = try runProcess(qemu, [dir + "/usr/bin/busybox", "echo", "arm64 busybox"])
            #expect(echo.stdoutText == "arm64 busybox\n")
        }
    }
}
