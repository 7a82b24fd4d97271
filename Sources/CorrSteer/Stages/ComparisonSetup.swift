import Foundation

/// Builds the plans of `evaluate --compare` for one run: reads the collected statistics and control
/// statistics once, on first use, and turns them into plans with `ComparisonPlans`.
final class ComparisonSetup {
    private let run: RunDirectory
    private let manifest: RunManifest
    private let candidates: FeatureCandidates
    private let rows: DecoderRowSource
    /// CorrSteer-A at the evaluated scale: its layers (and norms) are the ones the controls steer.
    private let reference: SteeringPlan
    private let scale: Double
    private let decoderBiasMode: DecoderBiasMode
    private let seed: UInt64
    private var statistics: [Int: FeatureStatistics]?
    private var controls: ControlStatistics?
    private var verifiedCheckpoint: StatisticsCheckpoint?

    init(run: RunDirectory, manifest: RunManifest, candidates: FeatureCandidates, rows: DecoderRowSource,
         reference: SteeringPlan, scale: Double, decoderBiasMode: DecoderBiasMode, seed: UInt64) {
        self.run = run
        self.manifest = manifest
        self.candidates = candidates
        self.rows = rows
        self.reference = reference
        self.scale = scale
        self.decoderBiasMode = decoderBiasMode
        self.seed = seed
    }

    /// The layers of plan A, ascending, each once.
    private var sites: [(layer: Int, site: String)] {
        var seen = Set<Int>()
        return reference.entries.filter { seen.insert($0.layer).inserted }.map { ($0.layer, $0.site) }
    }

    func plan(_ method: ComparisonMethod, scale diffMeanScale: Double = 1) throws -> SteeringPlan {
        let plan: SteeringPlan
        switch method {
        case .prompt:
            throw RunError.invalidSetting("the prompt comparison steers nothing")
        case .diffMean:
            plan = try ComparisonPlans.diffMean(residual: try loadControls().residual, sites: sites, scale: diffMeanScale)
        case .randomDirection:
            plan = ComparisonPlans.randomDirections(reference: reference, seed: seed)
        case .randomFeatures:
            let choices = try ComparisonPlans.randomFeatures(statistics: try loadStatistics(), reference: reference,
                                                             options: candidates.selectionOptions, scale: scale, seed: seed)
            plan = try build(method, choices, source: "random features with r > 0 at plan A's layers")
        case .shuffledLabels:
            let controls = try loadControls()
            // Evaluation seed k repeats the control on its own permutation (cycling past the count gathered).
            let permutation = Int(seed % UInt64(controls.shuffled.count))
            let shuffled = controls.shuffled[permutation]
            guard shuffled.values.contains(where: { $0.sampleCount > 0 }) else {
                throw RunError.invalidRun(path: run.url.path, reason: "\(RunSetting.comparisons) shuffled-labels: the collection generated one sample per batch, so no rewards could be permuted; collect with \(RunSetting.batchSize) 2 or more")
            }
            let choices = try ComparisonPlans.shuffledLabels(shuffled: shuffled, sites: manifest.layers.map { ($0.layer, $0.site) },
                                                             options: candidates.selectionOptions, scale: scale)
            plan = try build(method, choices, source: "selection on rewards permuted within each collection batch (permutation \(permutation + 1) of \(controls.shuffled.count))")
        }
        guard !plan.entries.isEmpty else {
            throw RunError.invalidRun(path: run.url.path, reason: "\(RunSetting.comparisons) \(method.rawValue): no layer has anything to steer with")
        }
        return plan
    }

    private func build(_ method: ComparisonMethod, _ choices: [SteeringChoice], source: String) throws -> SteeringPlan {
        try SteeringPlan.build(name: method.rawValue, source: source, model: manifest.model.path,
                               sae: manifest.configuration.sae, choices: choices, decoderBiasMode: decoderBiasMode,
                               decoderRows: rows.rows, decoderBias: rows.bias)
    }

    private func checkpoint() throws -> StatisticsCheckpoint {
        if let verifiedCheckpoint { return verifiedCheckpoint }
        guard let checkpoint = try StatisticsCheckpoint.load(from: run), checkpoint.complete else {
            throw RunError.invalidRun(path: run.url.path, reason: "\(RunSetting.comparisons) needs the run's complete collection statistics")
        }
        try checkpoint.verify(against: manifest, in: run)
        verifiedCheckpoint = checkpoint
        return checkpoint
    }

    private func loadStatistics() throws -> [Int: FeatureStatistics] {
        if let statistics { return statistics }
        let loaded = try checkpoint().loadStatistics(in: run)
        statistics = loaded
        return loaded
    }

    private func loadControls() throws -> ControlStatistics {
        if let controls { return controls }
        guard let loaded = try checkpoint().loadControls(in: run) else {
            throw RunError.invalidRun(path: run.url.path, reason: "\(RunSetting.comparisons) diffmean and shuffled-labels need control statistics, which this run's collection did not gather (it was made by an older corrsteer); collect it again")
        }
        controls = loaded
        return loaded
    }
}
