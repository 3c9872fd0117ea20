#if canImport(Glibc)
import Glibc
#endif
import KilnIR
import KilnTranslator

extension Dispatcher {
    /// Translates the block at `pc` through the shared pipeline (the one `kiln bake` uses),
    /// from the bytes of the mapping that holds it: region-relative in file mappings,
    /// absolute (uncacheable) in anonymous memory.
    static func translate(_ pc: UInt64, process: GuestProcess, pipeline: inout Translator) -> (block: TranslatedBlock, unit: TranslatedUnit) {
        guard let mapping = process.addressSpace.mapping(containing: pc), mapping.isExecutable else {
            CrashReporter.guestCrash(signal: SIGSEGV, pc: pc, detail: "jump to non-executable address \(hex(pc))")
        }
        guard pc & 3 == 0 else { CrashReporter.guestCrash(signal: SIGBUS, pc: pc, detail: "misaligned pc") }
        let code = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(mapping.start)), count: Int(mapping.end - mapping.start))
        let base = mapping.file != nil ? mapping.base : 0
        let unit = pipeline.translate(code: code, codeOffset: mapping.start &- base, at: pc &- base,
                                      addressing: mapping.file != nil ? .region : .absolute)
        return (TranslatedBlock(ir: unit.ir, base: base), unit)
    }
}
