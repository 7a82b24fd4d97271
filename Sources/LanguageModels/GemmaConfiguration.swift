import Foundation
import WeightFiles

/// What the Gemma-2 and Gemma 3 configs decode the same way: the GeGLU activation they require,
/// the attention features they refuse, the attention scale and soft-caps, the sliding window and
/// `layer_types`. Each family file adds what differs.
enum GemmaConfiguration {
    /// The checks and fields both families share; `family` names the model type in errors.
    static func decode(_ fields: JSONFields, architecture: ModelConfiguration.Architecture, family: String,
                       activationKey: String) throws -> ModelConfiguration {
        let activation = try fields.optionalString(activationKey) ?? "gelu_pytorch_tanh"
        guard activation == ModelConfiguration.FeedForwardActivation.geluTanh.rawValue else {
            throw fields.invalid(activationKey, "\"\(activation)\" is not supported for \(family); expected gelu_pytorch_tanh")
        }
        if try fields.bool("use_bidirectional_attention", default: false) {
            throw fields.invalid("use_bidirectional_attention", "bidirectional attention is not supported")
        }
        if try fields.bool("attention_bias", default: false) {
            throw fields.invalid("attention_bias", "attention biases are not supported")
        }
        var c = try ModelConfiguration(architecture: architecture, fields: fields, activation: .geluTanh)
        let scalar = try fields.optionalDouble("query_pre_attn_scalar") ?? 256
        guard scalar > 0 else { throw fields.invalid("query_pre_attn_scalar", "must be positive") }
        c.attentionScale = Float(1 / scalar.squareRoot())
        c.attentionLogitSoftcap = try fields.optionalDouble("attn_logit_softcapping").map(Float.init)
        c.finalLogitSoftcap = try fields.optionalDouble("final_logit_softcapping").map(Float.init)
        c.slidingWindow = try fields.optionalInt("sliding_window")
        return c
    }

    /// Which layers slide, from `layer_types` (transformers 5), or nil when the config has none.
    static func slidingLayers(fromLayerTypes fields: JSONFields, count: Int) throws -> [Bool]? {
        guard let types = try fields.stringList("layer_types") else { return nil }
        guard types.count == count else {
            throw fields.invalid("layer_types", "has \(types.count) entries for \(count) layers")
        }
        return try types.map { type in
            switch type {
            case "sliding_attention": return true
            case "full_attention": return false
            default: throw fields.invalid("layer_types", "unknown layer type \"\(type)\"; expected sliding_attention or full_attention")
            }
        }
    }

    /// A sliding layer needs a window.
    static func requireWindow(_ c: ModelConfiguration, _ fields: JSONFields) throws {
        if c.slidingWindow == nil && c.slidingWindowLayers.contains(true) {
            throw fields.invalid("sliding_window", "missing, but some layers use sliding attention")
        }
    }
}
