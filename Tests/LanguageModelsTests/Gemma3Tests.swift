import Foundation
import LanguageModels
import Tensors
import WeightFiles
import XCTest

/// Gemma 3 specifics beyond the parity runs: both config layouts, the multimodal wrapper's weight names,
/// and cached generation across local and global layers (expected tokens from transformers' generate).
final class Gemma3Tests: XCTestCase {
    private let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("gemma3-tests-\(UUID().uuidString)")

    override func tearDown() { try? FileManager.default.removeItem(at: scratch) }

    func testTransformers5ConfigDecodes() throws {
        let c = try Fixtures.model("gemma3-tiny-f32").config
        XCTAssertEqual(c.architecture, .gemma3)
        XCTAssertEqual(c.slidingWindowLayers, [true, true, true, false])
        XCTAssertEqual(c.slidingWindow, 6)
        XCTAssertEqual(c.rope, .init(theta: 300, linearFactor: 8))
        XCTAssertEqual(c.slidingRope, .init(theta: 50))
        XCTAssertEqual(c.attentionScale, Float(1 / 20.0.squareRoot()))
        XCTAssertNil(c.attentionLogitSoftcap)
        XCTAssertNil(c.finalLogitSoftcap)
        XCTAssertTrue(c.traits.queryKeyNorm && c.traits.sandwichNorms && c.traits.scalesEmbedding)
        XCTAssertEqual(c.eosTokenIDs, [1, 106])
    }

    /// The published spelling: sparse `text_config`, `sliding_window_pattern`, `rope_local_base_freq`,
    /// `rope_scaling` for the global layers only; what transformers made of it is in the script's output.
    func testHubMultimodalConfigDecodes() throws {
        let c = try Fixtures.model("gemma3-mm-tiny-bf16").config
        XCTAssertEqual(c.slidingWindowLayers, [true, true, false, true])
        XCTAssertEqual(c.rope, .init(theta: 500, linearFactor: 4))
        XCTAssertEqual(c.slidingRope, .init(theta: 40))
        XCTAssertEqual(c.checkpointPrefixes.first, "language_model.model.")
        XCTAssertEqual(c.rmsNormEpsilon, 1e-6)  // Gemma3TextConfig's default: the file leaves it out
        XCTAssertEqual(c.bosTokenID, 2)
    }

    func testPublishedGemma3_4BConfigDecodesWithTransformersDefaults() throws {
        // google/gemma-3-4b-it's config.json, vision_config left out (never read).
        let json = #"""
            {"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999, "eoi_token_index": 256000,
             "eos_token_id": [1, 106], "image_token_index": 262144, "initializer_range": 0.02, "mm_tokens_per_image": 256,
             "model_type": "gemma3", "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
             "model_type": "gemma3_text", "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
             "sliding_window": 1024}, "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0"}
            """#
        let c = try ModelConfiguration(json: Data(json.utf8))
        XCTAssertEqual(c.vocabularySize, 262_208)
        XCTAssertEqual(c.headDimension, 256)
        XCTAssertEqual(c.keyValueHeadCount, 4)
        XCTAssertEqual(c.slidingWindowLayers.filter { !$0 }.count, 5)  // layers 5, 11, 17, 23, 29
        XCTAssertFalse(c.slidingWindowLayers[5])
        XCTAssertTrue(c.slidingWindowLayers[6])
        XCTAssertEqual(c.rope, .init(theta: 1_000_000, linearFactor: 8))
        XCTAssertEqual(c.slidingRope, .init(theta: 10_000))
        XCTAssertEqual(c.eosTokenIDs, [1, 106])
        XCTAssertEqual(c.tensorShapes.count, 1 + 34 * 13 + 1)  // tied head; q/k norms per layer
    }

    func testBadGemma3ConfigsNameTheField() throws {
        let cases: [(String, String)] = [
            (#"{"model_type": "gemma3"}"#, "text_config"),
            (#"{"model_type": "gemma3", "text_config": {"num_hidden_layers": 2, "layer_types": ["sliding_attention", "chunked"]}}"#,
             "text_config.layer_types"),
            (#"{"model_type": "gemma3_text", "sliding_window_pattern": 0}"#, "sliding_window_pattern"),
            (#"{"model_type": "gemma3_text", "rope_parameters": {"full_attention": {"rope_type": "yarn"}}}"#,
             "rope_parameters.full_attention.rope_type"),
            (#"{"model_type": "gemma3_text", "rope_scaling": {"rope_type": "linear"}}"#, "rope_scaling.factor"),
            (#"{"model_type": "gemma3", "text_config": {"attention_bias": true}}"#, "text_config.attention_bias"),
        ]
        for (json, field) in cases {
            XCTAssertThrowsError(try ModelConfiguration(json: Data(json.utf8)), json) { error in
                guard case let LanguageModelError.invalidConfiguration(_, found, _) = error else {
                    return XCTFail("\(json): \(error)")
                }
                XCTAssertEqual(found, field, json)
            }
        }
    }

    /// transformers 5 keeps the wrapper's text model at `model.language_model.` in memory; a checkpoint
    /// saved with those names loads to the same model.
    func testMultimodalWeightsUnderTheTransformers5PrefixLoadTheSameModel() throws {
        let source = Fixtures.modelDirectory("gemma3-mm-tiny-bf16")
        let copy = scratch.appendingPathComponent("mm")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for file in ["config.json", "generation_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: copy.appendingPathComponent(file))
        }
        let file = try SafeTensorsFile(path: source.appendingPathComponent("model.safetensors").path)
        let entries = try file.names.map { name -> SafeTensorsWriter.Entry in
            let renamed = name.hasPrefix("language_model.model.")
                ? "model.language_model." + name.dropFirst("language_model.model.".count) : "model." + name
            return SafeTensorsWriter.Entry(name: renamed, tensor: try file.tensor(name))
        }
        try SafeTensorsWriter.write(entries, to: copy.appendingPathComponent("model.safetensors"))
        let renamed = try LanguageModel.load(directory: copy)
        let original = try Fixtures.model("gemma3-mm-tiny-bf16")
        let tokens = try Fixtures.reference("gemma3-mm-tiny-bf16").sequences
        let a = try renamed.forward(tokens: tokens), b = try original.forward(tokens: tokens)
        XCTAssertEqual(a.map { $0.floats() }, b.map { $0.floats() })
    }

    func testMissingTextWeightIsNamedAsTheCheckpointSpellsIt() throws {
        let source = Fixtures.modelDirectory("gemma3-mm-tiny-bf16")
        let copy = scratch.appendingPathComponent("missing")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for file in ["config.json", "generation_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: copy.appendingPathComponent(file))
        }
        let file = try SafeTensorsFile(path: source.appendingPathComponent("model.safetensors").path)
        let dropped = "language_model.model.layers.1.self_attn.k_norm.weight"
        let entries = try file.names.filter { $0 != dropped }.map { SafeTensorsWriter.Entry(name: $0, tensor: try file.tensor($0)) }
        try SafeTensorsWriter.write(entries, to: copy.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try LanguageModel.load(directory: copy)) { error in
            guard case let LanguageModelError.missingTensor(_, tensor) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, dropped)
        }
    }

    func testCachedGreedyGenerationMatchesTransformers() throws {
        let model = try Fixtures.model("gemma3-tiny-f32")
        let reference = try Fixtures.reference("gemma3-tiny-f32")
        let count = Int(reference.meta("generate.0.prompts")!)!
        let prompts = (0..<count).map { reference.ints("generate.0.prompt.\($0)") }
        let expected = (0..<count).map { reference.ints("generate.0.tokens.\($0)") }
        let maxNew = Int(reference.meta("generate.0.max_new_tokens")!)!
        XCTAssertGreaterThan(prompts.map(\.count).max()! + maxNew, model.config.slidingWindow!)
        let results = try Generator(model: model).generate(GenerationRequest(prompts: prompts, maxNewTokens: maxNew, stopTokenIDs: []))
        XCTAssertEqual(results.map(\.tokens), expected)
    }
}
