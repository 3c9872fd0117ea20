import Foundation
import Testing
import KilnTestSupport
@testable import KilnAOT

private func makeRootfs(_ tag: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-closure-\(tag)-\(getpid())").path
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct LibraryClosureTests {
    @Test func symlinksResolveInsideTheRootfs() throws {
        let root = try makeRootfs("links")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/usr/lib/aarch64-linux-gnu", withIntermediateDirectories: true)
        fm.createFile(atPath: root + "/usr/lib/aarch64-linux-gnu/libz.so.1.2.13", contents: Data())
        try fm.createSymbolicLink(atPath: root + "/lib", withDestinationPath: "usr/lib")
        try fm.createSymbolicLink(atPath: root + "/usr/lib/aarch64-linux-gnu/libz.so.1", withDestinationPath: "libz.so.1.2.13")
        // An absolute target means the rootfs's own /usr, never the host's.
        try fm.createSymbolicLink(atPath: root + "/usr/lib/aarch64-linux-gnu/libz.so", withDestinationPath: "/lib/aarch64-linux-gnu/libz.so.1")
        try fm.createSymbolicLink(atPath: root + "/loop", withDestinationPath: "/loop")
        let closure = LibraryClosure(rootfs: root + "/")
        #expect(closure.resolve("/lib/aarch64-linux-gnu/libz.so") == "/usr/lib/aarch64-linux-gnu/libz.so.1.2.13")
        #expect(closure.resolve("/lib/../lib/./aarch64-linux-gnu/libz.so.1") == "/usr/lib/aarch64-linux-gnu/libz.so.1.2.13")
        #expect(closure.resolve("/lib/aarch64-linux-gnu/missing.so") == nil)
        #expect(closure.resolve("/loop") == nil, "symlink loops end")
    }

    @Test func ldSoConfIncludesAreFollowed() throws {
        let root = try makeRootfs("conf")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/etc/ld.so.conf.d", withIntermediateDirectories: true)
        try "include /etc/ld.so.conf.d/*.conf\n/opt/first # trailing comment\n".write(toFile: root + "/etc/ld.so.conf", atomically: true, encoding: .utf8)
        try "# Multiarch support\n/usr/local/lib/aarch64-linux-gnu\n/lib/aarch64-linux-gnu\n".write(toFile: root + "/etc/ld.so.conf.d/aarch64-linux-gnu.conf", atomically: true, encoding: .utf8)
        try "/usr/local/lib\n".write(toFile: root + "/etc/ld.so.conf.d/libc.conf", atomically: true, encoding: .utf8)
        try "/ignored\n".write(toFile: root + "/etc/ld.so.conf.d/notes.txt", atomically: true, encoding: .utf8)
        #expect(LibraryClosure(rootfs: root).configuredDirectories
            == ["/usr/local/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/local/lib", "/opt/first"])
    }

    @Test func originAndPlatformExpand() {
        let closure = LibraryClosure(rootfs: "/nonexistent")
        #expect(closure.expand("$ORIGIN/../lib:${ORIGIN}/plugins:/opt/$LIB/$PLATFORM:relative", origin: "/usr/bin/tool")
            == ["/usr/bin/../lib", "/usr/bin/plugins", "/opt/lib/aarch64"])
    }

    /// The closure agrees with Debian's own arm64 ld.so (`--list`, run under qemu-aarch64).
    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled), arguments: ["/usr/bin/python3.11", "/usr/bin/sqlite3", "/usr/bin/perl", "/usr/bin/jq"])
    func closureMatchesTheArm64DynamicLoader(program: String) throws {
        let root = TestEnvironment.rootfsPath
        let qemu = try #require(TestEnvironment.which("qemu-aarch64"))
        let closure = LibraryClosure(rootfs: root)
        let objects = try closure.closure(ofProgram: program)
        #expect(objects.first?.role == .program)
        #expect(objects.dropFirst().first?.role == .interpreter)
        let listing = try runProcess(qemu, ["-L", root, root + "/lib/ld-linux-aarch64.so.1", "--list", root + program])
        try #require(listing.status == 0, "\(listing.stderrText)")
        var expected = Set<String>()
        for line in listing.stdoutText.split(separator: "\n") {
            // "\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 (0x...)"
            guard let arrow = line.range(of: " => ") else { continue }
            let path = line[arrow.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            if path.hasPrefix("/"), !path.hasPrefix(root) { expected.insert(closure.resolve(path) ?? path) }
        }
        let libraries = Set(objects.filter { $0.role == .library }.map(\.guestPath))
        #expect(libraries == expected)
        for object in objects { #expect(FileManager.default.fileExists(atPath: object.hostPath)) }
    }

    @Test(.enabled(if: TestEnvironment.rootfsTestsEnabled))
    func missingFilesAreNamed() throws {
        let root = try makeRootfs("missing")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestEnvironment.rootfsPath + "/usr/bin/sqlite3", toPath: root + "/usr/bin/sqlite3")
        #expect {
            try LibraryClosure(rootfs: root).closure(ofProgram: "/usr/bin/sqlite3")
        } throws: { error in
            guard case LibraryClosureError.notFound(guestPath: "/lib/ld-linux-aarch64.so.1", rootfs: _) = error else { return false }
            return true
        }
        #expect(throws: LibraryClosureError.notFound(guestPath: "/usr/bin/none", rootfs: root)) {
            try LibraryClosure(rootfs: root).closure(ofProgram: "/usr/bin/none")
        }

        // With the interpreter present, the first DT_NEEDED library is what is missing.
        try FileManager.default.createDirectory(atPath: root + "/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestEnvironment.rootfsPath + "/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
                                         toPath: root + "/lib/ld-linux-aarch64.so.1")
        #expect {
            try LibraryClosure(rootfs: root).closure(ofProgram: "/usr/bin/sqlite3")
        } throws: { error in
            guard case let LibraryClosureError.missingLibrary(name, neededBy, searched) = error else { return false }
            return name.hasPrefix("lib") && neededBy == "/usr/bin/sqlite3" && searched.contains("/usr/lib/aarch64-linux-gnu")
                && "\(error)".contains("needed by /usr/bin/sqlite3")
        }
    }
}
