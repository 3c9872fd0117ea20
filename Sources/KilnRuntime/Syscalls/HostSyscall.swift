#if canImport(Glibc)
import Glibc
#endif

/// Raw x86-64 system calls. glibc's `syscall(2)` is variadic and therefore not imported into
/// Swift; its implementation only moves registers, so it is called through a fixed
/// seven-integer prototype, which the SysV ABI passes identically.
enum HostSyscall {
    typealias Function = @convention(c) (Int, Int, Int, Int, Int, Int, Int) -> Int

    static let function: Function = {
        guard let symbol = dlsym(nil, "syscall") else { fatalError("glibc syscall() not found") }
        return unsafeBitCast(symbol, to: Function.self)
    }()

    /// Calls host syscall `number`; returns the result or `-errno`, as the kernel does.
    @inline(__always)
    static func call(_ number: Int, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0,
                     _ a3: UInt64 = 0, _ a4: UInt64 = 0, _ a5: UInt64 = 0) -> Int {
        let r = function(number, Int(bitPattern: UInt(a0)), Int(bitPattern: UInt(a1)), Int(bitPattern: UInt(a2)),
                         Int(bitPattern: UInt(a3)), Int(bitPattern: UInt(a4)), Int(bitPattern: UInt(a5)))
        return r == -1 ? -Int(errno) : r
    }
}

/// x86-64 numbers of the host calls the emulated handlers make themselves.
enum HostNumber {
    static let read = 0, write = 1, fstat = 5, mmap = 9, mprotect = 10, munmap = 11
    static let mremap = 25, madvise = 28, clone = 56, fcntl = 72, getcwd = 79, readlinkat = 267
    static let openat = 257, newfstatat = 262, epollCtl = 233, epollPwait = 281, pipe2 = 293
    static let gettid = 186, uname = 63, memfdCreate = 319, closeRange = 436, clockGettime = 228
}
