import Foundation

/// Gemma-2 (`model_type: gemma2`), as transformers' `modeling_gemma2.py` computes it:
/// embedding × √hidden (the constant rounded to the weight dtype), RMSNorm scaled by (1 + w) in f32,
/// "sandwich" norms around attention and the feed-forward block, GeGLU with tanh GELU, attention scale
/// `query_pre_attn_scalar`^-½, attention-logit softcap before the mask, sliding window on the layers
/// `layer_types` marks (else the even layers), tied LM head, final-logit softcap.
enum Gemma2: ModelFamily {
    static let modelTypes = ["gemma2"]
    static let traits = ModelTraits(normWeightOffset: 1, sandwichNorms: true, scalesEmbedding: true,
                                    tiesWordEmbeddingsByDefault: true)

    static func configuration(_ fields: JSONFields) throws -> ModelConfiguration {
        let activationKey = fields.has("hidden_activation") ? "hidden_activation" : "hidden_act"
        let activation = try fields.optionalString(activationKey) ?? "gelu_pytorch_tanh"
        guard activation == ModelConfiguration.FeedForwardActivation.geluTanh.rawValue else {
            throw fields.invalid(activationKey, "\"\(activation)\" is not supported for gemma2; expected gelu_pytorch_tanh")
        }
        if try fields.bool("use_bidirectional_attention", default: false) {
            throw fields.invalid("use_bidirectional_attention", "bidirectional attention is not supported")
        }
        if try fields.bool("attention_bias", default: false) {
            throw fields.invalid("attention_bias", "attention biases are not supported")
        }
        var c = try ModelConfiguration(architecture: .gemma2, fields: fields, activation: .geluTanh)
        let scalar = try fields.optionalDouble("query_pre_attn_scalar") ?? 256
        guard scalar > 0 else { throw fields.invalid("query_pre_attn_scalar", "must be positive") }
        c.attentionScale = Float(1 / scalar.squareRoot())
        c.attentionLogitSoftcap = try fields.optionalDouble("attn_logit_softcapping").map(Float.init)
        c.finalLogitSoftcap = try fields.optionalDouble("final_logit_softcapping").map(Float.init)
        c.slidingWindow = try fields.optionalInt("sliding_window")
        if let types = try fields.stringList("layer_types") {
            guard types.count == c.layerCount else {
                throw fields.invalid("layer_types", "has \(types.count) entries for \(c.layerCount) layers")
            }
            c.slidingWindowLayers = try types.map { type in
                switch type {
                case "sliding_attention": return true
                case "full_attention": return false
                default: throw fields.invalid("layer_types", "unknown layer type \"\(type)\"; expected sliding_attention or full_attention")
                }
            }
        } else {
            // transformers' default: layers 0, 2, 4, … slide.
            c.slidingWindowLayers = (0..<c.layerCount).map { $0 % 2 == 0 }
        }
        if c.slidingWindow == nil && c.slidingWindowLayers.contains(true) {
            throw fields.invalid("sliding_window", "missing, but some layers use sliding attention")
        }
        return c
    }
}
