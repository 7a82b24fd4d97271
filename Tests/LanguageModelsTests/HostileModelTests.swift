import Foundation
import LanguageModels
import WeightFiles
import XCTest

/// Hostile or damaged model folders (issue 21): each gives one typed error naming the file and the
/// field or tensor, before anything is allocated from the bad value.
final class HostileModelTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lm-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        WeightValueCheck.allowsNonFinite = false
        try? FileManager.default.removeItem(at: scratch)
    }

    private func copy(_ name: String, config edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        try Fixtures.editedCopy(of: name, in: scratch, config: edit)
    }

    private func assertLoadFails(_ directory: URL, mentioning parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LanguageModel.load(directory: directory), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is LanguageModelError || error is WeightFileError, text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "\"\(text)\" should mention \(part)", file: file, line: line) }
        }
    }

    /// Crash 6: num_hidden_layers 10^10 allocated 10 GB before any weight was read. Every size
    /// field gets a sane limit.
    func testHugeSizeFieldsAreRejectedBeforeAllocating() throws {
        let fields = ["num_hidden_layers", "vocab_size", "hidden_size", "intermediate_size", "num_attention_heads",
                      "num_key_value_heads", "head_dim", "max_position_embeddings"]
        for field in fields {
            for value in [10_000_000_000, 100_000_000] {
                let folder = try copy("gemma2-tiny-f32") { $0[field] = value }
                assertLoadFails(folder, mentioning: ["config.json", field, "\(value)"])
            }
        }
    }

    func testLayerCountMustMatchTheWeights() throws {
        assertLoadFails(try copy("llama3-tiny-f32") { $0["num_hidden_layers"] = 3 }, mentioning: ["num_hidden_layers", "more layers"])
        assertLoadFails(try copy("gemma2-tiny-f32") { $0["num_hidden_layers"] = 6; $0["layer_types"] = nil },
                        mentioning: ["num_hidden_layers", "model.layers.5"])
        assertLoadFails(try copy("gemma2-tiny-f32") { $0["num_hidden_layers"] = 1000 }, mentioning: ["num_hidden_layers", "model.layers.999"])
    }

    func testNormEpsilonMustBePositiveAndFinite() throws {
        for value: Double in [0, -1e-6, 1e-60, 1e300] {
            assertLoadFails(try copy("llama3-tiny-f32") { $0["rms_norm_eps"] = value }, mentioning: ["config.json", "rms_norm_eps"])
        }
        assertLoadFails(try copy("gemma2-tiny-f32") { $0["attn_logit_softcapping"] = 0 }, mentioning: ["attn_logit_softcapping"])
    }

    /// Overwrites element `index` of `tensor` in the folder's model.safetensors with raw bits.
    private func poke(_ folder: URL, tensor: String, index: Int, bits: [UInt8]) throws {
        let url = folder.appendingPathComponent("model.safetensors")
        let info = try SafeTensorsFile(url: url).info(tensor)
        var bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let at = 8 + headerLength + info.dataRange.lowerBound + index * bits.count
        bytes.replaceSubrange(at..<at + bits.count, with: bits)
        try Data(bytes).write(to: url)
    }

    func testNonFiniteWeightsAreReportedUnlessAllowed() throws {
        let nan: [UInt8] = [0x00, 0x00, 0xC0, 0x7F], inf: [UInt8] = [0x80, 0x7F]
        let f32 = try copy("gemma2-tiny-f32")
        try poke(f32, tensor: "model.layers.2.mlp.down_proj.weight", index: 77, bits: nan)
        assertLoadFails(f32, mentioning: ["model.safetensors", "model.layers.2.mlp.down_proj.weight", "element 77", "nan", "--allow-nonfinite"])
        let bf16 = try copy("llama3-tiny-bf16")
        try poke(bf16, tensor: "model.norm.weight", index: 3, bits: inf)
        assertLoadFails(bf16, mentioning: ["model.norm.weight", "element 3", "inf"])
        WeightValueCheck.allowsNonFinite = true
        XCTAssertNoThrow(try LanguageModel.load(directory: f32))
    }

    /// BF16 bits under an F16 label decode to plausible-looking numbers, not NaN: caught by where
    /// the values fall (see `checkHalfPrecisionLabel`).
    func testBF16DataLabelledF16IsReported() throws {
        let folder = try copy("gemma2-tiny-bf16")
        let url = folder.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        // Same header length: "BF16" becomes "F16" plus a space (JSON whitespace).
        var header = String(decoding: bytes[8..<8 + headerLength], as: UTF8.self)
        header = header.replacingOccurrences(of: "\"BF16\"", with: "\"F16\" ")
        bytes.replaceSubrange(8..<8 + headerLength, with: Array(header.utf8))
        try Data(bytes).write(to: url)
        assertLoadFails(folder, mentioning: ["model.safetensors", "q_proj", "F16", "BF16"])
    }

    func testQuotedConfigInputIsClipped() throws {
        let huge = String(repeating: "m", count: 1 << 20) + "\u{1B}"
        XCTAssertThrowsError(try LanguageModel.load(directory: try copy("gemma2-tiny-f32") { $0["model_type"] = huge })) { error in
            let text = "\(error)"
            XCTAssertLessThan(text.count, 1000)
            XCTAssertTrue(text.contains("more bytes"), text)
        }
    }
}
