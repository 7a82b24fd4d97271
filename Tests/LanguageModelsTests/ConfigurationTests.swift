import Foundation
import LanguageModels
import Tensors
import XCTest

/// config.json decoding and the errors for folders that do not match it.
final class ConfigurationTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lm-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// A copy of a fixture model folder whose config.json has `edit` applied.
    private func editedCopy(of name: String, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        try Fixtures.editedCopy(of: name, in: scratch, config: edit)
    }

    private func assertLoadFails(_ directory: URL, mentioning parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LanguageModel.load(directory: directory), file: file, line: line) { error in
            let text = "\(error)"
            for part in parts { XCTAssertTrue(text.contains(part), "\"\(text)\" should mention \(part)", file: file, line: line) }
        }
    }

    func testHubAndTransformers5SpellingsDecode() throws {
        let hub = try ModelConfiguration.load(directory: Fixtures.modelDirectory("gemma2-tiny-f32"))
        XCTAssertEqual(hub.architecture, .gemma2)
        XCTAssertEqual(hub.slidingWindowLayers, [true, false, true, false])  // no layer_types: even layers slide
        XCTAssertEqual(hub.slidingWindow, 8)
        XCTAssertEqual(hub.headDimension, 24)
        XCTAssertEqual(hub.attentionScale, Float(1 / 20.0.squareRoot()))
        XCTAssertEqual(hub.attentionLogitSoftcap, 6)
        XCTAssertEqual(hub.finalLogitSoftcap, 20)
        XCTAssertEqual(hub.declaredDType, "float32")
        XCTAssertTrue(hub.tiesWordEmbeddings)
        XCTAssertEqual(hub.eosTokenIDs, [1])
        XCTAssertEqual(hub.bosTokenID, 2)
        let t5 = try ModelConfiguration.load(directory: Fixtures.modelDirectory("gemma2-tiny-bf16"))
        XCTAssertEqual(t5.slidingWindowLayers, [true, false, true, false])  // from layer_types
        XCTAssertEqual(t5.declaredDType, "bfloat16")

        let llamaHub = try ModelConfiguration.load(directory: Fixtures.modelDirectory("llama3-tiny-f32"))
        let llamaT5 = try ModelConfiguration.load(directory: Fixtures.modelDirectory("llama3-tiny-bf16"))
        for c in [llamaHub, llamaT5] {
            XCTAssertEqual(c.architecture, .llama)
            XCTAssertEqual(c.ropeTheta, 500000)
            XCTAssertEqual(c.ropeScaling, RotaryEmbedding.Llama3Scaling(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 256))
            XCTAssertEqual(c.keyValueHeadCount, 2)
            XCTAssertEqual(c.attentionHeadCount, 8)
            XCTAssertEqual(c.slidingWindowLayers, [false, false, false, false])
            XCTAssertEqual(c.eosTokenIDs, [3, 4])
        }
        XCTAssertFalse(llamaHub.tiesWordEmbeddings)
        XCTAssertTrue(llamaT5.tiesWordEmbeddings)
    }

    func testRealConfigurationsDecode() throws {
        let gemma = ModelConfiguration.gemma2_2b
        XCTAssertEqual(gemma.hiddenSize, 2304)
        XCTAssertEqual(gemma.layerCount, 26)
        XCTAssertEqual(gemma.attentionScale, 1.0 / 16)
        XCTAssertEqual(gemma.slidingWindowLayers.filter { $0 }.count, 13)
        XCTAssertEqual(gemma.tensorShapes.count, 1 + 26 * 11 + 1)
        let llama = ModelConfiguration.llama3_1_8b
        XCTAssertEqual(llama.headDimension, 128)
        XCTAssertEqual(llama.ropeScaling?.factor, 8)
        XCTAssertEqual(llama.eosTokenIDs, [128001])
        XCTAssertEqual(llama.tensorShapes.last?.name, "lm_head.weight")
        XCTAssertEqual(llama.tensorShapes.last?.shape, [128256, 4096])
    }

    func testPlainRoPEForLlamaWithoutScaling() throws {
        let json = #"{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "rope_theta": 10000.0, "rope_scaling": null}"#
        let c = try ModelConfiguration(json: Data(json.utf8))
        XCTAssertNil(c.ropeScaling)
        XCTAssertEqual(c.keyValueHeadCount, 2)
        XCTAssertEqual(c.headDimension, 4)
        let rope = RotaryEmbedding(headDimension: 4, base: 10000)
        XCTAssertEqual(rope.inverseFrequencies, [1, 0.01])
    }

    func testLlama3FrequencyRuleFollowsTransformers() {
        // head_dim 8, theta 500000, original context 256: wavelengths 6.3 (kept), 167 (blended), 4443 and 118000 (÷ 8).
        let rope = RotaryEmbedding(headDimension: 8, base: 500000, llama3: .init(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 256))
        let plain = RotaryEmbedding(headDimension: 8, base: 500000)
        XCTAssertEqual(rope.inverseFrequencies[0], plain.inverseFrequencies[0])
        let smooth = (256 / (2 * Float.pi / plain.inverseFrequencies[1]) - 1) / 3
        XCTAssertTrue(smooth > 0 && smooth < 1)
        XCTAssertEqual(rope.inverseFrequencies[1], (1 - smooth) * plain.inverseFrequencies[1] / 8 + smooth * plain.inverseFrequencies[1], accuracy: 1e-9)
        XCTAssertEqual(rope.inverseFrequencies[2], plain.inverseFrequencies[2] / 8)
        XCTAssertEqual(rope.inverseFrequencies[3], plain.inverseFrequencies[3] / 8)
    }

    func testMissingConfigJSON() throws {
        try FileManager.default.copyItem(at: Fixtures.modelDirectory("gemma2-tiny-bf16").appendingPathComponent("model.safetensors"),
                                         to: scratch.appendingPathComponent("model.safetensors"))
        assertLoadFails(scratch, mentioning: [scratch.path, "no config.json"])
    }

    func testUnknownModelTypeListsTheSupportedOnes() throws {
        let dir = try editedCopy(of: "gemma2-tiny-bf16") { $0["model_type"] = "mistral" }
        assertLoadFails(dir, mentioning: ["config.json", "\"mistral\"", "gemma2", "llama"])
    }

    func testMissingTensor() throws {
        // A fifth layer in the config that the checkpoint does not have.
        let dir = try editedCopy(of: "llama3-tiny-f32") { $0["num_hidden_layers"] = 5 }
        assertLoadFails(dir, mentioning: ["model.layers.4.input_layernorm.weight", "missing"])
    }

    func testTensorShapeThatContradictsConfig() throws {
        let dir = try editedCopy(of: "gemma2-tiny-bf16") { $0["intermediate_size"] = 100 }
        assertLoadFails(dir, mentioning: [dir.appendingPathComponent("model.safetensors").path, "model.layers.0.mlp.gate_proj.weight", "[128, 64]", "[100, 64]"])
        let sharded = try editedCopy(of: "llama3-tiny-f32") { $0["num_key_value_heads"] = 4 }
        assertLoadFails(sharded, mentioning: ["model-0000", "k_proj.weight", "[16, 64]", "[32, 64]"])
    }

    func testInMemoryWeightsAreCheckedToo() throws {
        let config = try ModelConfiguration.load(directory: Fixtures.modelDirectory("gemma2-tiny-f32"))
        var weights: [String: Tensor] = [:]
        for (name, shape) in config.tensorShapes { weights[name] = Tensor(zeros: shape, dtype: .bf16) }
        XCTAssertNoThrow(try LanguageModel(config: config, weights: weights))
        weights["model.norm.weight"] = Tensor(zeros: [63], dtype: .bf16)
        XCTAssertThrowsError(try LanguageModel(config: config, weights: weights)) { XCTAssertTrue("\($0)".contains("model.norm.weight")) }
        weights["model.norm.weight"] = nil
        XCTAssertThrowsError(try LanguageModel(config: config, weights: weights)) { XCTAssertTrue("\($0)".contains("missing")) }
    }

    func testInvalidFieldsNameTheField() throws {
        let base = #""model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1"#
        let cases: [(String, String)] = [
            ("{\(base)}", "num_attention_heads"),
            ("{\(base), \"num_attention_heads\": 2, \"num_key_value_heads\": 3}", "num_key_value_heads"),
            ("{\(base), \"num_attention_heads\": 2, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2}}", "yarn"),
            ("{\(base), \"num_attention_heads\": 2, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}", "low_freq_factor"),
            ("{\(base), \"num_attention_heads\": 2, \"hidden_act\": \"gelu\"}", "hidden_act"),
            ("{\(base), \"num_attention_heads\": \"two\"}", "num_attention_heads"),
            ("{\"vocab_size\": 10}", "model_type"),
            ("[1, 2]", "not a JSON object"),
            ("{", "not valid JSON"),
        ]
        for (json, mention) in cases {
            XCTAssertThrowsError(try ModelConfiguration(json: Data(json.utf8), source: "x/config.json")) { error in
                XCTAssertTrue("\(error)".contains(mention), "\(error) should mention \(mention)")
                XCTAssertTrue("\(error)".contains("x/config.json"), "\(error)")
            }
        }
    }

    func testModelLocatorFindsCachedSnapshots() throws {
        let hub = scratch.appendingPathComponent("hf/hub")
        let repo = hub.appendingPathComponent("models--google--gemma-2-2b")
        let snapshot = repo.appendingPathComponent("snapshots/abc123")
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: snapshot.appendingPathComponent("config.json"))
        try Data("abc123\n".utf8).write(to: repo.appendingPathComponent("refs/main"))
        let viaHome = try ModelLocator.resolve("google/gemma-2-2b", environment: ["HF_HOME": scratch.appendingPathComponent("hf").path])
        XCTAssertEqual(viaHome.standardizedFileURL.path, snapshot.standardizedFileURL.path)
        let viaCache = try ModelLocator.resolve("google/gemma-2-2b", environment: ["HF_HUB_CACHE": hub.path])
        XCTAssertEqual(viaCache.standardizedFileURL.path, snapshot.standardizedFileURL.path)
        let local = try ModelLocator.resolve(Fixtures.modelDirectory("gemma2-tiny-f32").path, environment: [:])
        XCTAssertEqual(local.standardizedFileURL.path, Fixtures.modelDirectory("gemma2-tiny-f32").standardizedFileURL.path)
        XCTAssertThrowsError(try ModelLocator.resolve("google/gemma-2-9b", environment: ["HF_HUB_CACHE": hub.path])) { error in
            XCTAssertTrue("\(error)".contains("models--google--gemma-2-9b"), "\(error)")
        }
    }
}
