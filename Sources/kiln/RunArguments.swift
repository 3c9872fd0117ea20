/// `kiln run`'s options as plain values: what `RunCommand` parses and what `run()` executes.
struct RunArguments: Equatable {
    var rootfs: String?
    var interp = false
    var jit = false
    var lockstep = false
    var smc: String?
    var strace = false
    var straceFile: String?
    var countInstructions = false
    var showRegions = false
    var cacheMode: String?
    var cacheReport = false
    var cacheReportJSON = false
    var argv0: String?
    var straceDescriptor: Int32?
    /// The program and its arguments (a leading "--" kept, as the argument parser keeps it).
    var command: [String] = []
}

extension RunArguments {
    /// How one of Kiln's own `run` options is stored.
    enum OptionKind {
        case flag(WritableKeyPath<RunArguments, Bool>)
        case value(WritableKeyPath<RunArguments, String?>)
        case descriptor
    }

    /// `RunCommand`'s options by name. `RunArgumentsTests` checks that this table and the
    /// argument parser read every command line the same way.
    static let options: [String: OptionKind] = [
        "--rootfs": .value(\.rootfs),
        "--interp": .flag(\.interp),
        "--jit": .flag(\.jit),
        "--lockstep": .flag(\.lockstep),
        "--smc": .value(\.smc),
        "--strace": .flag(\.strace),
        "--strace-file": .value(\.straceFile),
        "--count-instructions": .flag(\.countInstructions),
        "--regions": .flag(\.showRegions),
        "--cache": .value(\.cacheMode),
        "--cache-report": .flag(\.cacheReport),
        "--cache-report-json": .flag(\.cacheReportJSON),
        "--argv0": .value(\.argv0),
        "--strace-descriptor": .descriptor,
    ]

    /// The arguments after `run`, read without the argument parser, whose reflection over
    /// `RunCommand` cost ~2 ms of every `kiln run` (16% of running a program that exits at
    /// once; execve'd guest programs pay it again). Nil for anything but a plain command line
    /// (help, an unknown option, a missing or malformed value): the argument parser then
    /// reads it and gives its own messages.
    static func parseQuickly(_ arguments: [String]) -> RunArguments? {
        var result = RunArguments()
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("-"), argument != "--" else { break }
            guard argument.hasPrefix("--") else { return nil }
            var name = Substring(argument), inlineValue: String?
            if let equals = argument.firstIndex(of: "=") {
                name = argument[..<equals]
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            guard let kind = options[String(name)] else { return nil }
            switch kind {
            case .flag(let path):
                guard inlineValue == nil else { return nil }
                result[keyPath: path] = true
                i += 1
            case .value, .descriptor:
                // The argument parser does not take an option-like word as the next value.
                guard let value = inlineValue ?? (i + 1 < arguments.count && !arguments[i + 1].hasPrefix("-") ? arguments[i + 1] : nil),
                      !value.isEmpty || inlineValue == nil else {
                    return nil
                }
                if case .value(let path) = kind {
                    result[keyPath: path] = value
                } else {
                    guard let descriptor = Int32(value) else { return nil }
                    result.straceDescriptor = descriptor
                }
                i += inlineValue == nil ? 2 : 1
            }
        }
        result.command = Array(arguments[i...])
        return result
    }
}
