import KilnIR

/// Decodes and lifts guest code into IR blocks. One translator per thread; it reuses its IR
/// storage, so the block it produces is valid until the next translation.
public struct A64Translator {
    /// The decoder given at init, else the shared one, built on the first decode: a run whose
    /// code all comes from caches never pays for its tables (~1 ms).
    private let givenDecoder: A64Decoder?
    public var decoder: A64Decoder { givenDecoder ?? .shared }
    public var lifter: A64Lifter
    /// Longest block, in guest instructions.
    public var maxInstructions: Int
    /// Conditional branches a unit runs past (each becomes a side exit, `exitIf`, and the unit
    /// goes on at the fall-through); the next one ends the unit. Most guest blocks end in a
    /// conditional branch that falls through, and each fall-through between units costs the
    /// write-back of the registers, an indirect jump through a link slot and the reloads.
    public var maxSideExits: Int

    public init(decoder: A64Decoder? = nil, maxInstructions: Int = 512, maxSideExits: Int = A64Translator.defaultSideExits) {
        givenDecoder = decoder
        self.lifter = A64Lifter()
        self.maxInstructions = maxInstructions
        self.maxSideExits = maxSideExits
    }

    /// Side exits per unit by default (part of the translation configuration: it changes
    /// the units, hence the code).
    public static let defaultSideExits = 4

    /// The block produced by the last `translate` call.
    public var block: IRBlock { lifter.builder.block }

    /// Lifts one instruction at region `offset` into the current block, or throws why not.
    /// A failed lift leaves no partial IR behind.
    public mutating func lift(_ word: UInt32, at offset: UInt64) throws(A64LiftError) {
        let d = decoder.decode(word)
        lifter.offset = offset
        guard d.index >= 0 else {
            lifter.mnemonic = "unallocated"
            throw lifter.unallocated(word)
        }
        let e = decoder.table[Int(d.index)]
        lifter.mnemonic = e.mnemonic
        if e.group.isExcluded { throw A64LiftError(kind: .excluded, mnemonic: e.mnemonic, offset: offset, encoding: word) }
        guard let lift = e.lift else { throw lifter.unimplemented(word) }
        let mark = lifter.builder.count
        lifter.builder.guestInstruction(offset: offset, encoding: word)
        do {
            try lift(&lifter, word)
        } catch {
            lifter.builder.truncate(to: mark)
            lifter.ended = false
            throw error
        }
    }

    /// Translates the block starting at region offset `start`. `code` holds the bytes of
    /// region offsets `codeOffset ..< codeOffset + code.count`. The block ends at a branch
    /// (past `maxSideExits` conditional ones, which become side exits), after
    /// `maxInstructions`, at the end of `code`, or before an instruction that cannot be
    /// lifted; a block whose first instruction cannot be lifted is a trap naming it.
    public mutating func translate(code: UnsafeRawBufferPointer, codeOffset: UInt64, at start: UInt64, addressing: IRAddressing = .region) {
        lifter.builder.reset(addressing: addressing, startOffset: start)
        lifter.ended = false
        var offset = start
        var count = 0
        var sideExits = 0
        while true {
            let index = offset &- codeOffset
            guard offset >= codeOffset, index + 4 <= UInt64(code.count), count < maxInstructions else {
                lifter.builder.finish(.jump(offset), guestLength: UInt32(truncatingIfNeeded: offset &- start))
                return
            }
            let word = code.loadUnaligned(fromByteOffset: Int(index), as: UInt32.self)
            do {
                try lift(UInt32(littleEndian: word), at: offset)
            } catch {
                if count == 0 {
                    let trap: IRTrapKind = error.kind == .unimplemented ? .unimplemented : .unallocated
                    lifter.builder.finish(.trap(trap, at: offset, info: error.encoding), guestLength: 4)
                } else {
                    lifter.builder.finish(.jump(offset), guestLength: UInt32(truncatingIfNeeded: offset &- start))
                }
                return
            }
            offset &+= 4
            count += 1
            if lifter.ended {
                let exit = lifter.builder.block.exit
                if exit.kind == .branch, exit.next == offset, sideExits < maxSideExits, count < maxInstructions,
                   offset >= codeOffset, offset &- codeOffset &+ 4 <= UInt64(code.count) {
                    _ = lifter.builder.emit(.exitIf, .void, exit.value, imm: exit.target)
                    lifter.ended = false
                    sideExits += 1
                    continue
                }
                lifter.builder.block.guestLength = UInt32(truncatingIfNeeded: offset &- start)
                return
            }
        }
    }
}
