import Foundation
import WeightFiles

/// Qwen2 and Qwen2.5 (`model_type: qwen2`), as transformers' `modeling_qwen2.py` computes them: Llama's
/// block (RMSNorm scaled by w, grouped-query attention with scale head_dim^-½, RoPE, SwiGLU) plus biases
/// on the query, key and value projections (none on the output projection). Released checkpoints keep
/// `use_sliding_window: false`; a config that turns it on is refused rather than run without it.
enum Qwen2: ModelFamily {
    static let modelTypes = ["qwen2"]
    static let traits = ModelTraits(queryKeyValueBias: true)

    static func configuration(_ fields: JSONFields) throws -> ModelConfiguration {
        try QwenConfiguration.checkCommon(fields, family: "qwen2")
        return try ModelConfiguration(architecture: .qwen2, fields: fields, activation: .silu)
    }
}

/// What the Qwen families' configs share.
enum QwenConfiguration {
    static func checkCommon(_ fields: JSONFields, family: String) throws {
        let activation = try fields.optionalString("hidden_act") ?? "silu"
        guard activation == "silu" else {
            throw fields.invalid("hidden_act", "\"\(activation)\" is not supported for \(family); expected silu")
        }
        if try fields.bool("use_sliding_window", default: false) {
            throw fields.invalid("use_sliding_window", "true is not supported (every released \(family) checkpoint uses full attention)")
        }
    }
}
