import Foundation
import WeightFiles

/// Llama (`model_type: llama`, Llama-3.x included), as transformers' `modeling_llama.py` computes it:
/// RMSNorm scaled by w, grouped-query attention with scale head_dim^-½, RoPE with `rope_theta` and the
/// optional llama3 frequency rescaling, SwiGLU, untied LM head unless `tie_word_embeddings`.
enum Llama: ModelFamily {
    static let modelTypes = ["llama"]
    static let traits = ModelTraits()

    static func configuration(_ fields: JSONFields) throws -> ModelConfiguration {
        let activation = try fields.optionalString("hidden_act") ?? "silu"
        guard activation == "silu" else {
            throw fields.invalid("hidden_act", "\"\(activation)\" is not supported for llama; expected silu")
        }
        for key in ["attention_bias", "mlp_bias"] where try fields.bool(key, default: false) {
            throw fields.invalid(key, "biases are not supported")
        }
        return try ModelConfiguration(architecture: .llama, fields: fields, activation: .silu)
    }
}
