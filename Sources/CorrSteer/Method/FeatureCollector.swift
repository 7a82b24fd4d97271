import LanguageModels

/// Turns the residual rows read at one layer's site into feature rows: an SAE encoder, or the
/// identity for `--raw` (statistics over residual dimensions).
public struct FeatureSource {
    public let layer: Int
    public let site: HookSite
    public let width: Int
    /// Encodes `count` rows of the model's hidden size into `count` rows of `width` features. A streamed
    /// source opens its SAE's files in the call, which can fail.
    public let encode: (_ rows: UnsafePointer<Float>, _ count: Int, _ out: UnsafeMutablePointer<Float>) throws -> Void

    /// Called when a deferred batch is done with this source: a streamed source closes its SAE.
    public let release: () -> Void

    public init(layer: Int, site: HookSite, width: Int,
                encode: @escaping (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) throws -> Void,
                release: @escaping () -> Void = {}) {
        self.layer = layer
        self.site = site
        self.width = width
        self.encode = encode
        self.release = release
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
///
/// With `deferEncoding` it only copies the rows while the model generates, and `encodeDeferred` encodes
/// them after the batch, one source at a time, so that a streamed memory plan needs one SAE's encoder in
/// memory at a time instead of every layer's at every decode step. The rows are replayed in the order
/// they were observed and the matrix products are row-independent, so both ways give the same bits.
final class FeatureCollector: ResidualHook {
    let requests: [HookSite: HookPositions]
    private let sourcesBySite: [HookSite: [Int]]
    private let sources: [FeatureSource]
    private let promptLengths: [Int]
    private let positions: PositionMode
    private var pools: [FeaturePooling]
    private var scratch: [Float] = []
    private let deferEncoding: Bool
    /// Deferred mode: each site's rows (hidden-size wide) and their tags, in observation order.
    private var captured: [HookSite: (rows: [Float], tags: [RowTag])] = [:]
    /// The first encoding failure (the hook cannot throw); `CollectionStep` rethrows it.
    private(set) var failure: Error?

    /// Rows encoded per call in deferred mode: bounds the codes buffer to this many rows × width.
    static let deferredChunk = 512

    init(sources: [FeatureSource], promptLengths: [Int], positions: PositionMode,
         singlePosition: Bool, pooling: Set<Pooling>, deferEncoding: Bool = false) {
        self.deferEncoding = deferEncoding
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
        guard let indices = sourcesBySite[site], count > 0, failure == nil else { return }
        if deferEncoding {
            captured[site, default: ([], [])].rows.append(contentsOf: UnsafeBufferPointer(start: rows, count: count * width))
            captured[site]!.tags += tags
            return
        }
        for index in indices {
            do {
                try encodeAndPool(index, rows: rows, tags: tags[...])
            } catch {
                failure = error
                return
            }
        }
    }

    /// Deferred mode: encodes every captured row, source by source, and pools them.
    func encodeDeferred() throws {
        if let failure { throw failure }
        for (site, batch) in captured {
            for index in sourcesBySite[site] ?? [] {
                let width = batch.rows.count / max(batch.tags.count, 1)
                var start = 0
                while start < batch.tags.count {
                    let end = min(start + Self.deferredChunk, batch.tags.count)
                    try batch.rows.withUnsafeBufferPointer { all in
                        try encodeAndPool(index, rows: all.baseAddress! + start * width, tags: batch.tags[start ..< end])
                    }
                    start = end
                }
                sources[index].release()
            }
        }
        captured = [:]
    }

    private func encodeAndPool(_ index: Int, rows: UnsafePointer<Float>, tags: ArraySlice<RowTag>) throws {
        let source = sources[index]
        let count = tags.count
        let needed = count * source.width
        if scratch.count < needed { scratch = [Float](repeating: 0, count: needed) }
        try scratch.withUnsafeMutableBufferPointer { out in
            let z = out.baseAddress!
            try source.encode(rows, count, z)
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
