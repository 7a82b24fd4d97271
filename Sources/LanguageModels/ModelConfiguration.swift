import Foundation
import Tensors
import WeightFiles

/// What a model folder's `config.json` (and `generation_config.json`) says, decoded for the families
/// this engine runs. Hub spellings (`rope_theta` + `rope_scaling`, `torch_dtype`) and transformers-5
/// spellings (`rope_parameters`, `dtype`) are both accepted.
public struct ModelConfiguration: Sendable, Equatable {
    public enum Architecture: String, Sendable, CaseIterable {
        case gemma2
        case llama
        case gemma3 = "gemma3_text"
        case qwen2
        case qwen3
    }

    public enum FeedForwardActivation: String, Sendable {
        /// `gelu_pytorch_tanh` (GeGLU).
        case geluTanh = "gelu_pytorch_tanh"
        /// `silu` (SwiGLU).
        case silu
    }

    public var architecture: Architecture
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var attentionHeadCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    public var rmsNormEpsilon: Float
    /// RoPE of one kind of layer: base and optional frequency rescaling.
    public struct Rope: Sendable, Equatable {
        public var theta: Double
        /// `rope_type: llama3`.
        public var llama3: RotaryEmbedding.Llama3Scaling?
        /// `rope_type: linear`: positions divided by this factor (Gemma 3's global layers on 4B and up).
        public var linearFactor: Double?

        public init(theta: Double, llama3: RotaryEmbedding.Llama3Scaling? = nil, linearFactor: Double? = nil) {
            self.theta = theta
            self.llama3 = llama3
            self.linearFactor = linearFactor
        }
    }

    /// RoPE of the full-attention layers (of every layer unless `slidingRope` is set).
    public var rope: Rope
    /// RoPE of the sliding-window layers when it differs from `rope` (Gemma 3: `rope_local_base_freq`).
    public var slidingRope: Rope?
    public var ropeTheta: Double { rope.theta }
    public var ropeScaling: RotaryEmbedding.Llama3Scaling? { rope.llama3 }
    public var maxPositionEmbeddings: Int
    public var tiesWordEmbeddings: Bool
    public var activation: FeedForwardActivation
    /// Factor applied to q·k before the softcap and the mask (Gemma-2: `query_pre_attn_scalar`^-½).
    public var attentionScale: Float
    public var attentionLogitSoftcap: Float?
    public var finalLogitSoftcap: Float?
    public var slidingWindow: Int?
    /// Per layer: whether it attends only to the last `slidingWindow` positions.
    public var slidingWindowLayers: [Bool]
    public var bosTokenID: Int?
    /// End-of-sequence ids: `generation_config.json` when it names them, else `config.json`.
    public var eosTokenIDs: [Int]
    public var padTokenID: Int?
    /// Where the decoder's tensors sit in the checkpoint, named here as `model.…`: a causal LM keeps
    /// them under `model.`; a multimodal wrapper under its language model (`language_model.model.` as
    /// published, `model.language_model.` as transformers 5 saves). The loader takes the first prefix
    /// under which the checkpoint holds the embedding.
    public var checkpointPrefixes = ["model."]
    /// The `dtype`/`torch_dtype` the file declares (informational; tensors carry their own dtype).
    public var declaredDType: String?

    /// What the family does structurally (norm offset, sandwich norms, q/k norm, biases, …).
    public var traits: ModelTraits { architecture.family.traits }

    /// The window and RoPE of layer `layer`.
    public func attention(layer: Int) -> (window: Int?, rope: Rope) {
        slidingWindowLayers[layer] ? (slidingWindow, slidingRope ?? rope) : (nil, rope)
    }

    /// The names `model_type` may take.
    public static let supportedModelTypes = Architecture.allCases.flatMap { $0.family.modelTypes }

    /// Decodes `config.json` text, plus `generation_config.json` text when there is one.
    /// `source` names the config file in errors.
    public init(json: Data, generationJSON: Data? = nil, source: String = "config.json",
                generationSource: String = "generation_config.json") throws {
        let fields = try JSONFields(data: json, path: source, error: LanguageModelError.init)
        let modelType = try fields.string("model_type")
        guard let architecture = Architecture.allCases.first(where: { $0.family.modelTypes.contains(modelType) }) else {
            throw LanguageModelError.unsupportedModelType(path: source, modelType: modelType, supported: Self.supportedModelTypes)
        }
        self = try architecture.family.configuration(fields)
        try validate(fields)
        if let generationJSON {
            let generation = try JSONFields(data: generationJSON, path: generationSource, error: LanguageModelError.init)
            if let eos = try generation.intList("eos_token_id") { eosTokenIDs = eos }
            if bosTokenID == nil { bosTokenID = try generation.optionalInt("bos_token_id") }
            if padTokenID == nil { padTokenID = try generation.optionalInt("pad_token_id") }
        }
    }

    /// Reads `config.json` and, if present, `generation_config.json` from a model folder.
    public static func load(directory: URL) throws -> ModelConfiguration {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw LanguageModelError.missingConfiguration(path: directory.path)
        }
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw LanguageModelError.unreadableConfiguration(path: configURL.path, reason: error.localizedDescription)
        }
        let generationURL = directory.appendingPathComponent("generation_config.json")
        var generation: Data?
        if FileManager.default.fileExists(atPath: generationURL.path) {
            do { generation = try Data(contentsOf: generationURL) } catch {
                throw LanguageModelError.unreadableConfiguration(path: generationURL.path, reason: error.localizedDescription)
            }
        }
        return try ModelConfiguration(json: data, generationJSON: generation, source: configURL.path,
                                      generationSource: generationURL.path)
    }

    /// Fields every family shares.
    init(architecture: Architecture, fields: JSONFields, activation: FeedForwardActivation) throws {
        self.architecture = architecture
        let limits = Self.sizeLimits
        vocabularySize = try fields.positiveInt("vocab_size", atMost: limits.vocabulary)
        hiddenSize = try fields.positiveInt("hidden_size", atMost: limits.hidden)
        intermediateSize = try fields.positiveInt("intermediate_size", atMost: limits.intermediate)
        layerCount = try fields.positiveInt("num_hidden_layers", atMost: limits.layers)
        attentionHeadCount = try fields.positiveInt("num_attention_heads", atMost: limits.heads)
        keyValueHeadCount = fields.has("num_key_value_heads")
            ? try fields.positiveInt("num_key_value_heads", atMost: limits.heads) : attentionHeadCount
        if fields.has("head_dim") {
            headDimension = try fields.positiveInt("head_dim", atMost: limits.headDimension)
        } else {
            guard hiddenSize % attentionHeadCount == 0 else {
                throw fields.invalid("num_attention_heads", "hidden_size \(hiddenSize) is not a multiple of \(attentionHeadCount) and head_dim is absent")
            }
            headDimension = hiddenSize / attentionHeadCount
        }
        // RMSNorm divides by sqrt(mean(x²) + eps): eps ≤ 0 (or one that is 0 or ∞ as a Float) gives
        // Inf/NaN on a zero row instead of an error.
        let epsilon = try fields.optionalDouble("rms_norm_eps") ?? 1e-6
        rmsNormEpsilon = Float(epsilon)
        guard epsilon > 0, rmsNormEpsilon > 0, rmsNormEpsilon.isFinite else {
            throw fields.invalid("rms_norm_eps", "must be a positive finite number (as a 32-bit float), got \(epsilon)")
        }
        maxPositionEmbeddings = fields.has("max_position_embeddings")
            ? try fields.positiveInt("max_position_embeddings", atMost: limits.positions) : 8192
        tiesWordEmbeddings = try fields.bool("tie_word_embeddings", default: architecture.family.traits.tiesWordEmbeddingsByDefault)
        self.activation = activation
        attentionScale = Float(1 / Double(headDimension).squareRoot())
        slidingWindowLayers = Array(repeating: false, count: layerCount)
        bosTokenID = try fields.optionalInt("bos_token_id")
        eosTokenIDs = try fields.intList("eos_token_id") ?? []
        padTokenID = try fields.optionalInt("pad_token_id")
        declaredDType = try fields.optionalString("dtype") ?? fields.optionalString("torch_dtype")
        let ropeKey = fields.has("rope_parameters") ? "rope_parameters" : "rope_scaling"
        rope = try Self.rope(try fields.nested(ropeKey), theta: try fields.optionalDouble("rope_theta") ?? 10000)
    }

    /// Upper bounds on config.json sizes. Buffers are sized from these fields before any weight is
    /// read, so a hostile value (num_hidden_layers 10^10) must fail here rather than allocate. Each
    /// is far above any published model (Llama-3.1-405B: 126 layers, hidden 16384, intermediate
    /// 53248, 128 heads; Gemma-3: vocab 262144; 1M-token contexts); the weights are then checked
    /// against the exact sizes.
    static let sizeLimits = (vocabulary: 1 << 22, hidden: 1 << 16, intermediate: 1 << 19, layers: 1024,
                             heads: 1024, headDimension: 1024, positions: 1 << 24)

    /// RoPE settings from one `rope_parameters` (transformers 5) or `rope_scaling` (hub) object, whose
    /// `rope_theta` wins over `theta`.
    static func rope(_ parameters: JSONFields?, theta fallback: Double) throws -> Rope {
        let theta = try parameters?.optionalDouble("rope_theta") ?? fallback
        guard let parameters else { return Rope(theta: theta) }
        let type = try parameters.optionalString("rope_type") ?? parameters.optionalString("type") ?? "default"
        func number(_ name: String) throws -> Double {
            guard parameters.has(name) else { throw parameters.invalid(name, "missing (needed by rope_type \(type))") }
            return try parameters.double(name)
        }
        switch type {
        case "default":
            return Rope(theta: theta)
        case "linear":
            let factor = try number("factor")
            guard factor > 0 else { throw parameters.invalid("factor", "linear scaling needs factor > 0, got \(factor)") }
            return Rope(theta: theta, linearFactor: factor)
        case "llama3":
            let scaling = RotaryEmbedding.Llama3Scaling(
                factor: try number("factor"), lowFrequencyFactor: try number("low_freq_factor"),
                highFrequencyFactor: try number("high_freq_factor"),
                originalMaxPositions: Int(try number("original_max_position_embeddings")))
            guard scaling.factor > 0, scaling.highFrequencyFactor > scaling.lowFrequencyFactor, scaling.lowFrequencyFactor > 0 else {
                throw parameters.invalid("factor", "llama3 scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0")
            }
            return Rope(theta: theta, llama3: scaling)
        default:
            throw parameters.invalid("rope_type", "\"\(type)\" is not supported; supported: default, linear, llama3")
        }
    }

    private func validate(_ fields: JSONFields) throws {
        guard attentionHeadCount % keyValueHeadCount == 0 else {
            throw fields.invalid("num_key_value_heads", "\(keyValueHeadCount) does not divide num_attention_heads \(attentionHeadCount)")
        }
        guard keyValueHeadCount <= attentionHeadCount else {
            throw fields.invalid("num_key_value_heads", "\(keyValueHeadCount) is more than num_attention_heads \(attentionHeadCount)")
        }
        guard headDimension % 2 == 0 else { throw fields.invalid("head_dim", "rotary embedding needs an even head_dim, got \(headDimension)") }
        if let slidingWindow, slidingWindow <= 0 {
            throw fields.invalid("sliding_window", "must be positive, got \(slidingWindow)")
        }
        for r in [rope, slidingRope].compactMap({ $0 }) where !(r.theta > 0) {
            throw fields.invalid("rope_theta", "must be positive, got \(r.theta)")
        }
        // A softcap divides the logits (cap · tanh(x / cap)): zero or negative gives NaN or flips signs.
        for (key, cap) in [("attn_logit_softcapping", attentionLogitSoftcap), ("final_logit_softcapping", finalLogitSoftcap)] {
            if let cap, !(cap > 0 && cap.isFinite) { throw fields.invalid(key, "must be positive, got \(cap)") }
        }
        for id in [bosTokenID, padTokenID].compactMap({ $0 }) + eosTokenIDs where id < 0 || id >= vocabularySize {
            throw fields.invalid("eos_token_id", "token id \(id) is outside the vocabulary of \(vocabularySize)")
        }
    }

    /// Every tensor the checkpoint must hold, with the shape this configuration implies, in load order.
    public var tensorShapes: [(name: String, shape: [Int])] {
        let d = hiddenSize, q = attentionHeadCount * headDimension, kv = keyValueHeadCount * headDimension
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [vocabularySize, d])]
        let traits = self.traits
        for l in 0..<layerCount {
            let p = "model.layers.\(l)."
            let norms = traits.sandwichNorms
                ? ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"]
                : ["input_layernorm", "post_attention_layernorm"]
            shapes += norms.map { (p + $0 + ".weight", [d]) }
            shapes += [(p + "self_attn.q_proj.weight", [q, d]), (p + "self_attn.k_proj.weight", [kv, d]),
                       (p + "self_attn.v_proj.weight", [kv, d])]
            if traits.queryKeyValueBias {
                shapes += [(p + "self_attn.q_proj.bias", [q]), (p + "self_attn.k_proj.bias", [kv]), (p + "self_attn.v_proj.bias", [kv])]
            }
            if traits.queryKeyNorm {
                shapes += [(p + "self_attn.q_norm.weight", [headDimension]), (p + "self_attn.k_norm.weight", [headDimension])]
            }
            shapes += [
                (p + "self_attn.o_proj.weight", [d, q]),
                (p + "mlp.gate_proj.weight", [intermediateSize, d]), (p + "mlp.up_proj.weight", [intermediateSize, d]),
                (p + "mlp.down_proj.weight", [d, intermediateSize]),
            ]
        }
        shapes.append(("model.norm.weight", [d]))
        if !tiesWordEmbeddings { shapes.append(("lm_head.weight", [vocabularySize, d])) }
        return shapes
    }
}
