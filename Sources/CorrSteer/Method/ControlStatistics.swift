import Tensors

/// What a collection gathers beside the feature statistics so that `evaluate --compare` can build its
/// controls without running the model again (issue: honest comparisons):
///
/// - `shuffled`: the same pooled feature rows added with the rewards permuted inside each batch, so the
///   shuffled-labels control repeats CorrSteer's selection on labels that carry no information about
///   the sample, with the same statistics machinery. Rewards cannot be permuted over the whole split in
///   one streaming pass (a sample's rows are gone before later rewards exist); the train split is
///   shuffled, so a batch is a random subset and a permutation inside it breaks every sample–label pair.
///   Each batch uses a random cyclic permutation (Sattolo), which leaves no sample with its own reward;
///   a batch of one sample cannot be permuted and is left out of these statistics. `permutationCount`
///   independent permutations are gathered, so that evaluation seed k repeats the control on its own
///   labels (permutation k mod the count) instead of the same selection in every seed.
/// - `residual`: the pooled residual stream itself at each layer's site (hidden-size "features"), whose
///   success and failure means give the DiffMean direction μ₊ − μ₋ at the same layers and positions.
public struct ControlStatistics: Equatable, Sendable {
    /// Permutations a collection gathers (one per evaluation seed of the default `--seeds 5`).
    public static let permutationCount = 5

    /// Per permutation, per layer.
    public var shuffled: [[Int: FeatureStatistics]]
    public var residual: [Int: FeatureStatistics]

    public init(shuffled: [[Int: FeatureStatistics]], residual: [Int: FeatureStatistics]) {
        self.shuffled = shuffled
        self.residual = residual
    }

    /// Empty statistics for `sources` (feature widths) at a model of `hiddenSize`.
    public init(sources: [FeatureSource], hiddenSize: Int, options: FeatureStatisticsOptions) {
        // One instance per permutation, not copies of one: copies share storage until the first batch
        // writes them, and that batch then paid for copying every accumulator (~0.3 s of a Gemma-2-2B
        // collection).
        shuffled = (0 ..< Self.permutationCount).map { _ in
            Dictionary(uniqueKeysWithValues: sources.map {
                ($0.layer, FeatureStatistics(featureCount: $0.width, options: options))
            })
        }
        residual = Dictionary(uniqueKeysWithValues: sources.map {
            ($0.layer, FeatureStatistics(featureCount: hiddenSize))
        })
    }

    public var layers: [Int] { residual.keys.sorted() }

    public mutating func merge(_ other: ControlStatistics) throws {
        guard other.shuffled.map({ Set($0.keys) }) == shuffled.map({ Set($0.keys) }),
              Set(other.residual.keys) == Set(residual.keys) else {
            throw FeatureStatisticsError.incompatibleMerge("control statistics cover layers \(other.layers) in \(other.shuffled.count) permutations vs \(layers) in \(shuffled.count)")
        }
        for (k, byLayer) in other.shuffled.enumerated() {
            for (layer, stats) in byLayer { try shuffled[k][layer]!.merge(stats) }
        }
        for (layer, stats) in other.residual { try residual[layer]!.merge(stats) }
    }

    /// Adds one batch of one layer: the feature rows with each of the batch's `permuted` rewards (nil for
    /// a batch of one sample, which is left out; see `permutations`) and the residual rows with the true
    /// rewards. Rows are `rewards.count` × width, row-major, per view.
    public mutating func add(layer: Int, features: (correlation: [Float], coefficient: [Float]),
                             residual: (correlation: [Float], coefficient: [Float]),
                             rewards: [Double], permuted: [[Double]]?) throws {
        guard shuffled.allSatisfy({ $0[layer] != nil }), self.residual[layer] != nil else {
            throw FeatureStatisticsError.shapeMismatch("no control statistics for layer \(layer)")
        }
        if let permuted {
            guard permuted.count == shuffled.count else {
                throw FeatureStatisticsError.shapeMismatch("\(permuted.count) reward permutations for \(shuffled.count) shuffled statistics")
            }
            for (k, rewards) in permuted.enumerated() {
                try shuffled[k][layer]!.add(correlationRows: features.correlation, coefficientRows: features.coefficient,
                                            rewards: rewards)
            }
        }
        try self.residual[layer]!.add(correlationRows: residual.correlation, coefficientRows: residual.coefficient,
                                      rewards: rewards)
    }

    /// The batch's rewards under every permutation the statistics gather; nil for a batch of one sample.
    public static func permutations(_ rewards: [Double], batchStart: Int, seed: Int) -> [[Double]]? {
        guard rewards.count >= 2 else { return nil }
        return (0 ..< permutationCount).compactMap { permutedRewards(rewards, batchStart: batchStart, seed: seed, permutation: $0) }
    }

    /// Permutation `permutation` of `rewards` for the batch whose first sample has index `batchStart` in
    /// the run's train slice: a Sattolo shuffle driven by
    /// `SplitMix64(seed: seed + permutation, stream: batchStart)`, so a resumed run permutes every batch
    /// the same way. Nil for a batch of one sample.
    public static func permutedRewards(_ rewards: [Double], batchStart: Int, seed: Int, permutation: Int = 0) -> [Double]? {
        guard rewards.count >= 2 else { return nil }
        var rng = SplitMix64(seed: UInt64(bitPattern: Int64(seed)) &+ UInt64(permutation), stream: batchStart)
        var order = Array(rewards.indices)
        var i = order.count - 1
        while i > 0 {
            let j = Int(rng.next() % UInt64(i))  // j < i: Sattolo's rule, one cycle through every index
            order.swapAt(i, j)
            i -= 1
        }
        return order.map { rewards[$0] }
    }
}
