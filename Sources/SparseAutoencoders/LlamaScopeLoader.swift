import Foundation
import Tensors
import WeightFiles

/// Llama Scope folders (OpenMOSS): `hyperparams.json` + `checkpoints/final.safetensors` in nn.Linear
/// layout (formats.md §1.2). Codes come out in SAELens units: p = (s_in·x)·W_encᵀ + b_enc with
/// s = √d_model / dataset_average_activation_norm, the same numbers SAELens's folded weights give.
enum LlamaScopeLoader {
    static let configName = "hyperparams.json"
    /// Decoder rows whose norms all lie within this of 1 count as unit norm (bf16 storage alone moves
    /// a unit row of width 64 by up to ~1e-3; a trained non-unit decoder is off by tens of percent).
    static let unitNormTolerance: Float = 1e-2

    static func weightsURL(folder: URL) -> URL? {
        let candidates = ["checkpoints/final.safetensors", "final.safetensors"].map { folder.appendingPathComponent($0) }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    static func layer(of folder: URL) throws -> Int? {
        let config = try JSONFields(contentsOf: folder.appendingPathComponent(configName), error: SAEError.init)
        if let hook = try config.optionalString("hook_point_in"), let layer = layerOfHookName(hook) { return layer }
        return folderName(folder.lastPathComponent)?.layer
    }

    static func hookName(of folder: URL) throws -> String? {
        try JSONFields(contentsOf: folder.appendingPathComponent(configName), error: SAEError.init).optionalString("hook_point_in")
    }

    /// `Llama3_1-8B-Base-L15R-8x` → layer 15, site R, 8x.
    static func folderName(_ name: String) -> (layer: Int, site: Character, expansion: String)? {
        guard let range = name.range(of: #"L(\d+)(R|A|M|TC)-(\d+x)$"#, options: .regularExpression) else { return nil }
        let tail = name[range].dropFirst()
        let digits = tail.prefix { $0.isNumber }
        let rest = tail.dropFirst(digits.count)
        guard let layer = Int(digits), let site = rest.first, let dash = rest.firstIndex(of: "-") else { return nil }
        return (layer, site, String(rest[rest.index(after: dash)...]))
    }

    static func load(folder: URL, layer requested: Int?, encoderOnly: Bool, options: SAELoadOptions) throws -> SAEParts {
        let path = folder.path
        let config = try JSONFields(contentsOf: folder.appendingPathComponent(configName), error: SAEError.init)
        let dModel = try config.int("d_model")
        let dSAE = try config.int("d_sae")
        guard dModel > 0 else { throw config.invalid("d_model", "must be positive, got \(dModel)") }
        guard dSAE > 0 else { throw config.invalid("d_sae", "must be positive, got \(dSAE)") }
        let hookIn = try config.optionalString("hook_point_in")
        let foundLayer = hookIn.flatMap(layerOfHookName) ?? folderName(folder.lastPathComponent)?.layer
        let layer = try resolvedLayer(found: foundLayer, requested: requested, path: path)
        let hookName = hookIn ?? "blocks.\(layer).hook_resid_post"

        guard let weightsURL = weightsURL(folder: folder) else {
            throw SAEError.noSAE(path: path, reason: "hyperparams.json is here but checkpoints/final.safetensors is missing")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try file.tensor(name)
            try SAEWeights.check(t, name, is: shape, path: file.path)
            return t
        }
        let encoderWeight = try tensor("encoder.weight", [dSAE, dModel])
        let encoderBias = try tensor("encoder.bias", [dSAE]).floats()
        let decoderWeight = try tensor("decoder.weight", [dModel, dSAE])
        let useDecoderBias = try config.optionalBool("use_decoder_bias") ?? true
        let decoderBias = useDecoderBias ? try tensor("decoder.bias", [dModel]).floats() : [Float](repeating: 0, count: dModel)

        var notes: [String] = []
        // Dataset-wise normalisation: the factors OpenMOSS and SAELens fold into the weights.
        var scaleIn: Double = 1, scaleOut: Double = 1
        var normalization = SAEInputNormalization.none
        let normMode = try config.optionalString("norm_activation") ?? "inference"
        switch normMode {
        case "dataset-wise":
            guard let norms = try config.nested("dataset_average_activation_norm") else {
                throw config.missing("dataset_average_activation_norm")
            }
            let normIn = try norms.double("in")
            let normOut = try norms.optionalDouble("out") ?? normIn
            guard normIn > 0, normOut > 0 else {
                throw config.invalid("dataset_average_activation_norm", "norms must be positive, got in \(normIn), out \(normOut)")
            }
            scaleIn = Double(dModel).squareRoot() / normIn
            scaleOut = Double(dModel).squareRoot() / normOut
            normalization = .scaled(by: Float(scaleIn))
            notes.append("dataset-wise norm folded: input × \(Float(scaleIn)) (√\(dModel)/\(normIn)), decoder ÷ \(Float(scaleOut)) (√\(dModel)/\(normOut))")
        case "token-wise":
            normalization = .constantNormRescale
            notes.append("token-wise norm: x·√d/‖x‖ per row; decoder rows are in normalised units")
        case "inference":
            break
        default:
            throw config.invalid("norm_activation", "'\(normMode)' is not supported; supported: dataset-wise, token-wise, inference")
        }
        let applyBias = try config.optionalBool("apply_decoder_bias_to_pre_encoder") ?? false
        if applyBias { notes.append("decoder.bias is subtracted from the normalised input") }

        let actFn = (try config.optionalString("act_fn") ?? "relu").lowercased()
        let theta = try config.optionalDouble("jump_relu_threshold") ?? 0
        let architecture: SAEArchitecture
        let activation: EncoderActivation
        var semantics: LlamaScopeSemantics?
        if actFn == "jumprelu" || (actFn == "topk" && theta > 0) {
            // OpenMOSS turns a TopK SAE with a threshold into JumpReLU for inference.
            if actFn == "topk" { notes.append("act_fn topk with jump_relu_threshold > 0: run as JumpReLU, as OpenMOSS does for inference") }
            let includesNorm = try config.optionalBool("sparsity_include_decoder_norm") ?? true
            var thresholds = [Float](repeating: Float(theta * scaleIn), count: dSAE)
            if options.llamaScopeUsesSAELens5Threshold {
                semantics = .saeLens5UnscaledThreshold
                thresholds = [Float](repeating: Float(theta), count: dSAE)
                notes.append("active when p > θ = \(theta) (SAELens 5.x: threshold not rescaled)")
            } else if includesNorm {
                let norms = DecoderNorms.ofColumns(decoderWeight)
                if encoderOnly { MappedPages.release(decoderWeight) }
                let deviation = norms.map { abs($0 - 1) }.max() ?? 0
                if deviation <= unitNormTolerance {
                    semantics = .unitDecoderNorm
                    notes.append("decoder rows are unit norm (max |‖W_dec,i‖ − 1| = \(deviation)): active when p > θ·s_in = \(thresholds.first ?? 0)")
                } else {
                    semantics = .openMOSSDecoderNorm
                    let bound = theta * scaleOut
                    thresholds = norms.map { $0 > 0 ? Float(bound / Double($0)) : .infinity }
                    let (low, high) = (norms.min() ?? 0, norms.max() ?? 0)
                    notes.append("decoder rows are not unit norm (‖W_dec,i‖ from \(low) to \(high)): OpenMOSS gate p·‖W_dec,i‖ > θ·s_out = \(Float(bound))")
                }
            } else {
                semantics = .unitDecoderNorm
                notes.append("sparsity_include_decoder_norm is false: active when p > θ·s_in = \(thresholds.first ?? 0)")
            }
            architecture = .jumpReLU(sharedThreshold: Float(theta))
            activation = .jumpReLU(bias: encoderBias, thresholds: thresholds)
        } else if actFn == "relu" {
            architecture = .standard
            activation = .relu(bias: encoderBias)
        } else {
            throw config.invalid("act_fn", "'\(actFn)'\(actFn == "topk" ? " without a jump_relu_threshold" : "") is not supported; supported: jumprelu, relu (and topk with a threshold)")
        }

        let decoderScale = Float(1 / scaleOut)
        let encoder = SAEEncoder(
            dIn: dModel, dSAE: dSAE, weight: .featureMajor(encoderWeight), activation: activation,
            normalization: normalization, inputShift: applyBias ? decoderBias : nil)
        let decoder = SAEDecoder(
            source: .columns(decoderWeight), dIn: dModel, dSAE: dSAE, scale: decoderScale, featureScales: nil,
            bias: decoderBias.map { $0 * decoderScale }, isLoaded: !encoderOnly)
        var parts = SAEParts(
            path: path, format: .llamaScope, architecture: architecture, hookName: hookName, layer: layer,
            dtype: encoderWeight.dtype, normalization: normalization, appliesDecoderBiasToInput: applyBias,
            notes: notes, neuronpediaID: neuronpediaID(folder: folder, dModel: dModel),
            isEncoderMemoryMapped: true, encoder: encoder, decoder: decoder)
        if let semantics { parts.formatFacts = [("llama_scope_semantics", semantics.rawValue)] }
        return parts
    }

    /// Neuronpedia names Llama Scope 3.1-8B SAEs `llama3.1-8b/{L}-llamascope-{res,att,mlp}-{32k,131k}`.
    private static func neuronpediaID(folder: URL, dModel: Int) -> String? {
        guard dModel == 4096, let name = folderName(folder.lastPathComponent),
              let site = ["R": "res", "A": "att", "M": "mlp"][name.site],
              let width = ["8x": "32k", "32x": "131k"][name.expansion]
        else { return nil }
        return "llama3.1-8b/\(name.layer)-llamascope-\(site)-\(width)"
    }
}

/// Which JumpReLU rule a Llama Scope SAE is encoded with (formats.md §1.2). In every case the
/// input is x·s_in with s = √d_model / dataset_average_activation_norm, and codes are in SAELens units.
enum LlamaScopeSemantics: String, Sendable, Equatable {
    /// Decoder rows are unit norm (or the decoder norm is not part of the gate): active when
    /// p > θ·s_in. This is SAELens ≥ 6 (after PR #483), and equals OpenMOSS for unit rows.
    case unitDecoderNorm = "unit-decoder-norm"
    /// Decoder rows are not unit norm and `sparsity_include_decoder_norm` is set: active when
    /// p·‖W_dec,i‖ > θ·s_out, as OpenMOSS computes it.
    case openMOSSDecoderNorm = "openmoss-decoder-norm"
    /// Active when p > θ, threshold not rescaled: SAELens before PR #483 (5.x, which the CorrSteer
    /// reference pins). Only on request.
    case saeLens5UnscaledThreshold = "saelens5-unscaled-threshold"
}
