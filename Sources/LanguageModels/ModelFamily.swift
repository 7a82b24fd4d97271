import Foundation
import WeightFiles

/// The structural choices that set one decoder family apart from another. Each family file declares
/// its traits once; the loader and the decoder read them instead of asking which family a model is.
public struct ModelTraits: Sendable, Equatable {
    /// Added to every stored RMSNorm weight before it scales (Gemma stores w and multiplies by 1 + w).
    public var normWeightOffset: Float
    /// Extra norms on the attention and feed-forward outputs before each residual add (Gemma 2 and 3:
    /// `post_attention_layernorm`, `pre_feedforward_layernorm`, `post_feedforward_layernorm`).
    public var sandwichNorms: Bool
    /// Embeddings multiplied by √hidden, the constant rounded to the weight dtype (Gemma).
    public var scalesEmbedding: Bool
    /// Per-head RMSNorm over head_dim on queries and keys before RoPE (`q_norm`, `k_norm`: Gemma 3, Qwen3).
    public var queryKeyNorm: Bool
    /// Biases on the query, key and value projections (Qwen2).
    public var queryKeyValueBias: Bool
    /// `tie_word_embeddings` when config.json leaves it out.
    public var tiesWordEmbeddingsByDefault: Bool

    public init(normWeightOffset: Float = 0, sandwichNorms: Bool = false, scalesEmbedding: Bool = false,
                queryKeyNorm: Bool = false, queryKeyValueBias: Bool = false, tiesWordEmbeddingsByDefault: Bool = false) {
        self.normWeightOffset = normWeightOffset
        self.sandwichNorms = sandwichNorms
        self.scalesEmbedding = scalesEmbedding
        self.queryKeyNorm = queryKeyNorm
        self.queryKeyValueBias = queryKeyValueBias
        self.tiesWordEmbeddingsByDefault = tiesWordEmbeddingsByDefault
    }
}

/// A decoder family: its traits and how its `config.json` decodes. Values that vary per checkpoint
/// (soft-caps, which layers slide and their window, RoPE base and scaling per layer kind) are decoded
/// by `configuration` into `ModelConfiguration`; everything structural is in `traits`.
protocol ModelFamily {
    /// The `model_type` spellings this family decodes (a multimodal wrapper's included).
    static var modelTypes: [String] { get }
    static var traits: ModelTraits { get }
    static func configuration(_ fields: JSONFields) throws -> ModelConfiguration
}

extension ModelConfiguration.Architecture {
    /// The file that implements this family. Adding a family is a new case here plus its file.
    var family: any ModelFamily.Type {
        switch self {
        case .gemma2: return Gemma2.self
        case .llama: return Llama.self
        case .gemma3: return Gemma3.self
        case .qwen2: return Qwen2.self
        case .qwen3: return Qwen3.self
        }
    }
}
