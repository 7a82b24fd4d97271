import Foundation
import WeightFiles

/// Qwen3 dense models (`model_type: qwen3`), as transformers' `modeling_qwen3.py` computes them: Llama's
/// block with an explicit `head_dim`, no projection biases (`attention_bias: false` in every release), and a
/// per-head RMSNorm over head_dim (scaled by w) on queries and keys before RoPE (`q_norm`, `k_norm`).
enum Qwen3: ModelFamily {
    static let modelTypes = ["qwen3"]
    static let traits = ModelTraits(queryKeyNorm: true)

    static func configuration(_ fields: JSONFields) throws -> ModelConfiguration {
        try QwenConfiguration.checkCommon(fields, family: "qwen3")
        if try fields.bool("attention_bias", default: false) {
            throw fields.invalid("attention_bias", "biases are not supported for qwen3 (no released checkpoint has them)")
        }
        return try ModelConfiguration(architecture: .qwen3, fields: fields, activation: .silu)
    }
}
