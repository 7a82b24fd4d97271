import Foundation
import WeightFiles

/// Gemma 3 text models, as transformers' `modeling_gemma3.py` computes them: Gemma-2's block (embedding
/// × √hidden rounded to the weight dtype, (1 + w) RMSNorms, sandwich norms, GeGLU, attention scale
/// `query_pre_attn_scalar`^-½) plus a per-head (1 + w) RMSNorm on queries and keys before RoPE, sliding
/// layers with their own RoPE base (`rope_local_base_freq`) and global layers with `rope_theta` and
/// optional linear scaling, no soft-caps by default, tied LM head.
///
/// `model_type: gemma3_text` is `Gemma3ForCausalLM` (270M, 1B); `model_type: gemma3` is
/// `Gemma3ForConditionalGeneration` (4B and up), whose text settings sit in `text_config` and whose text
/// weights sit under the language model's prefix; its vision tower is never read.
enum Gemma3: ModelFamily {
    static let modelTypes = ["gemma3_text", "gemma3"]
    static let traits = ModelTraits(normWeightOffset: 1, sandwichNorms: true, scalesEmbedding: true,
                                    queryKeyNorm: true, tiesWordEmbeddingsByDefault: true)

    /// `Gemma3TextConfig`'s defaults: published multimodal configs list only the fields that differ
    /// (gemma-3-4b's `text_config` has six), so the rest must come from here, as in transformers.
    private static let textDefaults: [String: Any] = [
        "vocab_size": 262_208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
        "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
        "max_position_embeddings": 131_072, "rms_norm_eps": 1e-6, "pad_token_id": 0, "eos_token_id": 1,
        "bos_token_id": 2, "tie_word_embeddings": true, "query_pre_attn_scalar": 256, "sliding_window": 4096,
    ]
    private static let defaultGlobalTheta = 1_000_000.0, defaultLocalTheta = 10_000.0
    /// Wrapper fields that describe the whole checkpoint and so also hold for its text model.
    private static let wrapperFields = ["eos_token_id", "bos_token_id", "pad_token_id", "tie_word_embeddings", "dtype", "torch_dtype"]

    static func configuration(_ fields: JSONFields) throws -> ModelConfiguration {
        let wrapped = try fields.string("model_type") == "gemma3"
        var merged = textDefaults
        let text: JSONFields
        if wrapped {
            guard let nested = try fields.nested("text_config") else {
                throw fields.invalid("text_config", "missing; a gemma3 (multimodal) config keeps its text model's settings there")
            }
            for key in wrapperFields where fields.has(key) { merged[key] = fields.object[key] }
            merged.merge(nested.object) { _, own in own }
            text = JSONFields(object: merged, path: fields.path, fieldPrefix: "text_config.", error: LanguageModelError.init)
        } else {
            merged.merge(fields.object) { _, own in own }
            text = JSONFields(object: merged, path: fields.path, error: LanguageModelError.init)
        }
        var c = try GemmaConfiguration.decode(text, architecture: .gemma3, family: "gemma3", activationKey: "hidden_activation")
        if wrapped { c.checkpointPrefixes = ["language_model.model.", "model.language_model."] }
        c.slidingWindowLayers = try slidingLayers(text, count: c.layerCount)
        try GemmaConfiguration.requireWindow(c, text)
        (c.rope, c.slidingRope) = try ropes(text)
        return c
    }

    /// `layer_types` (transformers 5), else `sliding_window_pattern` (older configs; default 6): layer i
    /// slides unless (i + 1) is a multiple of the pattern, i.e. five local layers then one global.
    private static func slidingLayers(_ text: JSONFields, count: Int) throws -> [Bool] {
        if let layers = try GemmaConfiguration.slidingLayers(fromLayerTypes: text, count: count) { return layers }
        let pattern = try text.optionalInt("sliding_window_pattern") ?? 6
        guard pattern > 0 else { throw text.invalid("sliding_window_pattern", "must be positive, got \(pattern)") }
        return (0..<count).map { ($0 + 1) % pattern != 0 }
    }

    /// Global and local RoPE: transformers 5 writes `rope_parameters` keyed by layer type; older configs
    /// write `rope_theta`, `rope_local_base_freq` and a `rope_scaling` that applies to global layers only.
    private static func ropes(_ text: JSONFields) throws -> (ModelConfiguration.Rope, ModelConfiguration.Rope) {
        let globalTheta = try text.optionalDouble("rope_theta") ?? defaultGlobalTheta
        let localTheta = try text.optionalDouble("rope_local_base_freq") ?? defaultLocalTheta
        if let parameters = try text.nested("rope_parameters"),
           parameters.has("full_attention") || parameters.has("sliding_attention") {
            return (try ModelConfiguration.rope(try parameters.nested("full_attention"), theta: globalTheta),
                    try ModelConfiguration.rope(try parameters.nested("sliding_attention"), theta: localTheta))
        }
        let key = text.has("rope_parameters") ? "rope_parameters" : "rope_scaling"
        return (try ModelConfiguration.rope(try text.nested(key), theta: globalTheta), ModelConfiguration.Rope(theta: localTheta))
    }
}
