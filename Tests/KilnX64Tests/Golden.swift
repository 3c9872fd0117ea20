import Foundation
import KilnTestSupport

/// Golden files under Tests/KilnX64Tests/Golden; `KILN_UPDATE_GOLDEN=1` rewrites them.
enum Golden {
    static var directory: URL {
        TestEnvironment.repositoryRoot.appendingPathComponent("Tests/KilnX64Tests/Golden")
    }
    static var updating: Bool { ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" }

    /// The committed text of `name`, or (when updating) writes `actual` and returns it.
    static func check(_ name: String, _ actual: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        if updating {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return actual
        }
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }
}
