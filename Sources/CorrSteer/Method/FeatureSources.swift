import Foundation
import LanguageModels
import SparseAutoencoders

/// Resolves which layers a run reads and how (method §2): the SAE of each layer at the site it was
/// trained on, or with `--paper-compat` at `hook_resid_pre` of the same block (the reference's
/// off-by-one), layers 1…n−1 by default.
public enum FeatureSources {
    public struct Resolved {
        public let sources: [FeatureSource]
        /// SAE file per layer (empty for `--raw`).
        public let saePaths: [Int: String]
        public let neuronpediaIDs: [Int: String]
    }

    public static func resolve(configuration: CollectionConfiguration, model: LanguageModel) throws -> Resolved {
        let layerCount = model.config.layerCount
        let hidden = model.config.hiddenSize
        if let layers = configuration.layers, let bad = layers.first(where: { $0 < 0 || $0 >= layerCount }) {
            throw RunError.invalidOption("--layers: layer \(bad) does not exist; the model has layers 0…\(layerCount - 1)")
        }
        func site(for layer: Int, trainedOn hookName: String?) throws -> HookSite {
            if configuration.reference.readsSAEsAtBlockInput { return .residPre(layer: layer) }
            guard let hookName else { return .residPost(layer: layer) }
            guard let site = HookSite(name: hookName) else {
                throw RunError.mismatch("SAE of layer \(layer) was trained on '\(hookName)', which is not a residual-stream site (blocks.L.hook_resid_pre|post)")
            }
            guard site.layer < layerCount else {
                throw RunError.mismatch("SAE site \(hookName) does not exist in a model with \(layerCount) layers")
            }
            return site
        }
        let defaultLayers = Array((configuration.reference.skipsLayerZero ? 1 : 0)..<layerCount)

        guard let saePath = configuration.sae, !configuration.raw else {
            let layers = configuration.layers ?? defaultLayers
            let sources = try layers.map { layer in
                FeatureSource.residual(layer: layer, site: try site(for: layer, trainedOn: nil), hiddenSize: hidden)
            }
            return Resolved(sources: sources, saePaths: [:], neuronpediaIDs: [:])
        }
        let references = try SAESet.discover(path: URL(fileURLWithPath: saePath), layers: configuration.layers)
        var layers = configuration.layers ?? references.keys.sorted()
        if configuration.layers == nil && configuration.reference.skipsLayerZero { layers.removeAll { $0 == 0 } }
        guard !layers.isEmpty else {
            throw RunError.invalidOption("\(saePath): no SAE for any layer to collect")
        }
        var sources: [FeatureSource] = []
        var paths: [Int: String] = [:]
        var neuronpedia: [Int: String] = [:]
        for layer in layers {
            guard let reference = references[layer] else {
                throw RunError.invalidOption("\(saePath): no SAE for layer \(layer)")
            }
            let sae = try SparseAutoencoder.load(reference, encoderOnly: true, options: loadOptions(configuration))
            try sae.validate(modelHiddenSize: hidden, layerCount: layerCount)
            let hookSite = try site(for: layer, trainedOn: sae.hookName)
            sources.append(FeatureSource(layer: layer, site: hookSite, width: sae.dSAE) { rows, count, out in
                sae.encode(rows, rows: count, into: out)
            })
            paths[layer] = reference.url.path
            if let id = sae.neuronpediaID { neuronpedia[layer] = id }
        }
        return Resolved(sources: sources, saePaths: paths, neuronpediaIDs: neuronpedia)
    }

    /// `--paper-compat` reads Llama Scope thresholds as SAELens 5.5.2 (the reference's pin) did.
    static func loadOptions(_ configuration: CollectionConfiguration) -> SAELoadOptions {
        var options = SAELoadOptions()
        options.llamaScopeUsesSAELens5Threshold = configuration.reference.llamaScopeUsesSAELens5Threshold
        return options
    }
}
