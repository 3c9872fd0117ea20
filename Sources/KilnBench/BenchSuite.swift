#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KilnHost

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
        let value: JSONValue
        do {
            value = try JSONValue(parsing: data)
        } catch {
            throw BenchError.suite("suite is not valid JSON: \(JSONValue.reason(error))")
        }
        guard let top = value.object else { throw BenchError.suite("suite must be a JSON object with \"workloads\"") }
        let known: Set<String> = ["runs", "warmup", "workloads"]
        if let unknown = top.keys.sorted().first(where: { !known.contains($0) }) {
            throw BenchError.suite("suite: unknown field \"\(unknown)\" (known: runs, warmup, workloads)")
        }
        runs = try Self.integer(top["runs"], "runs")
        warmup = try Self.integer(top["warmup"], "warmup")
        guard let list = top["workloads"]?.array, !list.isEmpty else {
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
        try self.init(json: data, baseDirectory: HostPath.deletingLastComponent(path))
    }

    private static func workload(_ item: JSONValue, index: Int, baseDirectory: String) throws -> Workload {
        let place = "suite: workloads[\(index)]"
        guard let fields = item.object else { throw BenchError.suite("\(place) must be an object") }
        let known: Set<String> = ["name", "command", "qemu", "native", "stdin"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw BenchError.suite("\(place): unknown field \"\(unknown)\" (known: name, command, qemu, native, stdin)")
        }
        guard let command = fields["command"]?.strings, !command.isEmpty else {
            throw BenchError.suite("\(place): \"command\" must be a non-empty array of strings")
        }
        if fields["name"] != nil, fields["name"]?.string == nil { throw BenchError.suite("\(place): \"name\" must be a string") }
        if fields["native"] != nil, fields["native"]?.string == nil { throw BenchError.suite("\(place): \"native\" must be a string") }
        if fields["stdin"] != nil, fields["stdin"]?.string == nil { throw BenchError.suite("\(place): \"stdin\" must be a string") }
        if fields["qemu"] != nil, fields["qemu"]?.boolean == nil {
            throw BenchError.suite("\(place): \"qemu\" must be true or false")
        }
        let name = fields["name"]?.string ?? command.map { HostPath.lastComponent($0) }.joined(separator: " ")
        let stdin = fields["stdin"]?.string.map { $0.hasPrefix("/") ? $0 : baseDirectory + "/" + $0 }
        return Workload(name: name, command: command, qemu: fields["qemu"]?.boolean ?? false,
                        native: fields["native"]?.string, stdinPath: stdin)
    }

    private static func integer(_ value: JSONValue?, _ field: String) throws -> Int? {
        guard let value else { return nil }
        guard let number = value.integer else { throw BenchError.suite("suite: \"\(field)\" must be an integer") }
        return number
    }
}

/// A parsed JSON value of any shape, for input read field by field with errors that name the
/// field (suite files, the cache report). Booleans and numbers stay apart.
enum JSONValue: Decodable, Equatable {
    case null
    case boolean(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(parsing data: Data) throws { self = try JSONDecoder().decode(JSONValue.self, from: data) }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .boolean(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    var boolean: Bool? { if case .boolean(let value) = self { return value } else { return nil } }
    var number: Double? { if case .number(let value) = self { return value } else { return nil } }
    var integer: Int? { number.flatMap { Int(exactly: $0) } }
    var string: String? { if case .string(let value) = self { return value } else { return nil } }
    var array: [JSONValue]? { if case .array(let value) = self { return value } else { return nil } }
    var object: [String: JSONValue]? { if case .object(let value) = self { return value } else { return nil } }

    /// An array of strings only.
    var strings: [String]? {
        guard let array else { return nil }
        let strings = array.compactMap(\.string)
        return strings.count == array.count ? strings : nil
    }

    /// Why `JSONValue(parsing:)` failed, in a sentence.
    static func reason(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        return "\(error)"
    }
}
