import Foundation
import LanguageModels
import XCTest

/// Qwen2 / Qwen3 specifics beyond the parity runs (ParityTests): both config spellings, the published
/// configs, refused settings named by field, and cached generation against transformers' generate.
final class QwenTests: XCTestCase {
    func testTinyConfigsDecodeWithTheirTraits() throws {
        let qwen2 = try Fixtures.model("qwen2-tiny-f32").config
        XCTAssertEqual(qwen2.architecture, .qwen2)
        XCTAssertTrue(qwen2.traits.queryKeyValueBias)
        XCTAssertFalse(qwen2.traits.queryKeyNorm)
        XCTAssertFalse(qwen2.tiesWordEmbeddings)
        XCTAssertEqual(qwen2.rope, .init(theta: 1_000_000))
        let qwen3 = try Fixtures.model("qwen3-tiny-f32").config
        XCTAssertEqual(qwen3.architecture, .qwen3)
        XCTAssertTrue(qwen3.traits.queryKeyNorm)
        XCTAssertFalse(qwen3.traits.queryKeyValueBias)
        XCTAssertEqual(qwen3.headDimension, 12)
        XCTAssertEqual(qwen3.attentionScale, Float(1 / 12.0.squareRoot()))
        XCTAssertTrue(qwen3.tiesWordEmbeddings)
        XCTAssertEqual(qwen3.slidingWindowLayers, [false, false, false, false])
    }

    /// Qwen/Qwen3-1.7B's config.json (transformers 4 spelling: top-level `rope_theta`, `rope_scaling: null`).
    func testPublishedQwen3_1_7BConfigDecodes() throws {
        let json = #"""
            {"architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
             "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
             "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 6144,
             "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
             "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
             "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true,
             "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": true,
             "use_sliding_window": false, "vocab_size": 151936}
            """#
        let c = try ModelConfiguration(json: Data(json.utf8))
        XCTAssertEqual(c.architecture, .qwen3)
        XCTAssertEqual(c.headDimension, 128)
        XCTAssertEqual(c.keyValueHeadCount, 8)
        XCTAssertEqual(c.rope, .init(theta: 1_000_000))
        XCTAssertEqual(c.eosTokenIDs, [151_645])
        XCTAssertEqual(c.tensorShapes.count, 1 + 28 * 11 + 1)  // tied head; q/k norms per layer
    }

    /// Qwen/Qwen2.5-7B-Instruct's config.json: biases on q/k/v, untied head, a sliding window that is off.
    func testPublishedQwen2_5_7BConfigDecodes() throws {
        let json = #"""
            {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
             "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
             "intermediate_size": 18944, "max_position_embeddings": 32768, "max_window_layers": 28,
             "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
             "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": false,
             "torch_dtype": "bfloat16", "transformers_version": "4.43.1", "use_cache": true,
             "use_sliding_window": false, "vocab_size": 152064}
            """#
        let c = try ModelConfiguration(json: Data(json.utf8))
        XCTAssertEqual(c.architecture, .qwen2)
        XCTAssertEqual(c.headDimension, 128)
        XCTAssertNil(c.slidingWindow)
        XCTAssertFalse(c.tiesWordEmbeddings)
        XCTAssertEqual(c.tensorShapes.count, 1 + 28 * 12 + 1 + 1)  // q/k/v biases per layer; untied head
    }

    func testRefusedQwenSettingsNameTheField() throws {
        let cases: [(String, String)] = [
            (#"{"model_type": "qwen2", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "use_sliding_window": true}"#, "use_sliding_window"),
            (#"{"model_type": "qwen3", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "attention_bias": true}"#, "attention_bias"),
            (#"{"model_type": "qwen3", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "hidden_act": "gelu"}"#, "hidden_act"),
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

    func testCachedGreedyGenerationMatchesTransformers() throws {
        for name in ["qwen2-tiny-f32", "qwen3-tiny-f32"] {
            let model = try Fixtures.model(name)
            let reference = try Fixtures.reference(name)
            let count = Int(reference.meta("generate.0.prompts")!)!
            let prompts = (0..<count).map { reference.ints("generate.0.prompt.\($0)") }
            let expected = (0..<count).map { reference.ints("generate.0.tokens.\($0)") }
            let maxNew = Int(reference.meta("generate.0.max_new_tokens")!)!
            let results = try Generator(model: model).generate(GenerationRequest(prompts: prompts, maxNewTokens: maxNew, stopTokenIDs: []))
            XCTAssertEqual(results.map(\.tokens), expected, name)
        }
    }
}
