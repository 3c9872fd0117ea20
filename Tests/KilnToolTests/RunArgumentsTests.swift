import ArgumentParser
import Testing
@testable import kiln

/// `kiln run`'s quick reader must read every command line it accepts exactly as the argument
/// parser does, and leave to the parser everything that needs its messages.
@Suite struct RunArgumentsTests {
    static let accepted: [[String]] = [
        ["/bin/true"],
        ["--rootfs", "/r", "/usr/bin/python3.11", "-c", "pass"],
        ["--rootfs=/r", "--cache", "readonly", "--cache-report", "prog", "--rootfs", "guest-arg"],
        ["--interp", "--count-instructions", "--regions", "prog"],
        ["--jit", "--lockstep", "--smc", "full", "--strace", "prog", "--interp"],
        ["--strace-file", "/tmp/trace", "--argv0", "name", "--strace-descriptor", "903", "prog", "a", "b"],
        ["--cache=off", "--cache-report-json", "--", "-prog", "x"],
        ["--rootfs", "/a", "--rootfs", "/b", "prog"],
        ["--"],
        ["", "x"],
        [],
    ]

    static let leftToTheParser: [[String]] = [
        ["--help"], ["-h"], ["--version"], ["--no-such-option", "prog"], ["--rootfs"], ["--rootfs", "--interp", "prog"],
        ["--interp=yes", "prog"], ["--rootfs=", "prog"], ["--strace-descriptor", "x", "prog"], ["-x", "prog"],
    ]

    @Test(arguments: accepted)
    func quickReaderAgreesWithTheArgumentParser(_ line: [String]) throws {
        let quick = try #require(RunArguments.parseQuickly(line))
        let parsed = RunArguments(try RunCommand.parse(line))
        #expect(quick == parsed)
    }

    @Test(arguments: leftToTheParser)
    func unusualLinesGoToTheArgumentParser(_ line: [String]) {
        #expect(RunArguments.parseQuickly(line) == nil)
    }

    /// Every option the help shows is in the quick table, and every table entry is an option
    /// the argument parser reads the same way.
    @Test func theQuickTableMatchesRunCommandsOptions() throws {
        let words = RunCommand.helpMessage(columns: 400).split(whereSeparator: { " \n,<[".contains($0) }).map(String.init)
        let shown = Set(words.filter { $0.hasPrefix("--") && $0.dropFirst(2).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } })
            .subtracting(["--help", "--version"])
        #expect(shown.count >= 10)
        for name in shown { #expect(RunArguments.options[name] != nil, "\(name) is not read by RunArguments.parseQuickly") }
        for (name, kind) in RunArguments.options {
            var line = [name]
            switch kind {
            case .flag: break
            case .value: line.append("v")
            case .descriptor: line.append("7")
            }
            line.append("prog")
            let quick = try #require(RunArguments.parseQuickly(line))
            #expect(quick == RunArguments(try RunCommand.parse(line)), "\(line)")
        }
    }
}
