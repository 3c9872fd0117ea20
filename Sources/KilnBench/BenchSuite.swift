import Foundation

/// A `--suite` file: several workloads benchmarked in one report. JSON, documented in
/// docs/BENCH.md:
///
///     {"runs": 5, "warmup": 1,
///      "workloads": [{"name": "python", "command": ["/usr/bin/python3.11", "-c", "pass"],
///                     "qemu": true, "native": "python3.11 -c pass", "stdin": "input.txt"}]}
public struct BenchSuite: Equatable, Sendable {
    public var runs: Int?
    public var warmup: Int?
    public var workloads: [Workload]

    /// One program and its arguments, with optional peers.
    public struct Workload: Equatable, Sendable {
        public var name: String
        /// The guest program and its arguments, as given to `kiln run`.
        public var command: [String]
        public var qemu: Bool
        /// A shell command doing the same work natively, or nil.
        public var native: String?
        /// A file fed to every run's stdin (relative paths are relative to the suite file).
        public var stdinPath: String?
    }

    /// Parses a suite; `baseDirectory` resolves relative stdin paths.
    public init(json data: Data, baseDirectory: String) throws {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw BenchError.suite("suite is not valid JSON: \(error.localizedDescription)")
        }
        guard let top = object as? [String: Any] else { throw BenchError.suite("suite must be a JSON object with \"workloads\"") }
        let known: Set<String> = ["runs", "warmup", "workloads"]
        if let unknown = top.keys.sorted().first(where: { !known.contains($0) }) {
            throw BenchError.suite("suite: unknown field \"\(unknown)\" (known: runs, warmup, workloads)")
        }
        runs = try Self.integer(top["runs"], "runs")
        warmup = try Self.integer(top["warmup"], "warmup")
        guard let list = top["workloads"] as? [Any], !list.isEmpty else {
            throw BenchError.suite("suite: \"workloads\" must be a non-empty array")
        }
        workloads = try list.enumerated().map { index, item in
            try Self.workload(item, index: index, baseDirectory: baseDirectory)
        }
        var seen = Set<String>()
        for workload in workloads where !seen.insert(workload.name).inserted {
            throw BenchError.suite("suite: two workloads are named \"\(workload.name)\"")
        }
    }

    /// Reads and parses the suite file at `path`.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchError.suite("cannot read suite file \(path)") }
        try self.init(json: data, baseDirectory: (path as NSString).deletingLastPathComponent)
    }

    private static func workload(_ item: Any, index: Int, baseDirectory: String) throws -> Workload {
        let place = "suite: workloads[\(index)]"
        guard let fields = item as? [String: Any] else { throw BenchError.suite("\(place) must be an object") }
        let known: Set<String> = ["name", "command", "qemu", "native", "stdin"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw BenchError.suite("\(place): unknown field \"\(unknown)\" (known: name, command, qemu, native, stdin)")
        }
        guard let command = fields["command"] as? [String], !command.isEmpty else {
            throw BenchError.suite("\(place): \"command\" must be a non-empty array of strings")
        }
        if fields["name"] != nil, !(fields["name"] is String) { throw BenchError.suite("\(place): \"name\" must be a string") }
        if fields["native"] != nil, !(fields["native"] is String) { throw BenchError.suite("\(place): \"native\" must be a string") }
        if fields["stdin"] != nil, !(fields["stdin"] is String) { throw BenchError.suite("\(place): \"stdin\" must be a string") }
        if fields["qemu"] != nil, !JSONValue.isBoolean(fields["qemu"]) {
            throw BenchError.suite("\(place): \"qemu\" must be true or false")
        }
        let name = (fields["name"] as? String) ?? command.map { ($0 as NSString).lastPathComponent }.joined(separator: " ")
        let stdin = (fields["stdin"] as? String).map { $0.hasPrefix("/") ? $0 : baseDirectory + "/" + $0 }
        return Workload(name: name, command: command, qemu: JSONValue.boolean(fields["qemu"]) ?? false,
                        native: fields["native"] as? String, stdinPath: stdin)
    }

    private static func integer(_ value: Any?, _ field: String) throws -> Int? {
        guard let value else { return nil }
        guard let number = JSONValue.integer(value) else { throw BenchError.suite("suite: \"\(field)\" must be an integer") }
        return number
    }
}

/// JSONSerialization gives every JSON number and boolean as NSNumber, and an NSNumber 0 or 1
/// casts to Bool: only the stored type (`c` for booleans) tells them apart.
enum JSONValue {
    static func isBoolean(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    static func boolean(_ value: Any?) -> Bool? { isBoolean(value) ? (value as? NSNumber)?.boolValue : nil }

    static func number(_ value: Any?) -> Double? {
        guard let number = value as? NSNumber, !isBoolean(value) else { return nil }
        return number.doubleValue
    }

    static func integer(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber, !isBoolean(value), let integer = Int(exactly: number.doubleValue) else { return nil }
        return integer
    }
}
