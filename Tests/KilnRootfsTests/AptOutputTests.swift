import Testing
@testable import KilnRootfs

/// apt's output as `kiln rootfs fetch` reads it, captured from apt 2.6 (Debian bookworm).
@Suite struct AptOutputTests {
    @Test func simulationListsTheClosureWithArchitectures() {
        let output = """
            NOTE: This is only a simulation!
            Reading package lists...
            Inst gcc-12-base (12.2.0-14+deb12u1 Debian:12.15/oldstable [arm64])
            Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64]) []
            Inst readline-common (8.2-1.3 Debian:12.15/oldstable [all])
            Inst busybox-static (1:1.35.0-4+deb12u1+b1 Debian:12.15/oldstable [arm64])
            Conf libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64])
            """
        let packages = IsolatedApt.parseSimulation(output)
        #expect(packages == [
            ResolvedPackage(name: "busybox-static", version: "1:1.35.0-4+deb12u1+b1", architecture: "arm64"),
            ResolvedPackage(name: "gcc-12-base", version: "12.2.0-14+deb12u1", architecture: "arm64"),
            ResolvedPackage(name: "libc6", version: "2.36-9+deb12u14", architecture: "arm64"),
            ResolvedPackage(name: "readline-common", version: "8.2-1.3", architecture: "all"),
        ])
    }

    @Test func printURIsGivesSizesAndIndexDigests() {
        let output = """
            'http://deb.debian.org/debian/pool/main/l/lua5.4/lua5.4_5.4.4-3%2bdeb12u1_arm64.deb' lua5.4_5.4.4-3+deb12u1_arm64.deb 118924 SHA256:fbcf06f6b3b6c61f7dad18ddbbd1e4c01f96a676554165fd6a96d77683e8381b
            'http://deb.debian.org/debian/pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_arm64.deb' zlib1g_1%3a1.2.13.dfsg-1_arm64.deb 82744 SHA256:52b8b8a145bbe1956bba82034f77022cbef0c3d0885c9e32d9817a7932fe1913
            """
        #expect(IsolatedApt.parsePrintURIs(output) == [
            .init(fileName: "lua5.4_5.4.4-3+deb12u1_arm64.deb", size: 118924,
                  sha256: "fbcf06f6b3b6c61f7dad18ddbbd1e4c01f96a676554165fd6a96d77683e8381b"),
            .init(fileName: "zlib1g_1%3a1.2.13.dfsg-1_arm64.deb", size: 82744,
                  sha256: "52b8b8a145bbe1956bba82034f77022cbef0c3d0885c9e32d9817a7932fe1913"),
        ])
    }

    @Test func unknownPackagesAreNamed() {
        let stderr = """
            E: Unable to locate package nosuch-pkg
            E: Package 'virtual-only' has no installation candidate
            """
        #expect(IsolatedApt.unknownPackages(in: stderr) == ["nosuch-pkg", "virtual-only"])
    }

    @Test func networkFailuresAreRecognised() {
        #expect(IsolatedApt.isNetworkFailure("Err:1 http://deb.debian.org/debian bookworm InRelease\n  Temporary failure resolving 'deb.debian.org'"))
        #expect(!IsolatedApt.isNetworkFailure("Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]"))
        #expect(throws: RootfsError.diskFull(path: "/x", needed: nil, available: nil)) {
            try IsolatedApt.checkDiskFull("dpkg-deb: error: cannot write: No space left on device", path: "/x")
        }
    }

    @Test func mergedUsrMapping() {
        #expect(DebExtractor.mergedPath("lib/ld-linux-aarch64.so.1") == "usr/lib/ld-linux-aarch64.so.1")
        #expect(DebExtractor.mergedPath("bin") == "usr/bin")
        #expect(DebExtractor.mergedPath("sbin/ldconfig") == "usr/sbin/ldconfig")
        #expect(DebExtractor.mergedPath("usr/lib/x") == "usr/lib/x")
        #expect(DebExtractor.mergedPath("library/x") == "library/x")
        #expect(DebExtractor.mergedPath("etc/ld.so.conf") == "etc/ld.so.conf")
    }
}
