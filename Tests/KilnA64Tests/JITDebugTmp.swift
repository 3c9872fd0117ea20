import Testing
import KilnA64
import KilnIR
import KilnX64
@Test func jitDebugTmp() throws {
    var translator = A64Translator(maxInstructions: 1)
    var word: UInt32 = 0x12b94ebb
    withUnsafeBytes(of: &word) { translator.translate(code: $0, codeOffset: 0x9f18, at: 0x9f18) }
    print(IRPrinter.print(translator.block))
    var lowerer = X64Lowerer(options: .forHost(X64Features.host))
    do { _ = try lowerer.lower(translator.block) } catch { print("ERR", error) }
}
