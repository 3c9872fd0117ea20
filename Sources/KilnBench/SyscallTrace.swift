import KilnHost

/// A `kiln run --strace-file` trace reduced to what must agree between two runs of the same
/// program: system call names, arguments and results, with values that legitimately differ
/// from run to run replaced by placeholders.
public enum SyscallTrace {
    /// Hex values at or above this are treated as addresses (stack, heap, mappings), which
    /// depend on what else the run mapped; smaller ones are flags, modes and sizes.
    public static let addressThreshold: UInt64 = 0x10_0000

    /// Calls whose result is a process or thread id.
    static let idResults: Set<String> = ["getpid", "gettid", "getppid", "set_tid_address", "clone", "clone3", "fork", "vfork"]

    /// The normalised lines of `text`: process ids (the leading column and the results of
    /// calls that return one, and wherever the same number appears as a word, as in a file
    /// named after the pid or wait4's argument) become P1, P2, ... in
    /// order of first appearance; addresses become `<addr>`; the results of calls returning a
    /// process or thread id become `<pid>`.
    public static func normalize(_ text: String) -> [String] {
        let raw = text.split(separator: "\n", omittingEmptySubsequences: true)
        var processes: [Substring: String] = [:]
        var split: [(pid: Substring?, body: Substring)] = []
        for line in raw {
            if let space = line.firstIndex(of: " "), space > line.startIndex, line[..<space].allSatisfy(\.isNumber) {
                let pid = line[..<space]
                if processes[pid] == nil { processes[pid] = "P\(processes.count + 1)" }
                split.append((pid, line[line.index(after: space)...]))
            } else {
                split.append((nil, line))
            }
            // A child's id (clone's result) names it in later arguments too, e.g. wait4's.
            let body = split[split.count - 1].body
            if let paren = body.firstIndex(of: "("), idResults.contains(String(body[..<paren])),
               let equals = body.lastRange(of: " = ") {
                let result = body[equals.upperBound...]
                if !result.isEmpty, result.allSatisfy(\.isNumber), processes[result] == nil {
                    processes[result] = "P\(processes.count + 1)"
                }
            }
        }
        return split.map { pid, body in
            var line = replaceAddresses(replaceNumbers(String(body), processes))
            if let paren = line.firstIndex(of: "("), idResults.contains(String(line[..<paren])),
               let equals = line.lastRange(of: " = "), !line[equals.upperBound...].hasPrefix("-1") {
                line = String(line[..<equals.upperBound]) + "<pid>"
            }
            if let pid, let name = processes[pid] { return name + " " + line }
            return line
        }
    }

    /// Replaces each run of decimal digits that is one of `names`' keys by its value.
    static func replaceNumbers(_ line: String, _ names: [Substring: String]) -> String {
        guard !names.isEmpty else { return line }
        var out = ""
        var digits = ""
        for ch in line {
            if ch.isASCII, ch.isNumber { digits.append(ch); continue }
            if !digits.isEmpty { out += names[Substring(digits)] ?? digits; digits = "" }
            out.append(ch)
        }
        if !digits.isEmpty { out += names[Substring(digits)] ?? digits }
        return out
    }

    /// Replaces every `0x...` token whose value is an address by `<addr>`; quoted strings are
    /// left alone.
    static func replaceAddresses(_ line: String) -> String {
        let chars = Array(line.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(chars.count)
        var i = 0, inString = false
        while i < chars.count {
            let c = chars[i]
            if inString {
                out.append(c)
                if c == UInt8(ascii: "\\"), i + 1 < chars.count { out.append(chars[i + 1]); i += 2; continue }
                if c == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if c == UInt8(ascii: "\"") { inString = true; out.append(c); i += 1; continue }
            let startsToken = i == 0 || !isWordByte(chars[i - 1])
            if startsToken, c == UInt8(ascii: "0"), i + 2 < chars.count, chars[i + 1] == UInt8(ascii: "x"), hexValue(chars[i + 2]) != nil {
                var j = i + 2
                var value: UInt64 = 0
                var overflow = false
                while j < chars.count, let digit = hexValue(chars[j]) {
                    if value >> 60 != 0 { overflow = true }
                    value = value << 4 | UInt64(digit)
                    j += 1
                }
                if overflow || value >= addressThreshold {
                    out += Array("<addr>".utf8)
                } else {
                    out += chars[i ..< j]
                }
                i = j
                continue
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isWordByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == UInt8(ascii: "_")
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30 ... 0x39: return b - 0x30
        case 0x61 ... 0x66: return b - 0x61 + 10
        case 0x41 ... 0x46: return b - 0x41 + 10
        default: return nil
        }
    }
}
