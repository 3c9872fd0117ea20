import Foundation
import Testing
import KilnIR
import KilnA64
import KilnTestSupport

/// Golden IR: each `Golden/NAME.a64` (lines of "<hex encoding>  <assembly>") is lifted at
/// region offset 0x1000 and printed; the text must equal `Golden/NAME.ir`. Files named
/// `block-*` are translated as consecutive blocks, the others one instruction per block.
/// `KILN_UPDATE_GOLDEN=1` rewrites the .ir files instead of comparing.
struct GoldenTests {
    static let directory = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/KilnA64Tests/Golden")

    static var inputs: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".a64") }.sorted()
    }

    static func words(_ text: String) -> [UInt32] {
        text.split(separator: "\n").compactMap { line in
            let field = line.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            return line.hasPrefix("#") ? nil : UInt32(field, radix: 16)
        }
    }

    static func render(_ words: [UInt32], blocks: Bool) -> String {
        var bytes: [UInt8] = []
        for w in words { withUnsafeBytes(of: w.littleEndian) { bytes.append(contentsOf: $0) } }
        var translator = A64Translator(maxInstructions: blocks ? 512 : 1)
        var out = ""
        let start: UInt64 = 0x1000
        bytes.withUnsafeBytes { code in
            var offset = start
            while offset < start + UInt64(code.count) {
                translator.translate(code: code, codeOffset: start, at: offset)
                let block = translator.block
                do { try IRVerifier.verify(block) } catch { out += "; \(error)\n" }
                out += IRPrinter.print(block) + "\n"
                offset += UInt64(max(block.guestLength, 4))
            }
        }
        return out
    }

    @Test(arguments: inputs)
    func golden(_ name: String) throws {
        let input = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
        let actual = Self.render(Self.words(input), blocks: name.hasPrefix("block-"))
        let goldenURL = Self.directory.appendingPathComponent(String(name.dropLast(4)) + ".ir")
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" {
            try actual.write(to: goldenURL, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: goldenURL, encoding: .utf8)
        #expect(!actual.contains("verification failed"))
        if actual != expected {
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let first = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
            Issue.record("\(name): IR differs from golden at line \(first + 1): got '\(first < a.count ? a[first] : "<end>")', expected '\(first < e.count ? e[first] : "<end>")' (KILN_UPDATE_GOLDEN=1 to accept)")
        }
    }
}
