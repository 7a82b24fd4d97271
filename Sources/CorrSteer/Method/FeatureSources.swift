import Foundation
import LanguageModels
import SparseAutoencoders

/// Resolves which layers a run reads and how (method §2): the SAE of each layer at the site it was
/// trained on, or with `--paper-compat` at `hook_resid_pre` of the same block (the reference's
/// off-by-one), layers 1…n−1 by default.
public enum FeatureSources {
    public struct Resolved {
        public let sources: [FeatureSource]
        /// How the encoders are held (nil for `--raw`, which has none).
        public let memoryPlan: CollectionMemoryPlan?
        /// SAE file per layer (empty for `--raw`).
        public let saePaths: [Int: String]
        public let neuronpediaIDs: [Int: String]
    }

    /// `memory`, `capturedRowsPerBatch` (rows a batch captures per layer) and `maxNewTokens` (long greedy
    /// generations add the LM head's greedy screen) decide how the encoders are held; see
    /// `CollectionMemoryPlan`.
    public static func resolve(configuration: CollectionConfiguration, model: LanguageModel,
                               memory: CollectionMemoryPlan.Request = .auto, capturedRowsPerBatch: Int = 0,
                               maxNewTokens: Int = 0,
                               budgetBytes: Int = CollectionMemoryPlan.defaultBudget()) throws -> Resolved {
        let layerCount = model.config.layerCount
        let hidden = model.config.hiddenSize
        if let layers = configuration.layers, let bad = layers.first(where: { $0 < 0 || $0 >= layerCount }) {
            throw RunError.invalidSetting("\(RunSetting.layers): layer \(bad) does not exist; the model has layers 0…\(layerCount - 1)")
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
            return Resolved(sources: sources, memoryPlan: nil, saePaths: [:], neuronpediaIDs: [:])
        }
        let references = try SAESet.discover(path: URL(fileURLWithPath: saePath), layers: configuration.layers)
        var layers = configuration.layers ?? references.keys.sorted()
        if configuration.layers == nil && configuration.reference.skipsLayerZero { layers.removeAll { $0 == 0 } }
        guard !layers.isEmpty else {
            throw RunError.invalidSetting("\(saePath): no SAE for any layer to collect")
        }
        // Survey: each SAE is opened once, checked against the model and closed again, so that no more
        // than one encoder is in memory before the plan is chosen.
        struct Surveyed { let reference: SAEReference; let site: HookSite; let width: Int; let bytes: Int }
        var surveyed: [Int: Surveyed] = [:]
        var paths: [Int: String] = [:]
        var neuronpedia: [Int: String] = [:]
        let options = loadOptions(configuration)
        for layer in layers {
            guard let reference = references[layer] else {
                throw RunError.invalidSetting("\(saePath): no SAE for layer \(layer)")
            }
            let sae = try SparseAutoencoder.load(reference, encoderOnly: true, options: options)
            try sae.validate(modelHiddenSize: hidden, layerCount: layerCount)
            surveyed[layer] = Surveyed(reference: reference, site: try site(for: layer, trainedOn: sae.hookName),
                                       width: sae.dSAE, bytes: sae.encoderByteCount)
            paths[layer] = reference.url.path
            if let id = sae.neuronpediaID { neuronpedia[layer] = id }
        }
        let widths = layers.map { surveyed[$0]!.width }
        let plan = try CollectionMemoryPlan.choose(memory, sizes: .init(
            modelBytes: model.weightByteCount + model.greedyScreenByteCount(forNewTokens: maxNewTokens),
            encoderBytes: layers.map { surveyed[$0]!.bytes },
            statisticsBytes: CollectionMemoryPlan.statisticsBytes(widths: widths, hiddenSize: hidden, histograms: configuration.mutualInformation),
            capturedRowsPerBatch: capturedRowsPerBatch, hiddenSize: hidden, widestSAE: widths.max() ?? 0), budgetBytes: budgetBytes)
        let sources = try layers.map { layer -> FeatureSource in
            let s = surveyed[layer]!
            switch plan.residency {
            case .resident:
                let sae = try SparseAutoencoder.load(s.reference, encoderOnly: true, options: options)
                return FeatureSource(layer: layer, site: s.site, width: s.width) { rows, count, out in
                    sae.encode(rows, rows: count, into: out)
                }
            case .streamed:
                let encoder = StreamedEncoder(reference: s.reference, options: options, dIn: hidden, width: s.width)
                return FeatureSource(layer: layer, site: s.site, width: s.width, encode: encoder.encode, release: encoder.release)
            }
        }
        return Resolved(sources: sources, memoryPlan: plan, saePaths: paths, neuronpediaIDs: neuronpedia)
    }

    /// `--paper-compat` reads Llama Scope thresholds as SAELens 5.5.2 (the reference's pin) did.
    static func loadOptions(_ configuration: CollectionConfiguration) -> SAELoadOptions {
        var options = SAELoadOptions()
        options.llamaScopeUsesSAELens5Threshold = configuration.reference.llamaScopeUsesSAELens5Threshold
        return options
    }
}

/// A streamed SAE encoder: opened on first use in a batch, closed by `release` when the batch is done
/// with it. Each opening checks the files again, so an SAE changed during the run is an error, never a
/// silent mix.
final class StreamedEncoder {
    private let reference: SAEReference
    private let options: SAELoadOptions
    private let dIn: Int
    private let width: Int
    private var open: SparseAutoencoder?

    init(reference: SAEReference, options: SAELoadOptions, dIn: Int, width: Int) {
        self.reference = reference
        self.options = options
        self.dIn = dIn
        self.width = width
    }

    func encode(_ rows: UnsafePointer<Float>, _ count: Int, _ out: UnsafeMutablePointer<Float>) throws {
        if open == nil {
            let sae = try SparseAutoencoder.load(reference, encoderOnly: true, options: options)
            guard sae.dIn == dIn, sae.dSAE == width else {
                throw RunError.mismatch("\(reference.url.path): the SAE changed during the run (now \(sae.dIn) → \(sae.dSAE), was \(dIn) → \(width))")
            }
            open = sae
        }
        open!.encode(rows, rows: count, into: out)
    }

    func release() { open = nil }
}
