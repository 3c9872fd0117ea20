import Foundation
import Testing
import KilnTestSupport
@testable import KilnRootfs

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func publishedVectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func millionAs() {
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Odd-sized chunks exercise the buffering between whole blocks.
    @Test func chunkedUpdatesMatchOneShot() {
        var generator = SystemRandomNumberGenerator()
        let data = (0 ..< 10_007).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        var hasher = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 127, 1000, 3] + Array(repeating: 500, count: 20) where offset < data.count {
            let end = min(data.count, offset + size)
            data[offset ..< end].withUnsafeBytes { hasher.update($0) }
            offset = end
        }
        data[offset...].withUnsafeBytes { hasher.update($0) }
        #expect(SHA256.hexString(hasher.finalize()) == SHA256.hex(data))
    }

    @Test(.enabled(if: TestEnvironment.which("sha256sum") != nil))
    func matchesSha256sumOnRandomFiles() throws {
        for size in [0, 55, 56, 64, 1 << 20, (1 << 20) + 13] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-sha-\(getpid())-\(size)").path
            defer { unlink(path) }
            let bytes = (0 ..< size).map { _ in UInt8.random(in: 0 ... 255) }
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let expected = try runProcess(TestEnvironment.which("sha256sum")!, [path]).stdoutText.prefix(64)
            #expect(try RootfsFetcher.sha256(ofFile: path) == String(expected), "size \(size)")
        }
    }
}
