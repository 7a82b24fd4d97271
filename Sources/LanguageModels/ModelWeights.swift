import Foundation
import Tensors

/// The tensors of one decoder block. Matrices stay in their file dtype (often memory-mapped bf16);
/// norm scales and biases are small and kept as f32, the family's norm offset (Gemma's 1 + w) applied.
struct LayerWeights {
    let attentionNorm: [Float]
    /// Sandwich norms only: normalises the attention output before the residual add.
    let postAttentionNorm: [Float]?
    let feedForwardNorm: [Float]
    /// Sandwich norms only: normalises the feed-forward output before the residual add.
    let postFeedForwardNorm: [Float]?
    /// Per-head q/k norms (over head_dim) when the family has them.
    let queryNorm: [Float]?
    let keyNorm: [Float]?
    let query: Tensor
    let key: Tensor
    let value: Tensor
    /// q/k/v projection biases when the family has them.
    let queryBias: [Float]?
    let keyBias: [Float]?
    let valueBias: [Float]?
    let output: Tensor
    let gate: Tensor
    let up: Tensor
    let down: Tensor
}

/// All weights of a model, checked against the configuration's shapes.
struct ModelWeights {
    let embedding: Tensor
    let layers: [LayerWeights]
    let finalNorm: [Float]
    /// The LM head: `lm_head.weight`, or the embedding when tied.
    let head: Tensor

    /// `fileName` turns a canonical name (`model.layers.0.…`, `lm_head.weight`) into the checkpoint's;
    /// `tensor(name)` returns the tensor of that file name or nil when absent; `location(name)` names its
    /// file for errors.
    init(config: ModelConfiguration, fileName: (String) -> String = { $0 },
         tensor lookup: (String) throws -> Tensor?, location: (String) -> String) throws {
        // The layer count decides how many tensors are looked up and kept; check it against the
        // layers the checkpoint really holds first, so a wrong num_hidden_layers is named as such.
        let lastLayer = fileName("model.layers.\(config.layerCount - 1).input_layernorm.weight")
        let pastLast = fileName("model.layers.\(config.layerCount).input_layernorm.weight")
        if try lookup(lastLayer) == nil {
            throw LanguageModelError.invalidConfiguration(
                path: location(lastLayer), field: "num_hidden_layers",
                reason: "is \(config.layerCount) but tensor '\(lastLayer)' is missing from the weights")
        }
        if try lookup(pastLast) != nil {
            throw LanguageModelError.invalidConfiguration(
                path: location(pastLast), field: "num_hidden_layers",
                reason: "is \(config.layerCount) but the weights hold more layers ('\(pastLast)')")
        }
        var found: [String: Tensor] = [:]
        for (name, shape) in config.tensorShapes {
            let file = fileName(name)
            guard let t = try lookup(file) else {
                throw LanguageModelError.missingTensor(path: location(file), tensor: file)
            }
            guard t.shape == shape else {
                throw LanguageModelError.shapeMismatch(path: location(file), tensor: file, expected: shape, found: t.shape)
            }
            found[name] = t
        }
        let traits = config.traits
        func norm(_ name: String) -> [Float] {
            let w = found[name]!.floats()
            return traits.normWeightOffset == 0 ? w : w.map { traits.normWeightOffset + $0 }
        }
        func optional(_ present: Bool, _ read: @autoclosure () -> [Float]) -> [Float]? { present ? read() : nil }
        embedding = found["model.embed_tokens.weight"]!
        layers = (0..<config.layerCount).map { l in
            let p = "model.layers.\(l)."
            let sandwich = traits.sandwichNorms, qkNorm = traits.queryKeyNorm, bias = traits.queryKeyValueBias
            return LayerWeights(
                attentionNorm: norm(p + "input_layernorm.weight"),
                postAttentionNorm: optional(sandwich, norm(p + "post_attention_layernorm.weight")),
                feedForwardNorm: norm(p + (sandwich ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight")),
                postFeedForwardNorm: optional(sandwich, norm(p + "post_feedforward_layernorm.weight")),
                queryNorm: optional(qkNorm, norm(p + "self_attn.q_norm.weight")),
                keyNorm: optional(qkNorm, norm(p + "self_attn.k_norm.weight")),
                query: found[p + "self_attn.q_proj.weight"]!, key: found[p + "self_attn.k_proj.weight"]!,
                value: found[p + "self_attn.v_proj.weight"]!,
                queryBias: optional(bias, found[p + "self_attn.q_proj.bias"]!.floats()),
                keyBias: optional(bias, found[p + "self_attn.k_proj.bias"]!.floats()),
                valueBias: optional(bias, found[p + "self_attn.v_proj.bias"]!.floats()),
                output: found[p + "self_attn.o_proj.weight"]!,
                gate: found[p + "mlp.gate_proj.weight"]!, up: found[p + "mlp.up_proj.weight"]!,
                down: found[p + "mlp.down_proj.weight"]!)
        }
        finalNorm = norm("model.norm.weight")
        head = config.tiesWordEmbeddings ? embedding : found["lm_head.weight"]!
    }
}

/// How a checkpoint spells the canonical tensor names: `model.X` is `prefix + X`; the LM head is
/// `lm_head.weight`, or `language_model.lm_head.weight` in published multimodal checkpoints.
struct CheckpointNaming {
    let prefix: String

    /// The first of `prefixes` under which the checkpoint holds the embedding (else the first, so that
    /// the missing-tensor error names the expected spelling).
    init(prefixes: [String], contains: (String) -> Bool) {
        prefix = prefixes.first { contains($0 + "embed_tokens.weight") } ?? prefixes.first ?? "model."
    }

    func fileName(_ canonical: String) -> String {
        if canonical.hasPrefix("model.") { return prefix + canonical.dropFirst("model.".count) }
        if prefix == "language_model.model." { return "language_model." + canonical }
        return canonical
    }
}

extension ModelWeights {
    /// Bytes of the weight matrices (the vectors are negligible); a tied head is counted once.
    var matrixByteCount: Int {
        let layerBytes = layers.reduce(0) { total, l in
            total + [l.query, l.key, l.value, l.output, l.gate, l.up, l.down].reduce(0) { $0 + $1.byteCount }
        }
        let head = self.head.rawPointer == embedding.rawPointer ? 0 : self.head.byteCount
        return embedding.byteCount + layerBytes + head
    }
}
