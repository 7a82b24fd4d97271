import Foundation
import Tensors
import WeightFiles

/// Gemma Scope `params.npz` files (formats.md §1.1): JumpReLU with per-feature thresholds, no input
/// normalisation, b_dec not subtracted from the input.
enum GemmaScope {
    /// Canonical `average_l0_X` per width and layer for `gemma-scope-2b-pt-res-canonical`
    /// (SAELens `pretrained_saes.yaml`; the 16k row is the table in formats.md §1.1).
    static let canonicalL0: [String: [Int: Int]] = [
        "16k": [0: 105, 1: 102, 2: 141, 3: 59, 4: 124, 5: 68, 6: 70, 7: 69, 8: 71, 9: 73, 10: 77, 11: 80, 12: 82,
                13: 84, 14: 84, 15: 78, 16: 78, 17: 77, 18: 74, 19: 73, 20: 71, 21: 70, 22: 72, 23: 75, 24: 73, 25: 116],
        "65k": [0: 73, 1: 121, 2: 77, 3: 89, 4: 89, 5: 105, 6: 107, 7: 107, 8: 111, 9: 118, 10: 128, 11: 70, 12: 72,
                13: 75, 14: 73, 15: 127, 16: 128, 17: 125, 18: 116, 19: 115, 20: 114, 21: 111, 22: 116, 23: 123, 24: 124, 25: 93],
        "32k": [12: 76],
        "262k": [12: 121],
        "524k": [12: 115],
        "1m": [5: 114, 12: 107, 19: 88],
    ]

    /// `N` from a `layer_N` folder on the path.
    static func layer(inPath path: String) -> Int? {
        for component in path.split(separator: "/").reversed() where component.hasPrefix("layer_") {
            if let n = Int(component.dropFirst(6)) { return n }
        }
        return nil
    }

    static func pathComponent(_ path: String, prefix: String) -> String? {
        path.split(separator: "/").reversed().first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    static func load(url: URL, layer requested: Int?, encoderOnly: Bool) throws -> SAEParts {
        let path = url.path
        let archive = try NpzArchive(url: url)
        let layer = try resolvedLayer(found: Self.layer(inPath: path), requested: requested, path: path)

        // SAELens renames lower-case `w_*` keys; accept either spelling.
        func key(_ name: String) throws -> String {
            if archive.contains(name) { return name }
            if let match = archive.names.first(where: { $0.lowercased() == name.lowercased() }) { return match }
            throw WeightFileError.missingTensor(path: path, tensor: name)
        }
        let encoderInfo = try archive.info(key("W_enc"))
        guard encoderInfo.shape.count == 2 else {
            throw SAEError.shapeMismatch(path: path, tensor: "W_enc", expected: [-1, -1], actual: encoderInfo.shape)
        }
        let (dIn, dSAE) = (encoderInfo.shape[0], encoderInfo.shape[1])
        let wEnc = try archive.tensor(key("W_enc"))
        let bEnc = try archive.tensor(key("b_enc"))
        let bDec = try archive.tensor(key("b_dec"))
        let threshold = try archive.tensor(key("threshold"))
        try SAEWeights.check(bEnc, "b_enc", is: [dSAE], path: path)
        try SAEWeights.check(bDec, "b_dec", is: [dIn], path: path)
        try SAEWeights.check(threshold, "threshold", is: [dSAE], path: path)
        let decoderName = try key("W_dec")
        let decoderInfo = try archive.info(decoderName)
        guard decoderInfo.shape == [dSAE, dIn] else {
            throw SAEError.shapeMismatch(path: path, tensor: "W_dec", expected: [dSAE, dIn], actual: decoderInfo.shape)
        }
        if archive.contains("scaling_factor") {
            // SAELens drops an all-ones scaling factor and refuses any other for Gemma Scope.
            let factors = try archive.tensor("scaling_factor").floats()
            guard factors.allSatisfy({ $0 == 1 }) else {
                throw SAEError.unsupported(path: path, reason: "tensor 'scaling_factor' is not all ones (a fine-tuning scaling factor), which Gemma Scope SAEs do not use")
            }
        }
        let thresholds = threshold.floats()
        try SAEWeights.checkFinite(thresholds, "threshold", path: path)

        let decoderSource: SAEDecoder.Source
        let decoderLoaded: Bool
        if decoderInfo.isMemoryMapped {
            decoderSource = .rows(try archive.tensor(decoderName))
            decoderLoaded = !encoderOnly
        } else if encoderOnly {
            decoderSource = .npzMember(archive, name: decoderName)
            decoderLoaded = false
        } else {
            decoderSource = .rows(try archive.tensor(decoderName))
            decoderLoaded = true
        }

        let site = siteKind(path)
        var notes = ["JumpReLU as SAELens computes it: f = ReLU(p)·1[p > θ_i], p = x·W_enc + b_enc (b_dec not subtracted)"]
        if encoderInfo.compression == .deflated { notes.append("params.npz is deflate-compressed: the encoder was inflated into memory") }
        if site.assumed { notes.append("site assumed to be the residual stream after the block (Gemma Scope res)") }
        let encoder = SAEEncoder(
            dIn: dIn, dSAE: dSAE, weight: SAEWeights.encoderWeight(inputMajor: wEnc),
            activation: .jumpReLU(bias: bEnc.floats(), thresholds: thresholds),
            normalization: .none, inputShift: nil)
        let decoder = SAEDecoder(
            source: decoderSource, dIn: dIn, dSAE: dSAE, scale: 1, featureScales: nil, bias: bDec.floats(), isLoaded: decoderLoaded)
        return SAEParts(
            path: path, format: .gemmaScope, architecture: .jumpReLU(sharedThreshold: nil),
            hookName: "blocks.\(layer).\(site.hook)", layer: layer, dtype: wEnc.dtype, normalization: .none,
            appliesDecoderBiasToInput: false, notes: notes,
            neuronpediaID: neuronpediaID(path: path, layer: layer, dIn: dIn, site: site.hook),
            isEncoderMemoryMapped: encoderInfo.isMemoryMapped && wEnc.dtype == .f32,
            encoder: encoder, decoder: decoder)
    }

    /// Gemma Scope repositories are named `gemma-scope-2b-pt-{res,mlp,att}`; a path without that name
    /// is taken to be a residual-stream SAE.
    private static func siteKind(_ path: String) -> (hook: String, assumed: Bool) {
        for component in path.split(separator: "/") where component.hasPrefix("gemma-scope") || component.contains("--gemma-scope") {
            if component.hasSuffix("-mlp") || component.contains("-mlp-") { return ("hook_mlp_out", false) }
            if component.hasSuffix("-att") || component.contains("-att-") { return ("attn.hook_z", false) }
            if component.hasSuffix("-res") || component.contains("-res-") { return ("hook_resid_post", false) }
        }
        return ("hook_resid_post", true)
    }

    /// Neuronpedia names the canonical Gemma-2-2B residual SAEs `gemma-2-2b/{L}-gemmascope-res-{width}`.
    static func neuronpediaID(path: String, layer: Int, dIn: Int, site: String) -> String? {
        guard dIn == 2304, site == "hook_resid_post",
              let width = pathComponent(path, prefix: "width_"),
              let l0 = pathComponent(path, prefix: "average_l0_").flatMap(Int.init),
              canonicalL0[width]?[layer] == l0
        else { return nil }
        return "gemma-2-2b/\(layer)-gemmascope-res-\(width)"
    }
}
