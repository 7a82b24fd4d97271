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

    public init(sources: [FeatureSource], positions: PositionMode, singlePosition: Bool,
                correlationPool: Pooling, coefficientPool: Pooling) {
        self.sources = sources
        self.positions = positions
        self.singlePosition = singlePosition
        self.correlationPool = correlationPool
        self.coefficientPool = coefficientPool
    }

    /// Runs one batch. `generate` produces the outputs with the given hooks attached, `score` turns
    /// them into rewards; `pooled` sees each layer's pooled correlation rows (for `--dump-pooled`).
    public func run<Output>(
        promptLengths: [Int],
        generate: (_ hooks: [ResidualHook]) throws -> [Output],
        stoppedOnEOS: (Output) -> Bool,
        score: ([Output]) throws -> [Double],
        into statistics: inout [Int: FeatureStatistics],
        pooled: (_ layer: Int, _ rows: [Float]) -> Void = { _, _ in }
    ) throws -> (outputs: [Output], rewards: [Double]) {
        let collector = FeatureCollector(
            sources: sources, promptLengths: promptLengths, positions: positions,
            singlePosition: singlePosition, pooling: [correlationPool, coefficientPool])
        let outputs = try generate([collector])
        let rewards = try score(outputs)
        let rows = collector.finish(stoppedOnEOS: outputs.map(stoppedOnEOS),
                                    correlationPool: correlationPool, coefficientPool: coefficientPool)
        for (source, layerRows) in zip(sources, rows) {
            guard statistics[source.layer] != nil else { throw StepError.missingLayer(source.layer) }
            try statistics[source.layer]!.add(
                correlationRows: layerRows.correlation, coefficientRows: layerRows.coefficient, rewards: rewards)
            pooled(source.layer, layerRows.correlation)
        }
        return (outputs, rewards)
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
