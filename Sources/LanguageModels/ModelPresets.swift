import Foundation

/// The configurations of the two reference checkpoints, as their `config.json` files on the hub spell
/// them, for building models of the real shapes without the files (benchmarks with random weights).
extension ModelConfiguration {
    /// `google/gemma-2-2b`.
    public static let gemma2_2b = preset(#"""
        {"architectures": ["Gemma2ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
         "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": 1,
         "final_logit_softcapping": 30.0, "head_dim": 256, "hidden_act": "gelu_pytorch_tanh",
         "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 2304, "initializer_range": 0.02,
         "intermediate_size": 9216, "max_position_embeddings": 8192, "model_type": "gemma2",
         "num_attention_heads": 8, "num_hidden_layers": 26, "num_key_value_heads": 4, "pad_token_id": 0,
         "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096,
         "torch_dtype": "float32", "use_cache": true, "vocab_size": 256000}
        """#)

    /// `meta-llama/Llama-3.1-8B`.
    public static let llama3_1_8b = preset(#"""
        {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
         "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
         "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
         "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
         "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
         "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 8192, "rope_type": "llama3"},
         "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
         "vocab_size": 128256}
        """#)

    private static func preset(_ json: String) -> ModelConfiguration {
        do {
            return try ModelConfiguration(json: Data(json.utf8), source: "built-in configuration")
        } catch {
            preconditionFailure("built-in configuration does not decode: \(error)")
        }
    }
}
