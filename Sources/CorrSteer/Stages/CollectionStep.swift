import LanguageModels

/// One batch of a collection (method §3–4): generate greedily with the capture hook, score the outputs,
/// pool each sample's features and add them to every layer's statistics. `CollectionRun` and
/// `bench collect` both run this, so the benchmark measures the product's loop, not a copy of it.
public struct CollectionStep {
    public let sources: [FeatureSource]
    public let positions: PositionMode
    /// The task scores one position (a letter answer): pool the first generation row only.
    public let singlePosition: Bool
    public let correlationPool: Pooling
    public let coefficientPool: Pooling
    /// The residual stream at each source's site, read for the DiffMean control (empty: no controls).
    public let residualSources: [FeatureSource]
    /// Encode after generation, one source at a time (the streamed memory plan; see `FeatureCollector`).
    public let defersEncoding: Bool

    /// `hiddenSize` turns on the control statistics (`ControlStatistics`): the step then also pools the
    /// residual rows at every site.
    public init(sources: [FeatureSource], positions: PositionMode, singlePosition: Bool,
                correlationPool: Pooling, coefficientPool: Pooling, hiddenSize: Int? = nil, defersEncoding: Bool = false) {
        self.sources = sources
        self.defersEncoding = defersEncoding
        residualSources = hiddenSize.map { d in sources.map { .residual(layer: $0.layer, site: $0.site, hiddenSize: d) } } ?? []
        self.positions = positions
        self.singlePosition = singlePosition
        self.correlationPool = correlationPool
        self.coefficientPool = coefficientPool
    }

    /// Runs one batch. `generate` produces the outputs with the given hooks attached, `score` turns
    /// them into rewards; `pooled` sees each layer's pooled correlation rows (for `--dump-pooled`).
    /// `controls` (when the step reads residuals) receives the shuffled-label and residual statistics;
    /// `batchStart` and `seed` fix the batch's reward permutation.
    public func run<Output>(
        promptLengths: [Int],
        generate: (_ hooks: [ResidualHook]) throws -> [Output],
        stoppedOnEOS: (Output) -> Bool,
        score: ([Output]) throws -> [Double],
        into statistics: inout [Int: FeatureStatistics],
        controls: inout ControlStatistics?,
        batchStart: Int = 0, seed: Int = 0,
        pooled: (_ layer: Int, _ rows: [Float]) -> Void = { _, _ in }
    ) throws -> (outputs: [Output], rewards: [Double]) {
        let readsResiduals = controls != nil && !residualSources.isEmpty
        let collector = FeatureCollector(
            sources: readsResiduals ? sources + residualSources : sources, promptLengths: promptLengths,
            positions: positions, singlePosition: singlePosition, pooling: [correlationPool, coefficientPool],
            deferEncoding: defersEncoding)
        let outputs = try generate([collector])
        if let failure = collector.failure { throw failure }
        if defersEncoding { try collector.encodeDeferred() }
        let rewards = try score(outputs)
        let rows = collector.finish(stoppedOnEOS: outputs.map(stoppedOnEOS),
                                    correlationPool: correlationPool, coefficientPool: coefficientPool)
        // One set of permutations per batch, shared by every layer.
        let permuted = readsResiduals ? ControlStatistics.permutations(rewards, batchStart: batchStart, seed: seed) : nil
        for (index, (source, layerRows)) in zip(sources, rows).enumerated() {
            guard statistics[source.layer] != nil else { throw StepError.missingLayer(source.layer) }
            try statistics[source.layer]!.add(
                correlationRows: layerRows.correlation, coefficientRows: layerRows.coefficient, rewards: rewards)
            if readsResiduals {
                try controls!.add(layer: source.layer, features: layerRows, residual: rows[sources.count + index],
                                  rewards: rewards, permuted: permuted)
            }
            pooled(source.layer, layerRows.correlation)
        }
        return (outputs, rewards)
    }

    /// `run` without control statistics.
    public func run<Output>(
        promptLengths: [Int],
        generate: (_ hooks: [ResidualHook]) throws -> [Output],
        stoppedOnEOS: (Output) -> Bool,
        score: ([Output]) throws -> [Double],
        into statistics: inout [Int: FeatureStatistics],
        pooled: (_ layer: Int, _ rows: [Float]) -> Void = { _, _ in }
    ) throws -> (outputs: [Output], rewards: [Double]) {
        var none: ControlStatistics? = nil
        return try run(promptLengths: promptLengths, generate: generate, stoppedOnEOS: stoppedOnEOS, score: score,
                       into: &statistics, controls: &none, pooled: pooled)
    }

    public enum StepError: Error, CustomStringConvertible {
        case missingLayer(Int)
        public var description: String {
            switch self {
            case let .missingLayer(layer): return "no statistics for layer \(layer)"
            }
        }
    }
}
