import Foundation

/// A fresh directory under the system temporary directory, removed when the value dies.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let template = NSTemporaryDirectory() + "kiln-cache-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw POSIXError(.EIO) }
        path = String(cString: bytes)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

