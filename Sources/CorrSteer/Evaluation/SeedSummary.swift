import Foundation
import Tasks
import Tensors

/// `eval/seeds.json`: every variant's accuracy, Δ and SER over the evaluations of `--seeds`, with mean and
/// sample standard deviation, so that a control's effect can be told from seed-to-seed noise.
///
/// ```
/// {"version": 1, "control_seeds": [0, 1, 2],
///  "variants": [{"variant": "A", "accuracy": [0.92, 0.9, 0.93], "delta": [0.52, 0.5, 0.55],
///                "ser": [0, 0, 0.01], "accuracy_mean": 0.9167, "accuracy_sd": 0.0153,
///                "delta_mean": 0.5233, "delta_sd": 0.0252}, ...]}
/// ```
/// `delta` and `ser` are null for the baseline, and `ser` where it is undefined; `*_sd` is null for one seed.
public struct SeedSummary: Codable, Equatable, Sendable {
    public struct Row: Codable, Equatable, Sendable {
        public var variant: String
        public var accuracy: [Double]
        public var delta: [Double?]
        public var sideEffectRatio: [Double?]
        public var accuracyMean: Double
        public var accuracySD: Double?
        public var deltaMean: Double?
        public var deltaSD: Double?

        enum CodingKeys: String, CodingKey {
            case variant, accuracy, delta, sideEffectRatio = "ser"
            case accuracyMean = "accuracy_mean", accuracySD = "accuracy_sd"
            case deltaMean = "delta_mean", deltaSD = "delta_sd"
        }
    }

    public var version = 1
    public var controlSeeds: [UInt64]
    public var variants: [Row]

    enum CodingKeys: String, CodingKey { case version, controlSeeds = "control_seeds", variants }

    /// `perSeed[k]` holds the metrics of evaluation k; variants are matched by name, in seed 0's order.
    public init(_ perSeed: [[VariantMetrics]], controlSeeds: [UInt64]) {
        self.controlSeeds = controlSeeds
        variants = (perSeed.first ?? []).map { first in
            let runs = perSeed.compactMap { $0.first { $0.variant == first.variant } }
            let accuracy = runs.map(\.accuracy)
            let delta = runs.map { $0.comparison?.delta }
            let known = delta.compactMap { $0 }
            return Row(variant: first.variant, accuracy: accuracy, delta: delta,
                       sideEffectRatio: runs.map { $0.comparison?.sideEffectRatio },
                       accuracyMean: Self.mean(accuracy), accuracySD: Self.standardDeviation(accuracy),
                       deltaMean: known.isEmpty ? nil : Self.mean(known), deltaSD: Self.standardDeviation(known))
        }
    }

    public static func load(from url: URL) throws -> SeedSummary { try RunFileCoding.read(SeedSummary.self, from: url) }

    static func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

    /// Sample standard deviation (n − 1); nil below two values.
    static func standardDeviation(_ values: [Double]) -> Double? {
        guard values.count >= 2 else { return nil }
        let m = mean(values)
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }

    /// The held-out items (validation then test) dealt again at random into a validation and a test split
    /// of the same sizes: a Fisher–Yates shuffle drawing `next() % (i + 1)` from
    /// `SplitMix64(seed: seed, stream: 3)`. The train split, on which the features were selected, is
    /// never touched, so no seed evaluates on training items.
    public static func redealHeldOut(_ splits: TaskSplits, seed: UInt64) -> TaskSplits {
        var pool = splits.validation + splits.test
        var rng = SplitMix64(seed: seed, stream: 3)
        var i = pool.count - 1
        while i > 0 {
            pool.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            i -= 1
        }
        var result = splits
        result.validation = Array(pool.prefix(splits.validation.count))
        result.test = Array(pool.dropFirst(splits.validation.count))
        return result
    }
}
