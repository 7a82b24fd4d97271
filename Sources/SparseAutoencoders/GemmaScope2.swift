import Foundation
import Tensors
import WeightFiles

/// Gemma Scope 2 (the SAEs of Gemma 3): one folder per SAE, `layer_{L}_width_{W}_l0_{small|medium|big}/`
/// holding `params.safetensors` (`w_enc` [d_in, d_sae], `w_dec` [d_sae, d_in], `b_enc`, `b_dec`,
/// `threshold`) and, in most releases, a `config.json` (`"architecture": "jump_relu"`). The site is the
/// folder the SAE sits in (`resid_post`, `resid_post_all`, …). Encoding is Gemma Scope's JumpReLU with
/// b_dec not subtracted from the input, as SAELens' `gemma_3` loader configures it.
enum GemmaScope2 {
    static let weightsName = "params.safetensors"

    /// Layer, width and L0 bucket from a folder name such as `layer_12_width_16k_l0_medium`.
    struct FolderName: Equatable {
        let layer: Int
        let width: String
        let l0: String

        init?(_ name: String) {
            let parts = name.split(separator: "_").map(String.init)
            guard parts.count == 6, parts[0] == "layer", let layer = Int(parts[1]), layer >= 0,
                  parts[2] == "width", parts[4] == "l0", !parts[3].isEmpty, !parts[5].isEmpty
            else { return nil }
            self.layer = layer
            width = parts[3]
            l0 = parts[5]
        }
    }

    /// Site folders of a Gemma Scope 2 repository holding residual-stream SAEs, preferred first: the
    /// `resid_post` selection has every width and L0, `resid_post_all` every layer.
    static let residualSites = ["resid_post", "resid_post_all"]

    /// The hook of a site folder; nil for sites corrsteer does not read (transcoders, crosscoders, …).
    static func hook(site: String) -> String? {
        switch site {
        case "resid_post", "resid_post_all": "hook_resid_post"
        case "mlp_out", "mlp_out_all": "hook_mlp_out"
        default: nil
        }
    }

    static func load(folder: URL, layer requested: Int?, encoderOnly: Bool) throws -> SAEParts {
        let path = folder.path
        guard let name = FolderName(folder.lastPathComponent) else {
            throw SAEError.noSAE(path: path, reason: "not a Gemma Scope 2 folder name (layer_L_width_W_l0_X)")
        }
        if let requested, requested != name.layer {
            throw SAEError.layerMismatch(path: path, found: name.layer, requested: requested)
        }
        let site = folder.deletingLastPathComponent().lastPathComponent
        let hook = hook(site: site)
        if hook == nil, site.hasPrefix("transcoder") || site.hasPrefix("clt") || site.hasPrefix("crosscoder") || site.hasPrefix("attn_out") {
            throw SAEError.unsupported(path: path, reason: "a \(site) SAE; corrsteer reads residual-stream (resid_post) and mlp_out SAEs")
        }
        let configURL = folder.appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: configURL.path) {
            let config = try JSONFields(contentsOf: configURL, error: SAEError.init)
            if let architecture = try config.optionalString("architecture"), architecture != "jump_relu" {
                throw SAEError.unknownArchitecture(path: configURL.path, name: architecture, supported: ["jump_relu"])
            }
        }
        let weightsURL = folder.appendingPathComponent(weightsName)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw SAEError.noSAE(path: path, reason: "\(weightsName) is missing")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        let wEnc = try file.tensor("w_enc")
        guard wEnc.shape.count == 2 else {
            throw SAEError.shapeMismatch(path: file.path, tensor: "w_enc", expected: [-1, -1], actual: wEnc.shape)
        }
        let (dIn, dSAE) = (wEnc.shape[0], wEnc.shape[1])
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try file.tensor(name)
            try SAEWeights.check(t, name, is: shape, path: file.path)
            return t
        }
        let wDec = try tensor("w_dec", [dSAE, dIn])
        let bEnc = try tensor("b_enc", [dSAE]).floats()
        let bDec = try tensor("b_dec", [dIn]).floats()
        let thresholds = try tensor("threshold", [dSAE]).floats()
        try SAEWeights.checkFinite(thresholds, "threshold", path: file.path)

        var notes = ["JumpReLU as SAELens computes it: f = ReLU(p)·1[p > θ_i], p = x·W_enc + b_enc (b_dec not subtracted)"]
        if hook == nil { notes.append("site folder '\(site)' not recognised: assumed to be the residual stream after the block") }
        let encoder = SAEEncoder(
            dIn: dIn, dSAE: dSAE, weight: SAEWeights.encoderWeight(inputMajor: wEnc),
            activation: .jumpReLU(bias: bEnc, thresholds: thresholds), normalization: .none, inputShift: nil)
        let decoder = SAEDecoder(source: .rows(wDec), dIn: dIn, dSAE: dSAE, scale: 1, featureScales: nil, bias: bDec,
                                 isLoaded: !encoderOnly)
        return SAEParts(
            path: path, format: .gemmaScope2, architecture: .jumpReLU(sharedThreshold: nil),
            hookName: "blocks.\(name.layer).\(hook ?? "hook_resid_post")", layer: name.layer, dtype: wEnc.dtype,
            normalization: .none, appliesDecoderBiasToInput: false, notes: notes,
            neuronpediaID: neuronpediaID(folder: folder, name: name, site: site),
            isEncoderMemoryMapped: wEnc.dtype == .f32, encoder: encoder, decoder: decoder)
    }

    /// Neuronpedia's Gemma Scope 2 sources: `gemma-3-{size}-{pt|it}/{L}-gemmascope-2-res-{W}` for the
    /// medium-L0 residual SAEs of the `resid_post` selection, when the repository folder
    /// (`gemma-scope-2-{size}-{pt|it}`, also as a Hugging Face cache name) is on the path.
    static func neuronpediaID(folder: URL, name: FolderName, site: String) -> String? {
        guard site == "resid_post", name.l0 == "medium" else { return nil }
        for component in folder.pathComponents.reversed() {
            let repo = component.hasPrefix("models--google--") ? String(component.dropFirst("models--google--".count)) : component
            guard repo.hasPrefix("gemma-scope-2-") else { continue }
            let model = "gemma-3-" + repo.dropFirst("gemma-scope-2-".count)
            return "\(model)/\(name.layer)-gemmascope-2-res-\(name.width)"
        }
        return nil
    }

    // MARK: - Choosing among the SAEs of a site

    /// One SAE per layer among `folders` (all `layer_L_width_W_l0_X` of one site): the requested width
    /// (else 16k, else the only one), then the requested L0 bucket (else medium, else the only one).
    /// Only `layers` are resolved when given (a width asked for one layer need not exist at the others).
    static func choose(_ folders: [URL], width: String?, l0: String?, site: URL, layers: [Int]?) throws -> [Int: SAEReference] {
        var byLayer: [Int: [(URL, FolderName)]] = [:]
        for folder in folders {
            if let name = FolderName(folder.lastPathComponent), layers?.contains(name.layer) ?? true {
                byLayer[name.layer, default: []].append((folder, name))
            }
        }
        var chosen: [Int: SAEReference] = [:]
        for (layer, options) in byLayer {
            let widths = Set(options.map(\.1.width)).sorted()
            let width = try pick(width.map { $0.hasPrefix("width_") ? String($0.dropFirst(6)) : $0 }, among: widths,
                                 preferred: "16k", what: "width", layer: layer, site: site)
            let sameWidth = options.filter { $0.1.width == width }
            let buckets = sameWidth.map(\.1.l0).sorted()
            let bucket = try pick(l0, among: buckets, preferred: "medium", what: "L0", layer: layer, site: site)
            guard let folder = sameWidth.first(where: { $0.1.l0 == bucket })?.0 else { continue }
            let reason = l0 == nil ? (bucket == "medium" ? "the medium L0 (Neuronpedia's choice)" : "the only L0") : "as asked"
            chosen[layer] = SAEReference(layer: layer, url: folder, format: .gemmaScope2,
                                         note: "\(site.lastPathComponent)/\(folder.lastPathComponent): width \(width), \(reason)")
        }
        return chosen
    }

    private static func pick(_ wanted: String?, among options: [String], preferred: String, what: String, layer: Int,
                             site: URL) throws -> String {
        if let wanted {
            guard options.contains(wanted) else {
                throw SAEError.noSAE(path: site.path, reason: "no \(what) \(wanted) for layer \(layer) (present: \(options.joined(separator: ", ")))")
            }
            return wanted
        }
        if options.contains(preferred) { return preferred }
        if options.count == 1 { return options[0] }
        throw SAEError.ambiguous(path: site.path, reason: "layer \(layer) has \(what)s \(options.joined(separator: ", ")) and no \(preferred); point --sae at the SAE folder you want")
    }
}
