import Foundation
import Tensors
import WeightFiles

/// Qwen Scope residual-stream TopK SAEs (Hugging Face `Qwen/SAE-Res-{model}-W{N}K-L0_{K}`): one
/// `layer{L}.sae.pt` per layer, each a `torch.save` dict of `W_enc` `[d_sae, d_in]`, `W_dec`
/// `[d_in, d_sae]`, `b_enc` `[d_sae]`, `b_dec` `[d_in]`.
///
/// Semantics follow SAELens' `qwen_scope` loader (sae_lens 6.54, `pretrained_sae_loaders.py`):
/// architecture `topk` with k = the repository's `L0_K`, hook `blocks.{L}.hook_resid_post`,
/// `apply_b_dec_to_input` false (no input centring), `normalize_activations` none, no decoder-norm
/// rescaling; SAELens transposes both matrices into its own layout, which here is only a choice of
/// view (`W_enc` is read feature-major, `W_dec` as columns). SAELens' TopK applies ReLU to the k
/// kept values, so a kept negative pre-activation becomes 0; that is what is encoded here.
///
/// The files do not carry k. It comes from `SAELoadOptions.topK`, else a `k`/`top_k` integer
/// saved in the file, else the `L0_K` in a folder name on the path (the repository name, which the
/// Hugging Face cache keeps as `models--Qwen--SAE-Res-…-L0_50`).
enum QwenScopeLoader {
    /// `layer12.sae.pt` → 12.
    static func layer(fileName name: String) -> Int? {
        guard name.hasPrefix("layer"), name.hasSuffix(".sae.pt") else { return nil }
        let digits = name.dropFirst("layer".count).dropLast(".sae.pt".count)
        guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// The `K` of the nearest `…L0_K` path component, if any.
    static func kFromPath(_ url: URL) -> Int? {
        for component in url.pathComponents.reversed() {
            guard let range = component.range(of: #"L0_(\d{1,6})(?![0-9])"#, options: .regularExpression) else { continue }
            return Int(component[range].dropFirst(3))
        }
        return nil
    }

    static func load(file url: URL, layer requested: Int?, encoderOnly: Bool, options: SAELoadOptions) throws -> SAEParts {
        let path = url.path
        let layer = try resolvedLayer(found: Self.layer(fileName: url.lastPathComponent), requested: requested, path: path)
        let file = try TorchPickleFile(url: url)
        let encoderWeight = try file.tensor("W_enc")
        guard encoderWeight.rank == 2, encoderWeight.shape[0] > 0, encoderWeight.shape[1] > 0 else {
            throw SAEError.shapeMismatch(path: path, tensor: "W_enc", expected: [-1, -1], actual: encoderWeight.shape)
        }
        let (dSAE, dIn) = (encoderWeight.shape[0], encoderWeight.shape[1])
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try file.tensor(name)
            try SAEWeights.check(t, name, is: shape, path: path)
            return t
        }
        let encoderBias = try tensor("b_enc", [dSAE]).floats()
        let decoderWeight = try tensor("W_dec", [dIn, dSAE])
        let decoderBias = try tensor("b_dec", [dIn]).floats()

        let k: Int, source: String
        if let chosen = options.topK {
            (k, source) = (chosen, "given")
        } else if let saved = ["k", "top_k"].lazy.compactMap({ file.scalars[$0] }).first {
            guard case let .int(value) = saved else {
                throw SAEError.invalidConfig(path: path, field: "k", reason: "saved value is not an integer")
            }
            (k, source) = (value, "saved in the file")
        } else if let fromPath = kFromPath(url) {
            (k, source) = (fromPath, "from L0_\(fromPath) in the path")
        } else {
            throw SAEError.invalidConfig(
                path: path, field: "k",
                reason: "Qwen Scope files do not store k; keep the repository name (…-L0_K) in the folder path, e.g. download into a folder named SAE-Res-Qwen3-1.7B-Base-W32K-L0_50")
        }
        guard (1...dSAE).contains(k) else {
            throw SAEError.invalidConfig(path: path, field: "k", reason: "k = \(k) (\(source)) must lie in 1…\(dSAE), the SAE width")
        }

        let encoder = SAEEncoder(
            dIn: dIn, dSAE: dSAE, weight: .featureMajor(encoderWeight), activation: .topK(bias: encoderBias, k: k, scales: nil),
            normalization: .none, inputShift: nil)
        let decoder = SAEDecoder(
            source: .columns(decoderWeight), dIn: dIn, dSAE: dSAE, scale: 1, featureScales: nil, bias: decoderBias,
            isLoaded: !encoderOnly)
        return SAEParts(
            path: path, format: .qwenScope, architecture: .topK(k: k, rescalesByDecoderNorm: false),
            hookName: "blocks.\(layer).hook_resid_post", layer: layer, dtype: encoderWeight.dtype, normalization: .none,
            appliesDecoderBiasToInput: false, formatFacts: [("k_source", source)],
            notes: ["top-\(k) of p = x·W_encᵀ + b_enc, then ReLU (k \(source))"], neuronpediaID: nil,
            isEncoderMemoryMapped: try file.info("W_enc").isContiguous, encoder: encoder, decoder: decoder)
    }
}
