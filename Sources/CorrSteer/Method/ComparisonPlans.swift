import Foundation
import Tensors

/// What `evaluate --compare` sets beside CorrSteer's variants. Each one is evaluated on the same test
/// items as S/A/P and gets the same metrics against the same baseline.
public enum ComparisonMethod: String, Codable, Sendable, CaseIterable {
    /// The unsteered model with an instruction asking for the behaviour (`TaskInstructions`).
    case prompt
    /// Difference of mean residuals between correct and incorrect training samples, at plan A's layers,
    /// with its own scale chosen on validation.
    case diffMean = "diffmean"
    /// A random positively correlated feature per layer of plan A, with CorrSteer's coefficient rule.
    case randomFeatures = "random-features"
    /// A random direction per layer of plan A, with the norm of A's vector there.
    case randomDirection = "random-direction"
    /// CorrSteer-A's selection repeated on rewards permuted within each collection batch.
    case shuffledLabels = "shuffled-labels"

    /// One sentence for the report: what the comparison controls for.
    public var controlsFor: String {
        switch self {
        case .prompt:
            return "Asking for the behaviour in words, with no steering: steering is worth its cost only where it beats this."
        case .diffMean:
            return "A dense direction from the same samples (mean residual of correct minus incorrect answers) with its own tuned scale: does the SAE feature add anything over it?"
        case .randomFeatures:
            return "Features drawn at random among those with positive correlation, same coefficient rule: does ranking by r matter?"
        case .randomDirection:
            return "Random directions as long as CorrSteer-A's vectors: is the effect more than perturbing the residual stream?"
        case .shuffledLabels:
            return "The whole selection repeated on permuted rewards: how much of the effect would selection find in noise?"
        }
    }
}

/// Builds the steering plans of the comparisons from the collected statistics (method-independent
/// arithmetic kept here so that it is tested against numpy on dumped statistics).
public enum ComparisonPlans {
    /// DiffMean: at each `(layer, site)`, `scale · (μ₊ − μ₋)` where μ₊ and μ₋ are the mean pooled residuals
    /// (coefficient view, `--steer-pool`) over samples with reward > 0 and reward 0.
    public static func diffMean(residual: [Int: FeatureStatistics], sites: [(layer: Int, site: String)],
                                scale: Double) throws -> SteeringPlan {
        let entries = try sites.map { layer, site -> SteeringPlanEntry in
            guard let stats = residual[layer] else {
                throw SteeringPlanError.invalid("diffmean: no residual statistics for layer \(layer)")
            }
            let direction = zip(stats.successMeans(), stats.failureMeans()).map { Float(scale * ($0 - $1)) }
            return SteeringPlanEntry(layer: layer, site: site, feature: -1, coefficient: scale, vector: direction)
        }
        return SteeringPlan(name: ComparisonMethod.diffMean.rawValue, source: "residual statistics: mean(correct) − mean(incorrect), scale \(scale)",
                            entries: entries)
    }

    /// Per entry of `reference`, a feature drawn uniformly among the layer's features with r > 0, and its
    /// coefficient by `options` (CorrSteer's rule and `--scale`) times `scale`. Layers without a positively
    /// correlated feature are left out.
    public static func randomFeatures(statistics: [Int: FeatureStatistics], reference: SteeringPlan,
                                      options: SelectionOptions, scale: Double, seed: UInt64) throws -> [SteeringChoice] {
        var rng = SplitMix64(seed: seed, stream: 1)
        var choices: [SteeringChoice] = []
        for entry in reference.entries {
            guard let stats = statistics[entry.layer] else {
                throw SteeringPlanError.invalid("random-features: no statistics for layer \(entry.layer)")
            }
            let r = stats.correlations()
            let positive = r.indices.filter { r[$0] > 0 }
            guard !positive.isEmpty else { continue }
            let feature = positive[Int(rng.next() % UInt64(positive.count))]
            let coefficient = stats.coefficients(options.coefficient)[feature] * options.scale * scale
            choices.append(SteeringChoice(layer: entry.layer, site: entry.site, feature: feature,
                                          coefficient: coefficient, correlation: r[feature]))
        }
        return choices
    }

    /// Per entry of `reference`, a direction uniform on the sphere (normalised standard normal, Box–Muller
    /// over `SplitMix64(seed, stream: 2)`) with the entry's norm.
    public static func randomDirections(reference: SteeringPlan, seed: UInt64) -> SteeringPlan {
        var rng = SplitMix64(seed: seed, stream: 2)
        let entries = reference.entries.map { entry -> SteeringPlanEntry in
            var direction = [Double](repeating: 0, count: entry.vector.count)
            var i = 0
            while i < direction.count {
                // 1 − u keeps the logarithm finite.
                let u1 = 1 - rng.nextUnit(), u2 = rng.nextUnit()
                let radius = (-2 * log(u1)).squareRoot()
                direction[i] = radius * cos(2 * Double.pi * u2)
                if i + 1 < direction.count { direction[i + 1] = radius * sin(2 * Double.pi * u2) }
                i += 2
            }
            let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let factor = length > 0 ? entry.norm / length : 0
            return SteeringPlanEntry(layer: entry.layer, site: entry.site, feature: -1, coefficient: entry.norm,
                                     vector: direction.map { Float($0 * factor) })
        }
        return SteeringPlan(name: ComparisonMethod.randomDirection.rawValue,
                            source: "random directions with the norms of plan \(reference.name)", entries: entries)
    }

    /// CorrSteer-A's choices on the shuffled-label statistics: every layer's top positive feature by the
    /// run's score, its coefficient by the run's rule, times `scale`.
    public static func shuffledLabels(shuffled: [Int: FeatureStatistics], sites: [(layer: Int, site: String)],
                                      options: SelectionOptions, scale: Double) throws -> [SteeringChoice] {
        var layers: [LayerCandidates] = []
        for (layer, site) in sites {
            guard let stats = shuffled[layer] else {
                throw SteeringPlanError.invalid("shuffled-labels: no shuffled statistics for layer \(layer)")
            }
            layers.append(try FeatureSelection.candidates(from: stats, layer: layer, site: site, options: options))
        }
        return layers.compactMap { layer in
            layer.selected.map {
                SteeringChoice(layer: layer.layer, site: layer.site, feature: $0.feature,
                               coefficient: $0.coefficient * scale, correlation: $0.correlation)
            }
        }
    }
}
