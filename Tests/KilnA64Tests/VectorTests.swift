import Foundation
import Testing
import KilnIR
import KilnTestSupport
@testable import KilnA64

/// Runs one vector through decode -> lift -> IR interpreter. The instruction sits in a region
/// whose base is the vector pc's 64 KiB boundary, so position-independent lifting is exercised.
/// Returns the mismatches ("x3: got ..., expected ...").
func runVector(_ v: A64Vector, ignoring ignored: Set<String>, translator: inout A64Translator, interpreter: inout IRInterpreter) -> [String] {
    let pc = v.before.pc
    let base = pc & ~0xffff
    var word = v.encoding.littleEndian
    let lifted: Bool = withUnsafeBytes(of: &word) { code in
        translator.translate(code: code, codeOffset: pc - base, at: pc - base)
        return translator.block.exit.kind != .trap || translator.block.exit.trap == .breakpoint || translator.block.exit.trap == .undefined
    }
    guard lifted else {
        var t = A64Translator()
        do { try t.lift(v.encoding, at: pc - base) } catch { return ["lift: \(error)"] }
        return ["lift failed"]
    }
    let block = translator.block
    do { try IRVerifier.verify(block) } catch { return ["verifier: \(error)"] }

    let state = GuestCPUState()
    for i in 0..<31 { state.setX(i, v.before.x[i]) }
    state.sp = v.before.sp
    state.nzcv = v.before.nzcv
    state.fpcr = v.before.fpcr
    state.fpsr = v.before.fpsr
    for i in 0..<32 { state.setV(i, V128(lo: v.before.vLo[i], hi: v.before.vHi[i])) }
    var memory = SparseMemory(bytes: v.before.memory)
    do {
        _ = try interpreter.run(block, state: state, memory: &memory, regionBase: base)
    } catch {
        return ["interpreter: \(error)"]
    }

    var problems: [String] = []
    func hex(_ x: UInt64) -> String { String(x, radix: 16) }
    let e = v.after
    if !ignored.contains("x") {
        for i in 0..<31 where state.x(i) != e.x[i] { problems.append("x\(i): got \(hex(state.x(i))), expected \(hex(e.x[i]))") }
    }
    if !ignored.contains("sp"), state.sp != e.sp { problems.append("sp: got \(hex(state.sp)), expected \(hex(e.sp))") }
    if state.pc != e.pc { problems.append("pc: got \(hex(state.pc)), expected \(hex(e.pc))") }
    if !ignored.contains("nzcv"), state.nzcv != e.nzcv { problems.append("nzcv: got \(hex(UInt64(state.nzcv))), expected \(hex(UInt64(e.nzcv)))") }
    if !ignored.contains("fpcr"), state.fpcr != e.fpcr { problems.append("fpcr: got \(hex(UInt64(state.fpcr))), expected \(hex(UInt64(e.fpcr)))") }
    if !ignored.contains("fpsr"), state.fpsr != e.fpsr { problems.append("fpsr: got \(hex(UInt64(state.fpsr))), expected \(hex(UInt64(e.fpsr)))") }
    if !ignored.contains("v") {
        for i in 0..<32 {
            let got = state.v(i)
            if got.lo != e.vLo[i] || got.hi != e.vHi[i] {
                problems.append("v\(i): got \(hex(got.hi)):\(hex(got.lo)), expected \(hex(e.vHi[i])):\(hex(e.vLo[i]))")
            }
        }
    }
    if !ignored.contains("memory") {
        for address in e.memory.keys.sorted() where memory.bytes[address] != e.memory[address] {
            problems.append("m\(hex(address)): got \(hex(UInt64(memory.bytes[address] ?? 0))), expected \(hex(UInt64(e.memory[address] ?? 0)))")
        }
    }
    return problems
}

/// Every unicorn vector, one test per group file. Failures name the class, encoding, line and
/// the first mismatching fields; a summary line counts failing vectors per class.
struct VectorTests {
    static var groupFiles: [String] {
        guard let directory = Bundle.module.url(forResource: "Vectors", withExtension: nil),
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.filter { $0.hasSuffix(".vec.gz") }.sorted()
    }

    @Test(arguments: groupFiles)
    func group(_ file: String) throws {
        guard let classes = try A64VectorFile.allGroups().first(where: { $0.file == file })?.classes else {
            Issue.record("\(file) not loaded")
            return
        }
        var translator = A64Translator(maxInstructions: 1)
        var interpreter = IRInterpreter()
        var failingClasses: [String] = []
        var reported = 0
        var total = 0, failed = 0
        for cls in classes {
            var classFailures = 0
            for v in cls.vectors {
                total += 1
                let problems = runVector(v, ignoring: cls.ignoredFields, translator: &translator, interpreter: &interpreter)
                guard !problems.isEmpty else { continue }
                classFailures += 1
                failed += 1
                if classFailures == 1 && reported < 400 {
                    reported += 1
                    let enc = String(v.encoding, radix: 16)
                    Issue.record("\(file) class \(cls.name) encoding \(String(repeating: "0", count: 8 - enc.count))\(enc) line \(v.line): \(problems.prefix(3).joined(separator: "; "))")
                }
            }
            if classFailures > 0 { failingClasses.append("\(cls.name) \(classFailures)/\(cls.vectors.count)") }
        }
        if !failingClasses.isEmpty {
            Issue.record("\(file): \(failed) of \(total) vectors fail in \(failingClasses.count) of \(classes.count) classes: \(failingClasses.joined(separator: ", "))")
        }
    }
}

/// LDSMAX/LDSMIN compare as signed values of the access size (unicorn gets this wrong; the
/// vectors record qemu-user for those classes, see docs/VECTORS.md).
@Test func signedAtomicsCompareSigned() throws {
    // ldsmaxb w2, w9, [x23]; ldsminh w2, w9, [x23]; ldsmax w2, w9, [x23]
    let cases: [(word: UInt32, memory: [UInt8], operand: UInt64, expectedMemory: [UInt8], expectedOld: UInt64)] = [
        (0x3822_42e9, [0xa1], 0, [0x00], 0xa1),
        (0x3822_42e9, [0x10], 0xff, [0x10], 0x10),
        (0x7822_52e9, [0x00, 0x80], 0x7fff, [0x00, 0x80], 0x8000),
        (0xb822_42e9, [0x00, 0x00, 0x00, 0xf0], 1, [0x01, 0x00, 0x00, 0x00], 0xf000_0000),
    ]
    for c in cases {
        var translator = A64Translator(maxInstructions: 1)
        var interpreter = IRInterpreter()
        var word = c.word.littleEndian
        withUnsafeBytes(of: &word) { translator.translate(code: $0, codeOffset: 0, at: 0) }
        let state = GuestCPUState()
        state.setX(2, c.operand)
        state.setX(23, 0x1000)
        var memory = SparseMemory(bytes: [:])
        for (i, b) in c.memory.enumerated() { memory.bytes[0x1000 + UInt64(i)] = b }
        _ = try interpreter.run(translator.block, state: state, memory: &memory, regionBase: 0)
        #expect(state.x(9) == c.expectedOld, "\(String(c.word, radix: 16))")
        #expect((0..<c.memory.count).map { memory.bytes[0x1000 + UInt64($0)] } == c.expectedMemory, "\(String(c.word, radix: 16))")
    }
}
