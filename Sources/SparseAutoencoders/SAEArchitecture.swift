/// How an SAE turns pre-activations into codes (SAELens names in `name`).
public enum SAEArchitecture: Sendable, Equatable, CustomStringConvertible {
    /// f = ReLU(p)
    case standard
    /// f = ReLU(p)·1[p > θ_i]; `sharedThreshold` is set when one θ serves every feature (Llama Scope).
    case jumpReLU(sharedThreshold: Float?)
    /// Keep the k largest of p (times ‖W_dec,i‖ when rescaling), ReLU them, zero the rest.
    case topK(k: Int, rescalesByDecoderNorm: Bool)
    /// f = 1[s·W_enc + b_gate > 0] · ReLU(s·(W_enc ⊙ exp(r_mag)) + b_mag)
    case gated

    /// The SAELens `architecture` spelling.
    public var name: String {
        switch self {
        case .standard: "standard"
        case .jumpReLU: "jumprelu"
        case .topK: "topk"
        case .gated: "gated"
        }
    }

    public var description: String {
        switch self {
        case .standard: "standard (ReLU)"
        case let .jumpReLU(shared):
            shared.map { "jumprelu (one threshold \($0) for all features)" } ?? "jumprelu (per-feature thresholds)"
        case let .topK(k, rescales): "topk (k = \(k)\(rescales ? ", ranked after scaling by decoder-row norms" : ""))"
        case .gated: "gated"
        }
    }
}

/// Which release format the SAE was read from.
public enum SAEFormat: String, Sendable, Equatable {
    case gemmaScope = "gemma-scope"
    case gemmaScope2 = "gemma-scope-2"
    case saeLens = "saelens"
    case llamaScope = "llama-scope"
    case qwenScope = "qwen-scope"
}

/// What happens to an input row before the encoder product (SAELens `normalize_activations`).
public enum SAEInputNormalization: Sendable, Equatable, CustomStringConvertible {
    case none
    /// `expected_average_only_in` with its dataset scaling factor folded in: the row is multiplied by it.
    case scaled(by: Float)
    /// `constant_norm_rescale`: x · √d_in / ‖x‖, per row.
    case constantNormRescale
    /// `layer_norm`: (x − mean) / (std + 1e-5), std with Bessel's correction as torch computes it.
    case layerNorm

    public var description: String {
        switch self {
        case .none: "none"
        case let .scaled(factor): "expected_average_only_in (scaling factor \(factor) folded in)"
        case .constantNormRescale: "constant_norm_rescale"
        case .layerNorm: "layer_norm"
        }
    }
}

/// Choices a user can make when loading.
public struct SAELoadOptions: Sendable, Equatable {
    /// The `expected_average_only_in` scaling factor (√d_in / mean ‖x‖) when the SAELens folder does
    /// not carry one (no `activation_scaler.json`, no `norm_scaling_factor` in cfg.json).
    public var normScalingFactor: Float?
    /// Reproduce SAELens 5.x's Llama Scope threshold (not rescaled) instead of the automatic rule.
    public var llamaScopeUsesSAELens5Threshold: Bool
    /// k of a Qwen Scope TopK SAE, whose files do not store it (else it is read from the path).
    public var topK: Int?

    public init(normScalingFactor: Float? = nil, llamaScopeUsesSAELens5Threshold: Bool = false, topK: Int? = nil) {
        self.normScalingFactor = normScalingFactor
        self.llamaScopeUsesSAELens5Threshold = llamaScopeUsesSAELens5Threshold
        self.topK = topK
    }
}
