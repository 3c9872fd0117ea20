import KilnIR

/// What a delivered signal says about itself: the arm64 siginfo_t (whose layout equals
/// x86-64's for every field Kiln fills) as 128 raw bytes.
struct SignalInfo {
    var bytes: [UInt8]

    /// A siginfo for a fault raised by guest code: `code` (SEGV_MAPERR, ILL_ILLOPC...) and
    /// the faulting address.
    init(signal: Int32, code: Int32, address: UInt64) {
        bytes = [UInt8](repeating: 0, count: SignalFrame.siginfoSize)
        bytes.withUnsafeMutableBytes {
            $0.storeBytes(of: signal, toByteOffset: 0, as: Int32.self)
            $0.storeBytes(of: code, toByteOffset: 8, as: Int32.self)
            $0.storeBytes(of: address, toByteOffset: 16, as: UInt64.self)
        }
    }

    /// A copy of the siginfo at `raw` (a host handler's).
    init(copying raw: UnsafeRawPointer) {
        bytes = Array(UnsafeRawBufferPointer(start: raw, count: SignalFrame.siginfoSize))
    }

    var signal: Int32 { bytes.withUnsafeBytes { $0.load(fromByteOffset: 0, as: Int32.self) } }
}

/// The arm64 signal frame (arch/arm64/kernel/signal.c): struct rt_sigframe { siginfo;
/// ucontext } with the frame record {fp, lr} above it. The ucontext's mcontext
/// (struct sigcontext) ends in a 4096-byte area of records: fpsimd_context, then a null
/// terminator record.
enum SignalFrame {
    static let siginfoSize = 128
    /// Offsets in struct ucontext (from the frame's ucontext).
    static let ucFlags = 0, ucLink = 8, ucStack = 16, ucSigmask = 40, ucMcontext = 176
    /// Offsets in struct sigcontext.
    static let faultAddress = 0, registers = 8, stackPointer = 256, programCounter = 264, processorState = 272
    static let reserved = 288, reservedSize = 4096
    static let ucontextSize = ucMcontext + reserved + reservedSize
    /// siginfo + ucontext, rounded to 16.
    static let size = (siginfoSize + ucontextSize + 15) & ~15
    /// fpsimd_context: head {magic, size}, fpsr, fpcr, vregs[32] (16-byte aligned).
    static let fpsimdMagic: UInt32 = 0x4650_8001
    static let fpsimdSize: UInt32 = 528

    /// Writes the frame for `info` at `frame` (16-byte aligned, `size` bytes) from `state`,
    /// recording `mask` as the mask to restore and `stack` as uc_stack.
    static func write(at frame: UnsafeMutableRawPointer, info: SignalInfo, state: GuestCPUState, mask: UInt64,
                      stack: (sp: UInt64, flags: UInt32, size: UInt64), faultAddress: UInt64) {
        frame.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        info.bytes.withUnsafeBytes { frame.copyMemory(from: $0.baseAddress!, byteCount: siginfoSize) }
        let uc = frame + siginfoSize
        uc.storeBytes(of: stack.sp, toByteOffset: ucStack, as: UInt64.self)
        uc.storeBytes(of: stack.flags, toByteOffset: ucStack + 8, as: UInt32.self)
        uc.storeBytes(of: stack.size, toByteOffset: ucStack + 16, as: UInt64.self)
        uc.storeBytes(of: mask, toByteOffset: ucSigmask, as: UInt64.self)
        let mc = uc + ucMcontext
        mc.storeBytes(of: faultAddress, toByteOffset: self.faultAddress, as: UInt64.self)
        for n in 0..<31 { mc.storeBytes(of: state.x(n), toByteOffset: registers + 8 * n, as: UInt64.self) }
        mc.storeBytes(of: state.sp, toByteOffset: stackPointer, as: UInt64.self)
        mc.storeBytes(of: state.pc, toByteOffset: programCounter, as: UInt64.self)
        mc.storeBytes(of: UInt64(state.nzcv), toByteOffset: processorState, as: UInt64.self)
        let fp = mc + reserved
        fp.storeBytes(of: fpsimdMagic, as: UInt32.self)
        fp.storeBytes(of: fpsimdSize, toByteOffset: 4, as: UInt32.self)
        fp.storeBytes(of: state.fpsr, toByteOffset: 8, as: UInt32.self)
        fp.storeBytes(of: state.fpcr, toByteOffset: 12, as: UInt32.self)
        for n in 0..<32 {
            let v = state.v(n)
            fp.storeBytes(of: v.lo, toByteOffset: 16 + 16 * n, as: UInt64.self)
            fp.storeBytes(of: v.hi, toByteOffset: 24 + 16 * n, as: UInt64.self)
        }
        // The null record that ends the list follows (already zero).
    }

    /// Restores `state` from the frame at `frame` (rt_sigreturn); returns the saved mask, or
    /// nil if the frame's record list is malformed (the kernel then kills with SIGSEGV).
    static func restore(from frame: UnsafeRawPointer, into state: GuestCPUState) -> UInt64? {
        let uc = frame + siginfoSize
        let mc = uc + ucMcontext
        for n in 0..<31 { state.setX(n, mc.loadUnaligned(fromByteOffset: registers + 8 * n, as: UInt64.self)) }
        state.sp = mc.loadUnaligned(fromByteOffset: stackPointer, as: UInt64.self)
        state.pc = mc.loadUnaligned(fromByteOffset: programCounter, as: UInt64.self)
        state.nzcv = UInt32(truncatingIfNeeded: mc.loadUnaligned(fromByteOffset: processorState, as: UInt64.self)) & 0xf000_0000
        var offset = 0
        while offset + 8 <= reservedSize {
            let record = mc + reserved + offset
            let magic = record.loadUnaligned(as: UInt32.self), length = Int(record.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            if magic == 0 && length == 0 { break }
            guard length >= 8, length % 16 == 0 || magic == fpsimdMagic, offset + length <= reservedSize else { return nil }
            if magic == fpsimdMagic {
                guard length == Int(fpsimdSize) else { return nil }
                state.fpsr = record.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
                state.fpcr = record.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
                for n in 0..<32 {
                    state.setV(n, V128(lo: record.loadUnaligned(fromByteOffset: 16 + 16 * n, as: UInt64.self),
                                       hi: record.loadUnaligned(fromByteOffset: 24 + 16 * n, as: UInt64.self)))
                }
            }
            offset += length
        }
        state.exclusiveSize = 0
        return uc.loadUnaligned(fromByteOffset: ucSigmask, as: UInt64.self)
    }
}
