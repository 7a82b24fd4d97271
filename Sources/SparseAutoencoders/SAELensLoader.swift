import Foundation
import Tensors
import WeightFiles

/// SAELens folders: `cfg.json` + `sae_weights.safetensors` (formats.md §1.3), current and pre-6.0 configs.
enum SAELensLoader {
    static let configName = "cfg.json"
    static let weightsName = "sae_weights.safetensors"
    static let supportedArchitectures = ["standard", "jumprelu", "topk", "gated"]

    /// The config with pre-6.0 field names and defaults brought to the 6.x meaning
    /// (SAELens `handle_config_defaulting` / `handle_pre_6_0_config`).
    struct Config {
        let file: JSONFields
        let architecture: String
        let dIn: Int
        let dSAE: Int
        let dtype: String
        let hookName: String?
        let hookLayer: Int?
        let applyBDecToInput: Bool
        let normalizeActivations: String
        let k: Int?
        let rescaleByDecoderNorm: Bool
        let neuronpediaID: String?
        let isPre6: Bool

        init(folder: URL) throws {
            let file = try JSONFields(contentsOf: folder.appendingPathComponent(configName), error: SAEError.init)
            self.file = file
            let metadata = try file.nested("metadata")
            let version = try file.optionalString("sae_lens_version") ?? metadata?.optionalString("sae_lens_version")
            isPre6 = version.map { (Int($0.split(separator: ".").first ?? "") ?? 0) < 6 } ?? true

            dIn = try file.int("d_in")
            dSAE = try file.int("d_sae")
            guard dIn > 0 else { throw file.invalid("d_in", "must be positive, got \(dIn)") }
            guard dSAE > 0 else { throw file.invalid("d_sae", "must be positive, got \(dSAE)") }
            dtype = try file.optionalString("dtype") ?? "float32"
            hookName = try metadata?.optionalString("hook_name") ?? file.optionalString("hook_name") ?? (isPre6 ? file.optionalString("hook_point") : nil)
            hookLayer = try file.optionalInt("hook_layer") ?? file.optionalInt("hook_point_layer")
            neuronpediaID = try metadata?.optionalString("neuronpedia_id") ?? file.optionalString("neuronpedia_id")

            let activation = try file.optionalString("activation_fn") ?? (isPre6 ? file.optionalString("activation_fn_str") : nil)
            let kwargs = try file.nested("activation_fn_kwargs")
            var architecture = try file.optionalString("architecture")
            var k = try file.optionalInt("k")
            if isPre6 {
                if activation == "topk", let kwargsK = try kwargs?.optionalInt("k") {
                    architecture = "topk"
                    k = kwargsK
                }
                architecture = architecture ?? "standard"
            }
            guard let architecture else { throw file.missing("architecture") }
            self.architecture = architecture
            self.k = k
            rescaleByDecoderNorm = try file.optionalBool("rescale_acts_by_decoder_norm") ?? false
            applyBDecToInput = try file.optionalBool("apply_b_dec_to_input") ?? true
            if let flag = try? file.optionalBool("normalize_activations") {
                normalizeActivations = flag ? "expected_average_only_in" : "none"
            } else {
                normalizeActivations = try file.optionalString("normalize_activations") ?? "none"
            }
        }
    }

    static func layer(of folder: URL) throws -> Int? {
        let config = try Config(folder: folder)
        return config.hookName.flatMap(layerOfHookName) ?? config.hookLayer
    }

    static func hookName(of folder: URL) throws -> String? {
        try Config(folder: folder).hookName
    }

    static func load(folder: URL, layer requested: Int?, encoderOnly: Bool, options: SAELoadOptions) throws -> SAEParts {
        let config = try Config(folder: folder)
        let path = folder.path
        let configPath = config.file.path
        guard supportedArchitectures.contains(config.architecture) else {
            throw SAEError.unknownArchitecture(path: configPath, name: config.architecture, supported: supportedArchitectures)
        }
        let foundLayer = config.hookName.flatMap(layerOfHookName) ?? config.hookLayer
        let layer = try resolvedLayer(found: foundLayer, requested: requested, path: path)
        let hookName = config.hookName ?? "blocks.\(layer).hook_resid_post"
        let (dIn, dSAE) = (config.dIn, config.dSAE)

        let weightsURL = folder.appendingPathComponent(weightsName)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw SAEError.noSAE(path: path, reason: "cfg.json is here but \(weightsName) is missing")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        let weightsPath = file.path
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try file.tensor(name)
            try SAEWeights.check(t, name, is: shape, path: weightsPath)
            return t
        }
        let wEnc = try tensor("W_enc", [dIn, dSAE])
        let wDec = try tensor("W_dec", [dSAE, dIn])
        let bDec = try tensor("b_dec", [dIn]).floats()
        if file.contains("scaling_factor") {
            let factors = try tensor("scaling_factor", [dSAE]).floats()
            guard factors.allSatisfy({ $0 == 1 }) else {
                throw SAEError.unsupported(path: weightsPath, reason: "tensor 'scaling_factor' is not all ones (a pre-6.0 fine-tuning scaling factor), which is not supported")
            }
        }

        var notes: [String] = []
        let normalization: SAEInputNormalization
        var decoderScale: Float = 1
        switch config.normalizeActivations {
        case "none":
            normalization = .none
        case "expected_average_only_in":
            if let factor = try scalingFactor(folder: folder, config: config, options: options) {
                normalization = .scaled(by: factor)
                decoderScale = 1 / factor
                notes.append("expected_average_only_in: input × \(factor) and decoder ÷ \(factor), as SAELens folds the factor")
            } else {
                normalization = .none
                notes.append("expected_average_only_in without a scaling factor (no activation_scaler.json): used unscaled, as SAELens load_from_disk does")
            }
        case "constant_norm_rescale":
            normalization = .constantNormRescale
            notes.append("decoder rows are in normalised units (constant_norm_rescale is undone per row on decode)")
        case "layer_norm":
            normalization = .layerNorm
            notes.append("decoder rows are in normalised units (layer_norm is undone per row on decode)")
        default:
            throw SAEError.invalidConfig(
                path: configPath, field: "normalize_activations",
                reason: "'\(config.normalizeActivations)' is not supported; supported: none, expected_average_only_in, constant_norm_rescale, layer_norm")
        }

        let architecture: SAEArchitecture
        let activation: EncoderActivation
        var featureScales: [Float]?
        switch config.architecture {
        case "standard":
            architecture = .standard
            activation = .relu(bias: try tensor("b_enc", [dSAE]).floats())
            notes.append("f = ReLU(p)")
        case "jumprelu":
            let thresholds: [Float]
            if file.contains("threshold") {
                thresholds = try tensor("threshold", [dSAE]).floats()
            } else if file.contains("log_threshold") {
                thresholds = try tensor("log_threshold", [dSAE]).floats().map { Float(Foundation.exp(Double($0))) }
            } else {
                throw WeightFileError.missingTensor(path: weightsPath, tensor: "threshold")
            }
            try SAEWeights.checkFinite(thresholds, "threshold", path: weightsPath)
            architecture = .jumpReLU(sharedThreshold: nil)
            activation = .jumpReLU(bias: try tensor("b_enc", [dSAE]).floats(), thresholds: thresholds)
            notes.append("f = ReLU(p)·1[p > θ_i]")
        case "topk":
            let k = config.k ?? 100
            guard k > 0 else { throw config.file.invalid("k", "must be positive, got \(k)") }
            architecture = .topK(k: k, rescalesByDecoderNorm: config.rescaleByDecoderNorm)
            var scales: [Float]?
            if config.rescaleByDecoderNorm {
                let norms = DecoderNorms.ofRows(wDec)
                scales = norms
                featureScales = norms.map { $0 > 0 ? 1 / $0 : 0 }
                if encoderOnly { MappedPages.release(wDec) }
                notes.append("top-\(k) of p·‖W_dec,i‖ (codes include the norm; decoder rows are divided by it)")
            } else {
                notes.append("top-\(k) of p, then ReLU")
            }
            activation = .topK(bias: try tensor("b_enc", [dSAE]).floats(), k: k, scales: scales)
        default:  // gated
            architecture = .gated
            let rMag = try tensor("r_mag", [dSAE]).floats()
            activation = .gated(
                gateBias: try tensor("b_gate", [dSAE]).floats(),
                magnitudeScale: rMag.map { Float(Foundation.exp(Double($0))) },
                magnitudeBias: try tensor("b_mag", [dSAE]).floats())
            notes.append("f = 1[p + b_gate > 0]·ReLU(p·exp(r_mag) + b_mag), p = s·W_enc")
        }
        if config.applyBDecToInput { notes.append("b_dec is subtracted from the input") }
        if config.isPre6 { notes.append("pre-6.0 cfg.json (field names and defaults converted)") }

        let inputShift = config.applyBDecToInput ? bDec : nil
        let encoder = SAEEncoder(
            dIn: dIn, dSAE: dSAE, weight: SAEWeights.encoderWeight(inputMajor: wEnc), activation: activation,
            normalization: normalization, inputShift: inputShift)
        let decoder = SAEDecoder(
            source: .rows(wDec), dIn: dIn, dSAE: dSAE, scale: decoderScale, featureScales: featureScales,
            bias: bDec.map { $0 * decoderScale }, isLoaded: !encoderOnly)
        return SAEParts(
            path: path, format: .saeLens, architecture: architecture, hookName: hookName, layer: layer,
            dtype: wEnc.dtype, normalization: normalization, appliesDecoderBiasToInput: config.applyBDecToInput,
            notes: notes, neuronpediaID: config.neuronpediaID,
            isEncoderMemoryMapped: wEnc.dtype == .f32, encoder: encoder, decoder: decoder)
    }

    /// The dataset scaling factor for `expected_average_only_in`: the user's, else the folder's
    /// `activation_scaler.json` (SAELens training checkpoints), else `norm_scaling_factor` in cfg.json.
    private static func scalingFactor(folder: URL, config: Config, options: SAELoadOptions) throws -> Float? {
        if let factor = options.normScalingFactor { return factor }
        let scalerURL = folder.appendingPathComponent("activation_scaler.json")
        if FileManager.default.fileExists(atPath: scalerURL.path) {
            let scaler = try JSONFields(contentsOf: scalerURL, error: SAEError.init)
            if let factor = try scaler.optionalDouble("scaling_factor") {
                guard factor > 0, factor.isFinite else { throw scaler.invalid("scaling_factor", "must be a positive number, got \(factor)") }
                return Float(factor)
            }
        }
        if let factor = try config.file.optionalDouble("norm_scaling_factor") {
            guard factor > 0, factor.isFinite else { throw config.file.invalid("norm_scaling_factor", "must be a positive number, got \(factor)") }
            return Float(factor)
        }
        return nil
    }
}
