import LanguageModels

/// Turns the residual rows read at one layer's site into feature rows: an SAE encoder, or the
/// identity for `--raw` (statistics over residual dimensions).
public struct FeatureSource {
    public let layer: Int
    public let site: HookSite
    public let width: Int
    /// Encodes `count` rows of the model's hidden size into `count` rows of `width` features.
    public let encode: (_ rows: UnsafePointer<Float>, _ count: Int, _ out: UnsafeMutablePointer<Float>) -> Void

    public init(layer: Int, site: HookSite, width: Int,
                encode: @escaping (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void) {
        self.layer = layer
        self.site = site
        self.width = width
        self.encode = encode
    }

    /// The residual stream itself (`--raw`).
    public static func residual(layer: Int, site: HookSite, hiddenSize: Int) -> FeatureSource {
        FeatureSource(layer: layer, site: site, width: hiddenSize) { rows, count, out in
            out.update(from: rows, count: count * hiddenSize)
        }
    }
}

/// The capture hook of a collection batch: at every requested site it encodes all rows of a forward
/// pass in one call per layer and pools them per sample (method §3).
final class FeatureCollector: ResidualHook {
    let requests: [HookSite: HookPositions]
    private let sourcesBySite: [HookSite: [Int]]
    private let sources: [FeatureSource]
    private let promptLengths: [Int]
    private let positions: PositionMode
    private var pools: [FeaturePooling]
    private var scratch: [Float] = []

    init(sources: [FeatureSource], promptLengths: [Int], positions: PositionMode,
         singlePosition: Bool, pooling: Set<Pooling>) {
        self.sources = sources
        self.promptLengths = promptLengths
        self.positions = positions
        var bySite: [HookSite: [Int]] = [:]
        for (i, source) in sources.enumerated() { bySite[source.site, default: []].append(i) }
        sourcesBySite = bySite
        let hookPositions = positions.hookPositions
        requests = Dictionary(uniqueKeysWithValues: bySite.keys.map { ($0, hookPositions) })
        pools = sources.map {
            FeaturePooling(sequences: promptLengths.count, width: $0.width,
                           firstRowOnly: singlePosition, pools: pooling)
        }
    }

    func observe(site: HookSite, rows: UnsafePointer<Float>, count: Int, width: Int, tags: [RowTag]) {
        guard let indices = sourcesBySite[site], count > 0 else { return }
        for index in indices {
            let source = sources[index]
            let needed = count * source.width
            if scratch.count < needed { scratch = [Float](repeating: 0, count: needed) }
            scratch.withUnsafeMutableBufferPointer { out in
                let z = out.baseAddress!
                source.encode(rows, count, z)
                for (r, tag) in tags.enumerated() {
                    let row = UnsafePointer(z + r * source.width)
                    let isGenerationRow = tag.step > 0 || tag.position == promptLengths[tag.sequence] - 1
                    if isGenerationRow {
                        pools[index].observeGenerationRow(row, sequence: tag.sequence, step: tag.step)
                    } else {
                        pools[index].observePromptRow(row, sequence: tag.sequence)
                    }
                }
            }
        }
    }

    /// Closes the batch and returns, per source (in the order given), the pooled [B × width] matrices.
    func finish(stoppedOnEOS: [Bool], correlationPool: Pooling, coefficientPool: Pooling)
        -> [(correlation: [Float], coefficient: [Float])]
    {
        (0..<pools.count).map { i in
            pools[i].finish(stoppedOnEOS: stoppedOnEOS)
            let correlation = pools[i].pooled(correlationPool)
            let coefficient = correlationPool == coefficientPool ? correlation : pools[i].pooled(coefficientPool)
            return (correlation, coefficient)
        }
    }
}
