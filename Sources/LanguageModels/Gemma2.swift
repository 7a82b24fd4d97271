import Foundation
import WeightFiles

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
        var c = try GemmaConfiguration.decode(fields, architecture: .gemma2, family: "gemma2", activationKey: activationKey)
        // transformers' default without `layer_types`: layers 0, 2, 4, … slide.
        c.slidingWindowLayers = try GemmaConfiguration.slidingLayers(fromLayerTypes: fields, count: c.layerCount)
            ?? (0..<c.layerCount).map { $0 % 2 == 0 }
        try GemmaConfiguration.requireWindow(c, fields)
        return c
    }
}
