import KilnELF

/// Why a guest program could not be started or run to completion. Each case names what a
/// user needs to fix it and maps to the exit status a shell would use.
public enum RuntimeError: Error, Equatable, CustomStringConvertible {
    /// The program file does not exist (searched `tried`).
    case programNotFound(String, tried: [String])
    /// The file exists but is not an ELF file, or is malformed.
    case notELF(path: String, reason: String)
    /// An ELF file for another machine.
    case wrongMachine(path: String, machine: UInt16)
    /// Not an executable or shared object (a relocatable or core file).
    case notExecutable(path: String)
    /// PT_INTERP names a file that is not in the rootfs (nor on the host).
    case missingInterpreter(String, tried: String)
    /// The program's fixed addresses cannot be mapped (they collide or leave the guest range).
    case cannotMap(path: String, address: UInt64, errno: Int32)
    /// An instruction Kiln cannot run.
    case unsupportedInstruction(String)

    /// The exit status `kiln run` uses: 127 not found, 126 cannot execute, 125 Kiln cannot run
    /// an instruction.
    public var exitStatus: Int32 {
        switch self {
        case .programNotFound, .missingInterpreter: return 127
        case .notELF, .wrongMachine, .notExecutable, .cannotMap: return 126
        case .unsupportedInstruction: return 125
        }
    }

    public var description: String {
        switch self {
        case let .programNotFound(name, tried):
            return "\(name): program not found" + (tried.isEmpty ? "" : " (tried \(tried.joined(separator: ", ")))")
        case let .notELF(path, reason): return "\(path): cannot execute: \(reason)"
        case let .wrongMachine(path, machine):
            let name = machine == ELFMachine.x86_64.rawValue ? "x86-64" : "machine \(machine)"
            return "\(path): cannot execute: an \(name) program, not arm64 (EM_AARCH64)"
        case let .notExecutable(path): return "\(path): cannot execute: not an executable or shared object"
        case let .missingInterpreter(name, tried):
            return "\(name): program interpreter not found: \(tried) (is the rootfs complete? see `kiln rootfs fetch`)"
        case let .cannotMap(path, address, errno):
            return "\(path): cannot map segment at \(hex(address)): \(String(cString: strerror(errno)))"
        case let .unsupportedInstruction(text): return text
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
