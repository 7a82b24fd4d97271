import Foundation
import SparseAutoencoders

/// Stage 2 (method §5): per-layer candidates from the collected statistics → `features.json`, and the
/// steering plans of the strategies that need no validation (S, A) → `plans/`.
public struct SelectionRun {
    public var run: RunDirectory
    public var options: SelectionOptions
    public var decoderBias: Bool = false

    public init(run: RunDirectory, options: SelectionOptions = SelectionOptions()) {
        self.run = run
        self.options = options
    }

    @discardableResult
    public func execute() throws -> FeatureCandidates {
        let lock = try RunLock.acquire(run)
        defer { withExtendedLifetime(lock) {} }
        try run.refuseLinks()
        let manifest = try RunManifest.load(from: run)
        guard let checkpoint = try StatisticsCheckpoint.load(from: run), checkpoint.complete else {
            throw RunError.invalidRun(path: run.url.path, reason: "the collection is not complete; continue it with \(RunSetting.resume)")
        }
        try checkpoint.verify(against: manifest, in: run)
        let statistics = try checkpoint.loadStatistics(in: run)
        var layers: [LayerCandidates] = []
        for facts in manifest.layers {
            guard let stats = statistics[facts.layer] else {
                throw RunError.invalidRun(path: run.statsDirectory.path, reason: "no statistics for layer \(facts.layer)")
            }
            layers.append(try FeatureSelection.candidates(
                from: stats, layer: facts.layer, site: facts.site, options: options, neuronpedia: facts.neuronpedia))
        }
        let candidates = FeatureCandidates(
            model: manifest.model.path, sae: manifest.configuration.sae, task: manifest.configuration.task,
            samples: checkpoint.samplesDone, successes: Int(checkpoint.successes.rounded()),
            pool: manifest.configuration.pool.rawValue, steerPool: manifest.configuration.steerPool.rawValue,
            options: options, neuronpedia: nil, decode: decoderBias, layers: layers)
        try candidates.save(to: run.features)
        let rows = DecoderRowSource(manifest: manifest)
        for strategy in [SteeringStrategy.single, .allLayers] {
            let choices = try candidates.choices(for: strategy, skippingEmptyLayers: true)
            let plan = try SteeringPlan.build(
                name: strategy.rawValue, strategy: strategy, source: "features.json", model: manifest.model.path,
                sae: manifest.configuration.sae, choices: choices,
                decoderBiasMode: manifest.configuration.reference.decoderBiasMode(decode: decoderBias),
                decoderRows: rows.rows, decoderBias: rows.bias)
            try plan.save(to: run.plan(strategy.rawValue))
        }
        return candidates
    }
}

/// Decoder rows of selected features, read from the run's SAE files without loading whole decoders
/// (or unit vectors for `--raw` runs, whose "features" are residual dimensions).
struct DecoderRowSource {
    let manifest: RunManifest
    private let cache = SAECache()

    init(manifest: RunManifest) { self.manifest = manifest }

    var rows: SteeringPlan.DecoderRows {
        { layer, features in
            guard let path = manifest.layers.first(where: { $0.layer == layer })?.sae else {
                let width = manifest.model.hiddenSize
                return try features.map { feature in
                    guard feature >= 0 && feature < width else {
                        throw RunError.invalidSetting("feature \(feature) is not a residual dimension (0…\(width - 1))")
                    }
                    var row = [Float](repeating: 0, count: width)
                    row[feature] = 1
                    return row
                }
            }
            return try cache.decoderRows(path: path, layer: layer, features: features, options: FeatureSources.loadOptions(manifest.configuration))
        }
    }

    var bias: SteeringPlan.DecoderBias {
        { layer in
            guard let path = manifest.layers.first(where: { $0.layer == layer })?.sae else {
                return [Float](repeating: 0, count: manifest.model.hiddenSize)
            }
            return try cache.decoderBias(path: path, layer: layer, options: FeatureSources.loadOptions(manifest.configuration))
        }
    }
}

/// Decoder rows and biases read from SAE files, kept by (file, feature). Only the rows asked for stay in
/// memory: each SAE is opened encoder-only (its decoder is read row by row from the file) and closed
/// again, so building plans for a model with 32 large SAEs never holds their weights together.
final class SAECache {
    private var rows: [String: [Int: [Float]]] = [:]
    private var biases: [String: [Float]] = [:]

    func decoderRows(path: String, layer: Int, features: [Int], options: SAELoadOptions) throws -> [[Float]] {
        let missing = features.filter { rows[path]?[$0] == nil }
        if !missing.isEmpty {
            let sae = try open(path: path, layer: layer, options: options)
            for (feature, row) in zip(missing, try sae.decoderRows(missing)) { rows[path, default: [:]][feature] = row }
        }
        return features.map { rows[path]![$0]! }
    }

    func decoderBias(path: String, layer: Int, options: SAELoadOptions) throws -> [Float] {
        if let bias = biases[path] { return bias }
        let bias = try open(path: path, layer: layer, options: options).decoderBias
        biases[path] = bias
        return bias
    }

    private func open(path: String, layer: Int, options: SAELoadOptions) throws -> SparseAutoencoder {
        try SparseAutoencoder.load(path: URL(fileURLWithPath: path), layer: layer, encoderOnly: true, options: options)
    }
}
