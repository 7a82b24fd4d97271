import CorrSteer
import Foundation
import LanguageModels
import Tensors

/// The real model shapes `corrsteer bench` builds with random weights (no files are read).
public enum BenchmarkShape: String, CaseIterable, Sendable {
    case gemma2_2b = "gemma-2-2b"
    case llama31_8b = "llama-3.1-8b"
    case gemma3_1b = "gemma-3-1b"
    /// The text model of google/gemma-3-4b (a Gemma3ForConditionalGeneration checkpoint).
    case gemma3_4b = "gemma-3-4b"
    /// Qwen/Qwen3-1.7B (base), the smallest model with Qwen Scope SAEs on every layer.
    case qwen3_1_7b = "qwen3-1.7b"
    /// A two-layer Gemma-2 for smoke tests of the benchmark itself.
    case tiny

    /// The model's `config.json` as published (only the fields the engine reads).
    public var configurationJSON: String {
        switch self {
        case .gemma2_2b:
            return """
                {"model_type": "gemma2", "vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216,
                 "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                 "query_pre_attn_scalar": 256, "sliding_window": 4096, "attn_logit_softcapping": 50.0,
                 "final_logit_softcapping": 30.0, "hidden_activation": "gelu_pytorch_tanh",
                 "max_position_embeddings": 8192, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                 "tie_word_embeddings": true, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0}
                """
        case .llama31_8b:
            return """
                {"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
                 "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
                 "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
                 "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                 "tie_word_embeddings": false, "hidden_act": "silu", "bos_token_id": 128000,
                 "eos_token_id": 128001}
                """
        case .gemma3_1b:
            return """
                {"model_type": "gemma3_text", "vocab_size": 262144, "hidden_size": 1152, "intermediate_size": 6912,
                 "num_hidden_layers": 26, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256,
                 "query_pre_attn_scalar": 256, "sliding_window": 512, "sliding_window_pattern": 6,
                 "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "rope_scaling": null,
                 "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
                 "tie_word_embeddings": true, "bos_token_id": 2, "eos_token_id": [1, 106], "pad_token_id": 0}
                """
        case .gemma3_4b:
            return """
                {"model_type": "gemma3_text", "vocab_size": 262208, "hidden_size": 2560, "intermediate_size": 10240,
                 "num_hidden_layers": 34, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                 "query_pre_attn_scalar": 256, "sliding_window": 1024, "sliding_window_pattern": 6,
                 "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
                 "rope_scaling": {"rope_type": "linear", "factor": 8.0},
                 "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 131072, "rms_norm_eps": 1e-6,
                 "tie_word_embeddings": true, "bos_token_id": 2, "eos_token_id": [1, 106], "pad_token_id": 0}
                """
        case .qwen3_1_7b:
            return """
                {"model_type": "qwen3", "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144,
                 "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
                 "max_position_embeddings": 40960, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                 "tie_word_embeddings": true, "hidden_act": "silu", "attention_bias": false,
                 "use_sliding_window": false, "bos_token_id": 151643, "eos_token_id": 151645}
                """
        case .tiny:
            return """
                {"model_type": "gemma2", "vocab_size": 1024, "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                 "query_pre_attn_scalar": 16, "sliding_window": 32, "attn_logit_softcapping": 50.0,
                 "final_logit_softcapping": 30.0, "hidden_activation": "gelu_pytorch_tanh",
                 "max_position_embeddings": 1024, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                 "tie_word_embeddings": true, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0}
                """
        }
    }

    public func configuration() throws -> ModelConfiguration {
        try ModelConfiguration(json: Data(configurationJSON.utf8), source: "built-in \(rawValue) configuration")
    }

    /// Parameters of the model (embedding counted once when tied).
    public func parameterCount() throws -> Int {
        try configuration().tensorShapes.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// A model of this shape with uniform random weights in `dtype`, built in memory. Matrices get
    /// values in ±`scale`; norm weights stay near 0 (Gemma multiplies by 1 + w) or 1 (Llama).
    public func randomModel(dtype: DType = .bf16, seed: UInt64 = 0, scale: Float = 0.03) throws -> LanguageModel {
        let config = try configuration()
        var weights: [String: Tensor] = [:]
        for (index, (name, shape)) in config.tensorShapes.enumerated() {
            let isNorm = shape.count == 1 && !name.hasSuffix(".bias")
            let offset: Float = isNorm ? 1 - config.traits.normWeightOffset : 0
            weights[name] = BenchmarkRandom.tensor(shape: shape, dtype: dtype, seed: seed &+ UInt64(index) &* 0x9e37_79b9,
                                                   scale: isNorm ? 0.1 : scale, offset: offset)
        }
        return try LanguageModel(config: config, weights: weights)
    }
}

/// Seeded uniform random numbers for benchmark weights and inputs (SplitMix64).
public struct BenchmarkRandom: Sendable {
    private var generator: SplitMix64

    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    public mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [0, 1).
    public mutating func unit() -> Float { generator.nextFloat() }

    /// Uniform integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// A tensor of values uniform in `offset ± scale`, filled in parallel blocks (each block seeded from
    /// `seed` and its index, so the result does not depend on the thread count).
    public static func tensor(shape: [Int], dtype: DType, seed: UInt64, scale: Float, offset: Float = 0) -> Tensor {
        let tensor = Tensor(zeros: shape, dtype: dtype)
        fill(tensor.rawPointer, dtype: dtype, count: tensor.count, seed: seed, scale: scale, offset: offset)
        return tensor
    }

    /// Fills `count` elements of `dtype` at `base` as `tensor` does.
    public static func fill(_ base: UnsafeMutableRawPointer, dtype: DType, count: Int, seed: UInt64, scale: Float, offset: Float) {
        let block = 1 << 16
        let blocks = (count + block - 1) / block
        Parallel.forEachChunk(blocks) { range in
            let values = UnsafeMutablePointer<Float>.allocate(capacity: block)
            defer { values.deallocate() }
            for b in range {
                var rng = BenchmarkRandom(seed: seed ^ (UInt64(b) &* 0xd1b5_4a32_d192_ed03))
                let start = b * block, n = min(block, count - start)
                // Four 16-bit uniforms per draw: plenty of resolution for random weights, 4× fewer draws.
                var i = 0
                while i < n {
                    var bits = rng.next()
                    for _ in 0..<min(4, n - i) {
                        values[i] = offset + scale * (Float(bits & 0xffff) * (2.0 / 65536.0) - 1)
                        bits >>= 16
                        i += 1
                    }
                }
                switch dtype {
                case .f32: (base.assumingMemoryBound(to: Float.self) + start).update(from: values, count: n)
                case .bf16:
                    // Round to nearest even (values are finite).
                    let dst = base.assumingMemoryBound(to: UInt16.self) + start
                    for i in 0..<n {
                        let bits = values[i].bitPattern
                        dst[i] = UInt16(truncatingIfNeeded: (bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16)
                    }
                case .f16:
                    let dst = base.assumingMemoryBound(to: Float16.self) + start
                    for i in 0..<n { dst[i] = Float16(values[i]) }
                }
            }
        }
    }
}
