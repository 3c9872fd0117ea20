#if canImport(Glibc)
import Glibc
#endif
import KilnHost

/// `--strace`: one line per system call with decoded arguments and the result, in the style
/// of qemu's -strace: `pid name(arg,...) = result` or `= -1 errno=N (message)`.
final class Strace {
    let descriptor: Int32
    /// The line being built, per guest thread (threads' calls interleave).
    private var pendingByThread: [Int32: String] = [:]
    private let lock = HostMutex()
    /// Read per line: a forked child's lines carry its own pid.
    private var pid: Int32 { getpid() }
    private var pending: String {
        get { pendingByThread[currentTID] ?? "" }
        set { pendingByThread[currentTID] = newValue }
    }
    private var currentTID: Int32 { GuestThread.current?.tid ?? 0 }

    init(descriptor: Int32) { self.descriptor = descriptor }

    func enter(number: UInt64, entry: SyscallEntry?, args: SyscallArguments, process: GuestProcess) {
        lock.lock(); defer { lock.unlock() }
        let name = entry?.name ?? "syscall_\(number)"
        let kinds = entry?.argumentKinds ?? [.hex, .hex, .hex, .hex, .hex, .hex]
        var text = "\(pid) \(name)("
        for (i, kind) in kinds.enumerated() {
            if i > 0 { text += "," }
            text += format(args[i], kind, process)
        }
        text += ")"
        pending = text
        if entry?.name == "exit" || entry?.name == "exit_group" {
            pending += " = ?\n"
            flush()
        }
    }

    func exit(result: Int, entry: SyscallEntry?, args: SyscallArguments) {
        lock.lock(); defer { lock.unlock() }
        // A forked child returning from clone: its line was begun under the parent's tid.
        if pending.isEmpty { pending = "\(pid) \(entry?.name ?? "syscall")(...)" }
        if result < 0, result >= -4095 {
            pending += " = -1 errno=\(-result) (\(String(cString: strerror(Int32(-result)))))\n"
        } else if let name = entry?.name, ["mmap", "brk", "mremap"].contains(name) {
            pending += " = \(hex(UInt64(bitPattern: Int64(result))))\n"
        } else {
            pending += " = \(result)\n"
        }
        flush()
    }

    func flush() {
        lock.lock(); defer { lock.unlock() }
        guard !pending.isEmpty else { return }
        Descriptor.writeAll(descriptor, pending)
        pending = ""
    }

    /// Before an exec: ends the call's line, and keeps it so that a failed exec's result is
    /// printed with the call again (a successful one never returns to print it).
    func flushBeforeExec() {
        lock.lock(); defer { lock.unlock() }
        guard !pending.isEmpty else { return }
        Descriptor.writeAll(descriptor, pending + "\n")
    }

    private func format(_ value: UInt64, _ kind: SyscallArgumentKind, _ process: GuestProcess) -> String {
        switch kind {
        case .signed: return String(Int64(bitPattern: value))
        case .unsigned: return String(value)
        case .hex: return hex(value)
        case .octal: return "0" + String(value, radix: 8)
        case .descriptor:
            let fd = Int32(truncatingIfNeeded: value)
            return fd == -100 ? "AT_FDCWD" : String(fd)
        case .path, .string:
            guard value != 0 else { return "NULL" }
            guard let s = process.guestString(value, limit: 256) else { return hex(value) }
            var escaped = ""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case "\n": escaped += "\\n"
                default: escaped.unicodeScalars.append(ch)
                }
            }
            return "\"" + escaped + "\""
        }
    }
}
