import Testing
@testable import KilnRootfs

@Suite struct DebianSourcesTests {
    @Test func deb822HostConfiguration() {
        let text = """
            Types: deb
            # http://snapshot.debian.org/archive/debian/20250520T000000Z
            URIs: http://deb.debian.org/debian
            Suites: bookworm bookworm-updates
            Components: main
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

            Types: deb
            URIs: http://deb.debian.org/debian-security/
            Suites: bookworm-security
            Components: main

            Types: deb-src
            URIs: http://example.org/src
            Suites: bookworm
            """
        let entries = DebianSources.parseDeb822(text)
        #expect(entries.count == 2)
        let sources = DebianSources.choose(from: entries, mirror: nil)
        #expect(sources.archive == "http://deb.debian.org/debian")
        #expect(sources.security == "http://deb.debian.org/debian-security")
        #expect(sources.sourcesList == """
            deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
            deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
            deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main

            """)
    }

    @Test func oneLineFormatSkipsThirdPartyAndSource() {
        let text = """
            # comment
            deb [arch=amd64 signed-by=/usr/share/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main
            deb-src http://ftp.de.debian.org/debian bookworm main
            deb http://ftp.de.debian.org/debian/ bookworm main contrib
            """
        let sources = DebianSources.choose(from: DebianSources.parseOneLine(text), mirror: nil)
        #expect(sources.archive == "http://ftp.de.debian.org/debian")
        #expect(sources.security == nil)
    }

    @Test func mirrorOptionReplacesTheArchive() {
        let entries = [DebianSources.Entry(uri: "http://deb.debian.org/debian", suites: ["bookworm"], signedBy: nil)]
        let sources = DebianSources.choose(from: entries, mirror: "http://mirror.example/debian")
        #expect(sources.archive == "http://mirror.example/debian")
    }

    @Test func noHostSourcesFallsBackToDebian() {
        #expect(DebianSources.choose(from: [], mirror: nil).archive == DebianSources.defaultArchive)
    }

    @Test func defaultDirectoryFollowsXDG() {
        #expect(RootfsLocation.defaultDirectory(environment: ["KILN_ROOTFS": "/r", "HOME": "/h"]) == "/r")
        #expect(RootfsLocation.defaultDirectory(environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"])
            == "/d/kiln/rootfs/debian-bookworm-arm64")
        #expect(RootfsLocation.defaultDirectory(environment: ["HOME": "/h"])
            == "/h/.local/share/kiln/rootfs/debian-bookworm-arm64")
        // The XDG spec says relative values are invalid and must be ignored.
        #expect(RootfsLocation.defaultDirectory(environment: ["XDG_DATA_HOME": "rel", "HOME": "/h"])
            == "/h/.local/share/kiln/rootfs/debian-bookworm-arm64")
    }
}
