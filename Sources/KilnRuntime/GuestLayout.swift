/// Where guest memory lives in the (shared) host address space. Guest address == host
/// address, so guest mappings and Kiln's own must never meet:
///
/// - Every guest mapping lies in `[minimumAddress, limit)`, the low terabyte. A release Kiln
///   is linked at 32 TiB (Package.swift), a debug one is a PIE the kernel places near
///   0x55..._....._...; its heap follows it, and its libraries and thread stacks are at the
///   top of the 47-bit space; even the legacy bottom-up layout (unlimited stack rlimit)
///   starts at TASK_SIZE/3, far above 1 TiB.
/// - Kiln places every guest mapping itself (never `mmap(NULL)`), with MAP_FIXED_NOREPLACE,
///   so a collision fails instead of clobbering; only guest MAP_FIXED requests replace.
/// - The interpreter's memory accessor rejects addresses outside the guest range, so a wild
///   guest pointer faults instead of reading or corrupting Kiln.
public enum GuestLayout {
    public static let pageSize: UInt64 = 4096
    /// vm.mmap_min_addr's usual value: the zero page region stays unmapped.
    public static let minimumAddress: UInt64 = 0x1_0000
    /// End of the guest range (1 TiB).
    public static let limit: UInt64 = 0x100_0000_0000
    /// Load base of position-independent main programs (qemu-aarch64 uses the same).
    public static let programBase: UInt64 = 0x55_0000_0000
    /// Top of the initial stack.
    public static let stackTop: UInt64 = 0xff_f000_0000
    /// Initial stack size (the usual 8 MiB rlimit).
    public static let stackSize: UInt64 = 8 << 20
    /// `mmap` without a usable hint allocates top-down from here (the interpreter first).
    public static let mmapTop: UInt64 = 0xff_0000_0000
    /// ... and falls below this address only when everything above is taken.
    public static let mmapBottom: UInt64 = 0x10_0000_0000

    @inline(__always) static func pageDown(_ x: UInt64) -> UInt64 { x & ~(pageSize - 1) }
    @inline(__always) static func pageUp(_ x: UInt64) -> UInt64 { (x &+ pageSize &- 1) & ~(pageSize - 1) }
    @inline(__always) static func contains(_ start: UInt64, _ length: UInt64) -> Bool {
        start >= minimumAddress && start <= limit && length <= limit - start
    }
}
