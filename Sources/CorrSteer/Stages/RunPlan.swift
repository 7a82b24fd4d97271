import Foundation
import SparseAutoencoders
import Tasks

/// How much work a `run` is, counted before the model loads: generations are what a run spends its time
/// on (each costs about the same: one prompt plus the task's new tokens), so the count tells a user
/// whether to shorten the run before waiting for it.
public struct RunPlan: Equatable, Sendable {
    /// Training samples collected.
    public var trainSamples: Int
    /// Layers with a feature source; nil when unknown until the model loads (`--raw` without `--layers`).
    public var layers: Int?
    /// Validation samples CorrSteer-P generates per layer and for its baseline, and each scale of a
    /// sweep (0 when nothing validates).
    public var validationSamples: Int
    /// Scales tried on validation: CorrSteer's `--scale-sweep` plus DiffMean's sweep.
    public var sweepScales = 0
    /// Whether P validates every layer.
    public var validatesLayers = false
    /// Evaluations (`--seeds`).
    public var seeds = 1
    /// Test samples each variant generates.
    public var testSamples: Int
    /// baseline, then the strategies.
    public var variants: [String]
    /// Tokens each generation may add.
    public var maxNewTokens: Int

    /// Sizes the run from the task files and the SAE folder only (no model is read). A missing file or
    /// folder is the run's own error to report, so it throws here exactly as the run would.
    public static func estimate(collection: CollectionConfiguration, evaluation: EvaluationOptions) throws -> RunPlan {
        let task = try TaskSetup.load(collection, validationLimit: evaluation.validationLimit, testLimit: evaluation.testLimit)
        var train = task.splits.train.count
        if let shard = collection.shard { train = shard.range(of: train).count }
        var layers = collection.layers?.count
        if layers == nil, let sae = collection.sae {
            layers = (try? SAESet.discover(path: URL(fileURLWithPath: sae)))?.count
        }
        let pruned = evaluation.strategies.contains(.pruned)
        let sweeps = (evaluation.scaleSweep?.count ?? 0)
            + (evaluation.comparisons.contains(.diffMean) ? (evaluation.scaleSweep ?? EvaluationOptions.defaultSweep).count : 0)
        var plan = RunPlan(trainSamples: train, layers: layers,
                           validationSamples: pruned || sweeps > 0 ? task.splits.validation.count : 0,
                           testSamples: task.splits.test.count,
                           variants: ["baseline"] + evaluation.strategies.map(\.rawValue) + evaluation.comparisons.map(\.rawValue),
                           maxNewTokens: collection.maxNewTokens ?? task.descriptor.maxNewTokens)
        plan.sweepScales = sweeps
        plan.validatesLayers = pruned
        plan.seeds = evaluation.seeds
        return plan
    }

    /// Generations in total; nil when the layer count is unknown and P validates.
    public var generations: Int? {
        var passes = sweepScales
        if validatesLayers {
            guard let layers else { return nil }
            passes += layers + 1
        }
        return trainSamples + seeds * (passes * validationSamples + variants.count * testSamples)
    }

    /// One line for stderr before the run starts.
    public var summary: RunMessage {
        var parts = ["collect \(Self.count(trainSamples))"]
        if validatesLayers {
            parts.append("P validation (\(layers.map { "\($0) layers" } ?? "every layer") + baseline) × \(Self.count(validationSamples))")
        }
        if sweepScales > 0 { parts.append("scale sweeps \(sweepScales) × \(Self.count(validationSamples))") }
        parts.append("test \(variants.count) variants (\(variants.joined(separator: ", "))) × \(Self.count(testSamples))")
        if seeds > 1 { parts.append("evaluation × \(seeds) seeds") }
        let total = generations.map { " = \(Self.count($0)) generations" } ?? " generations"
        let shorten: RunMessage = "shorten with \(RunSetting.samples), \(RunSetting.testLimit), \(RunSetting.validationLimit), \(RunSetting.strategies) S,A, \(RunSetting.layers)"
        return "plan: \(parts.joined(separator: ", "))\(total) of up to \(maxNewTokens) new token\(maxNewTokens == 1 ? "" : "s"); \(shorten)"
    }

    /// 12345 → "12,345".
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }
}
