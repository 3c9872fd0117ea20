#if canImport(Glibc)
import Glibc
#endif

/// auxv tags (include/uapi/linux/auxvec.h).
enum AuxvTag {
    static let null: UInt64 = 0, phdr: UInt64 = 3, phent: UInt64 = 4, phnum: UInt64 = 5, pagesz: UInt64 = 6
    static let base: UInt64 = 7, flags: UInt64 = 8, entry: UInt64 = 9, uid: UInt64 = 11, euid: UInt64 = 12
    static let gid: UInt64 = 13, egid: UInt64 = 14, platform: UInt64 = 15, hwcap: UInt64 = 16, clktck: UInt64 = 17
    static let secure: UInt64 = 23, random: UInt64 = 25, hwcap2: UInt64 = 26, execfn: UInt64 = 31, minsigstksz: UInt64 = 51
}

/// The CPU features Kiln advertises: only what the translator implements (FP and Advanced
/// SIMD), so glibc's ifuncs never pick SVE, MTE, MOPS or LSE2-dependent code.
public enum GuestHardwareCapabilities {
    /// AT_HWCAP: HWCAP_FP | HWCAP_ASIMD.
    public static let hwcap: UInt64 = 1 << 0 | 1 << 1
    public static let hwcap2: UInt64 = 0
    /// AT_MINSIGSTKSZ: the arm64 kernel's signal frame size without SVE.
    public static let minimumSignalStackSize: UInt64 = 5120
}

/// Builds the process's initial stack as the kernel's create_elf_tables does: argc, argv,
/// envp, auxv, then the strings and AT_RANDOM bytes above them.
struct InitialStack {
    /// Writes the stack below `top` and returns the initial sp and the auxv pairs it holds.
    static func build(top: UInt64, arguments: [[UInt8]], environment: [[UInt8]], executableName: String,
                      program: LoadedImage, interpreterBase: UInt64) -> (sp: UInt64, auxv: [(UInt64, UInt64)]) {
        var cursor = top - 16
        func pushBytes(_ bytes: [UInt8]) -> UInt64 {
            cursor -= UInt64(bytes.count)
            bytes.withUnsafeBytes { UnsafeMutableRawPointer(bitPattern: UInt(cursor))!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            return cursor
        }
        // argv and envp strings are bytes: they need not be UTF-8.
        func pushCString(_ bytes: [UInt8]) -> UInt64 { pushBytes(bytes + [0]) }
        func pushString(_ s: String) -> UInt64 { pushCString(Array(s.utf8)) }

        let execfn = pushString(executableName)
        let platform = pushString("aarch64")
        var random = [UInt8](repeating: 0, count: 16)
        _ = random.withUnsafeMutableBytes { HostSyscall.call(318, UInt64(UInt(bitPattern: $0.baseAddress)), 16) }
        let randomAddress = pushBytes(random)
        let environmentPointers = environment.map(pushCString)
        let argumentPointers = arguments.map(pushCString)

        let auxv: [(UInt64, UInt64)] = [
            (AuxvTag.phdr, program.programHeaderAddress), (AuxvTag.phent, program.programHeaderSize),
            (AuxvTag.phnum, program.programHeaderCount), (AuxvTag.pagesz, GuestLayout.pageSize),
            (AuxvTag.base, interpreterBase), (AuxvTag.flags, 0), (AuxvTag.entry, program.entry),
            (AuxvTag.uid, UInt64(getuid())), (AuxvTag.euid, UInt64(geteuid())),
            (AuxvTag.gid, UInt64(getgid())), (AuxvTag.egid, UInt64(getegid())),
            (AuxvTag.platform, platform), (AuxvTag.hwcap, GuestHardwareCapabilities.hwcap),
            (AuxvTag.clktck, UInt64(sysconf(Int32(_SC_CLK_TCK)))), (AuxvTag.secure, 0),
            (AuxvTag.random, randomAddress), (AuxvTag.hwcap2, GuestHardwareCapabilities.hwcap2),
            (AuxvTag.execfn, execfn), (AuxvTag.minsigstksz, GuestHardwareCapabilities.minimumSignalStackSize),
            (AuxvTag.null, 0),
        ]
        var words: [UInt64] = [UInt64(arguments.count)]
        words += argumentPointers; words.append(0)
        words += environmentPointers; words.append(0)
        for (tag, value) in auxv { words.append(tag); words.append(value) }
        cursor = (cursor - UInt64(words.count * 8)) & ~15
        let base = UnsafeMutableRawPointer(bitPattern: UInt(cursor))!
        for (i, w) in words.enumerated() { base.storeBytes(of: w, toByteOffset: i * 8, as: UInt64.self) }
        return (cursor, auxv)
    }
}
