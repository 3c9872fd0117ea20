import KilnIR
#if canImport(Glibc)
import Glibc
#endif

// Guest memory is host memory, and the guest owns only addresses below its limit (the low
// terabyte): a guest pointer above it could land in Kiln's own memory and must fault as it
// does under the interpreter. The check compares the access's base register with the limit
// held in the context block (no constant in the code) once per base value and block: blocks
// are straight-line and a failed check leaves, so later accesses through the same value need
// none. The displacement (at most 2 GiB either way) is covered by a guard reservation above
// the limit (`X64Runtime` maps it PROT_NONE), where an access faults in hardware and the
// fault handler reports it; below the guest's first page nothing is mapped either. A failed
// check leaves through an out-of-line path that records the address, sets the guest pc to the
// block's start (guest registers still hold their values from block entry) and returns to the
// dispatcher as a memory-fault trap; the dispatcher replays the block on the interpreter, which
// stops at the faulting instruction with the exact guest state.
extension X64Lowerer {
    /// An access whose bounds check failed: where its path starts and how to rebuild the
    /// address.
    struct BoundsFault {
        var entry: X64Label
        var base: UInt8
        var disp: Int32
        var isWrite: Bool
    }

    /// Branches out of line when base value `value` (in register `base`) is not below the
    /// guest limit, unless this block checked that value already. The compare clobbers
    /// EFLAGS: parked guest flags are restored from their register when next needed.
    mutating func checkBounds(_ value: Int32, _ base: UInt8, disp: Int32 = 0, write: Bool) {
        guard options.checkGuestBounds, value >= 0, !boundsChecked[Int(value)] else { return }
        boundsChecked[Int(value)] = true
        let entry = asm.newLabel()
        asm.emit(.cmp64rm, reg: base, rm: context(X64ABI.Context.guestLimit))
        asm.jump(.ae, to: entry)
        flagsValue = -1
        boundsFaults.append(BoundsFault(entry: entry, base: base, disp: disp, isWrite: write))
    }

    /// The out-of-line paths: per access the address (rax), then one per direction that sets
    /// the block's start pc (rcx) and jumps to the shared fault tail, which records both and
    /// returns to the host.
    mutating func emitBoundsFaults() {
        guard !boundsFaults.isEmpty else { return }
        let tails = (read: asm.newLabel(), write: asm.newLabel())
        var used = (read: false, write: false)
        for f in boundsFaults {
            asm.bind(f.entry)
            asm.emit(.lea64rm, reg: GPR.rax.number, rm: .mem(X64Memory(base: GPR(f.base), disp: f.disp)))
            asm.jump(nil, to: f.isWrite ? tails.write : tails.read)
            if f.isWrite { used.write = true } else { used.read = true }
        }
        for (label, tail, needed) in [(tails.read, X64ABI.Context.readFaultTail, used.read),
                                      (tails.write, X64ABI.Context.writeFaultTail, used.write)] where needed {
            asm.bind(label)
            emitPC(into: GPR.rcx.number, offset: block.startOffset)
            asm.emit(.jmpm, rm: context(tail))
        }
        boundsFaults.removeAll(keepingCapacity: true)
    }
}
