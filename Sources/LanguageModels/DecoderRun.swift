import Tensors

/// One generation or forward job: the KV cache for its sequences, reusable activation buffers, and the
/// hooks by site. `pass` runs the decoder stack once over a ragged set of segments: all rows go through
/// the linear layers as one matrix, attention is per sequence.
final class DecoderRun {
    private struct HookEntry {
        let hook: ResidualHook
        let positions: HookPositions
    }

    enum LogitRows {
        /// The last row of every segment that ends its sequence's input.
        case inputEnds
        /// Every row.
        case all
        case none
    }

    let model: LanguageModel
    let cache: KVCache
    private let attention: [Attention]
    private let preHooks: [[HookEntry]]
    private let postHooks: [[HookEntry]]
    private var capacity = 0
    private let hidden = Buffer<Float>(), normed = Buffer<Float>(), query = Buffer<Float>(), key = Buffer<Float>()
    private let value = Buffer<Float>(), mixed = Buffer<Float>(), projected = Buffer<Float>(), gate = Buffer<Float>()
    private let up = Buffer<Float>(), cos = Buffer<Float>(), sin = Buffer<Float>(), positions = Buffer<Int32>()
    /// The sliding layers' rotary table, when the model has a separate one.
    private let slidingCos = Buffer<Float>(), slidingSin = Buffer<Float>()

    /// `lengths[s]` is the most positions sequence s will hold.
    convenience init(model: LanguageModel, lengths: [Int], hooks: [ResidualHook]) throws {
        try self.init(model: model, cache: KVCache(config: model.config, lengths: lengths), hooks: hooks)
    }

    /// A run over an existing cache (several runs with different hook positions may share one).
    init(model: LanguageModel, cache: KVCache, hooks: [ResidualHook]) throws {
        self.model = model
        let c = model.config
        self.cache = cache
        attention = (0..<c.layerCount).map { l in
            Attention(heads: c.attentionHeadCount, keyValueHeads: c.keyValueHeadCount, headDimension: c.headDimension,
                      scale: c.attentionScale, softcap: c.attentionLogitSoftcap,
                      window: c.attention(layer: l).window)
        }
        var pre = Array(repeating: [HookEntry](), count: c.layerCount)
        var post = pre
        for hook in hooks {
            // Sorted so that a hook's sites are visited in a fixed order.
            for (site, positions) in hook.requests.sorted(by: { $0.key.name < $1.key.name }) {
                guard site.layer < c.layerCount else {
                    throw LanguageModelError.invalidRequest("hook site \(site.name) does not exist: the model has \(c.layerCount) blocks (0…\(c.layerCount - 1))")
                }
                switch site {
                case let .residPre(layer): pre[layer].append(HookEntry(hook: hook, positions: positions))
                case let .residPost(layer): post[layer].append(HookEntry(hook: hook, positions: positions))
                }
            }
        }
        preHooks = pre
        postHooks = post
    }

    private func reserve(rows: Int) {
        guard rows > capacity else { return }
        let c = model.config
        let q = c.attentionHeadCount * c.headDimension, kv = c.keyValueHeadCount * c.headDimension
        hidden.reserve(rows * c.hiddenSize)
        normed.reserve(rows * max(c.hiddenSize, 1))
        query.reserve(rows * q)
        key.reserve(rows * kv)
        value.reserve(rows * kv)
        mixed.reserve(rows * q)
        projected.reserve(rows * c.hiddenSize)
        gate.reserve(rows * c.intermediateSize)
        up.reserve(rows * c.intermediateSize)
        cos.reserve(rows * c.headDimension / 2)
        sin.reserve(rows * c.headDimension / 2)
        if model.slidingRotary != nil {
            slidingCos.reserve(rows * c.headDimension / 2)
            slidingSin.reserve(rows * c.headDimension / 2)
        }
        positions.reserve(rows)
        capacity = rows
    }

    /// Runs the decoder over `tokens` (one per row, segments laid out in order) and returns the logits of
    /// the rows `logitRows` selects, [n, head rows] row-major, computed with `head` as the LM head.
    func pass(tokens: [Int32], segments: [PassSegment], step: Int, logitRows: LogitRows, head: Tensor) throws -> [Float] {
        let count = try runBlocks(tokens: tokens, segments: segments, step: step, logitRows: logitRows)
        if case .none = logitRows { return [] }
        return OutputHead(weight: head, softcap: model.config.finalLogitSoftcap).logits(normed.pointer, rows: count)
    }

    /// `pass` for greedy decoding: the argmax of each `.inputEnds` row's logits (first on ties), found by
    /// `OutputHead` without computing every logit where it can (`buildScreen`: see `GreedyScreen`).
    func greedyPass(tokens: [Int32], segments: [PassSegment], step: Int, buildScreen: Bool) throws -> [Int] {
        let count = try runBlocks(tokens: tokens, segments: segments, step: step, logitRows: .inputEnds)
        return OutputHead(weight: model.weights.head, softcap: model.config.finalLogitSoftcap)
            .greedyTokens(normed.pointer, rows: count, buildScreen: buildScreen)
    }

    /// The decoder blocks of `pass`; leaves the final-normed hidden states of the rows `logitRows` selects
    /// in `normed` (row-major) and returns how many there are.
    private func runBlocks(tokens: [Int32], segments: [PassSegment], step: Int, logitRows: LogitRows) throws -> Int {
        let c = model.config
        let w = model.weights
        var rows = tokens.count
        let d = c.hiddenSize
        let qWidth = c.attentionHeadCount * c.headDimension, kvWidth = c.keyValueHeadCount * c.headDimension
        reserve(rows: rows)
        let h = hidden.pointer, x = normed.pointer

        for seg in segments {
            for t in 0..<seg.rowCount { positions.pointer[seg.rowStart + t] = Int32(seg.position + t) }
        }
        let embedding = w.embedding, scale = model.embeddingScale
        tokens.withUnsafeBufferPointer { ids in
            Parallel.forEachChunk(rows, grain: 16) { range in
                for r in range {
                    let id = Int(ids[r])
                    embedding.copyFloats(range: id * d..<(id + 1) * d, into: h + r * d)
                    if let scale { VectorMath.scale(h + r * d, by: scale, count: d) }
                }
            }
        }
        model.rotary.table(positions: positions.pointer, count: rows, cos: cos.pointer, sin: sin.pointer)
        model.slidingRotary?.table(positions: positions.pointer, count: rows, cos: slidingCos.pointer, sin: slidingSin.pointer)

        // Rows whose final hidden state is read: by the LM head, or by no one.
        var selected: [Int]
        switch logitRows {
        case .none: selected = []
        case .all: selected = Array(0..<rows)
        case .inputEnds: selected = segments.filter(\.endsInput).map { $0.rowStart + $0.rowCount - 1 }
        }
        for l in 0..<c.layerCount {
            try applyHooks(preHooks[l], site: .residPre(layer: l), segments: segments, step: step, rows: rows)
            let layer = w.layers[l]
            norm(h, rows: rows, scale: layer.attentionNorm, into: x)
            MatMul.linear(x, rows: rows, weights: [layer.query, layer.key, layer.value],
                          into: [query.pointer, key.pointer, value.pointer])
            if let bias = layer.queryBias { addBias(bias, to: query.pointer, rows: rows) }
            if let bias = layer.keyBias { addBias(bias, to: key.pointer, rows: rows) }
            if let bias = layer.valueBias { addBias(bias, to: value.pointer, rows: rows) }
            // q/k norms act on each head's vector, i.e. on rows of head_dim values.
            if let scale = layer.queryNorm {
                norm(query.pointer, rows: rows * c.attentionHeadCount, width: c.headDimension, scale: scale, into: query.pointer)
            }
            if let scale = layer.keyNorm {
                norm(key.pointer, rows: rows * c.keyValueHeadCount, width: c.headDimension, scale: scale, into: key.pointer)
            }
            let slidingTable = c.slidingWindowLayers[l] ? model.slidingRotary : nil
            let rotary = slidingTable ?? model.rotary
            let (cosine, sine) = slidingTable == nil ? (cos.pointer, sin.pointer) : (slidingCos.pointer, slidingSin.pointer)
            rotary.apply(to: query.pointer, rows: rows, heads: c.attentionHeadCount, rowStride: qWidth, cos: cosine, sin: sine)
            rotary.apply(to: key.pointer, rows: rows, heads: c.keyValueHeadCount, rowStride: kvWidth, cos: cosine, sin: sine)
            attention[l](layer: l, segments: segments, cache: cache, q: query.pointer, k: key.pointer, v: value.pointer, out: mixed.pointer)
            cache.store(layer: l, segments: segments, k: key.pointer, v: value.pointer)
            if l == c.layerCount - 1, postHooks[l].isEmpty, selected.count < rows {
                // The last block's keys and values are cached for every row; the rest of the block only
                // matters for the rows the LM head reads (3.4 % of Gemma-2-2B's product FLOPs for a
                // prompt). Every product and norm is row-independent, so those rows get the same numbers
                // as in the full block. Selected rows ascend, so each moves down onto a row already used
                // or itself.
                for (i, r) in selected.enumerated() where i != r {
                    (h + i * d).update(from: h + r * d, count: d)
                    (mixed.pointer + i * qWidth).update(from: mixed.pointer + r * qWidth, count: qWidth)
                }
                rows = selected.count
                selected = Array(0..<rows)
                if rows == 0 { break }
            }
            MatMul.linear(mixed.pointer, rows: rows, weight: layer.output, into: projected.pointer)
            if let post = layer.postAttentionNorm { norm(projected.pointer, rows: rows, scale: post, into: projected.pointer) }
            VectorMath.add(projected.pointer, into: h, count: rows * d)

            norm(h, rows: rows, scale: layer.feedForwardNorm, into: x)
            MatMul.linear(x, rows: rows, weights: [layer.gate, layer.up], into: [gate.pointer, up.pointer])
            switch c.activation {
            case .geluTanh: Activations.geluTanhGated(gate.pointer, up: up.pointer, count: rows * c.intermediateSize)
            case .silu: Activations.siluGated(gate.pointer, up: up.pointer, count: rows * c.intermediateSize)
            }
            MatMul.linear(gate.pointer, rows: rows, weight: layer.down, into: projected.pointer)
            if let post = layer.postFeedForwardNorm { norm(projected.pointer, rows: rows, scale: post, into: projected.pointer) }
            VectorMath.add(projected.pointer, into: h, count: rows * d)
            try applyHooks(postHooks[l], site: .residPost(layer: l), segments: segments, step: step, rows: rows)
        }

        if case .none = logitRows { return 0 }
        for (i, r) in selected.enumerated() { (x + i * d).update(from: h + r * d, count: d) }
        norm(x, rows: selected.count, scale: w.finalNorm, into: x)
        return selected.count
    }

    private func norm(_ input: UnsafePointer<Float>, rows: Int, width: Int? = nil, scale: [Float],
                      into output: UnsafeMutablePointer<Float>) {
        scale.withUnsafeBufferPointer { s in
            RMSNorm.apply(input, rows: rows, width: width ?? model.config.hiddenSize, scale: s.baseAddress!,
                          epsilon: model.config.rmsNormEpsilon, into: output)
        }
    }

    /// Adds `bias` to each of `rows` rows of `bias.count` values.
    private func addBias(_ bias: [Float], to x: UnsafeMutablePointer<Float>, rows: Int) {
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows { VectorMath.add(b.baseAddress!, into: x + r * b.count, count: b.count) }
        }
    }

    /// Lets each hook at `site` observe the selected rows, then adds its vectors to them, in hook order.
    private func applyHooks(_ entries: [HookEntry], site: HookSite, segments: [PassSegment], step: Int, rows: Int) throws {
        guard !entries.isEmpty else { return }
        let d = model.config.hiddenSize
        let h = hidden.pointer
        for entry in entries {
            var tags: [RowTag] = []
            let all = entry.positions == .all
            for seg in segments where all || seg.endsInput {
                let first = all ? 0 : seg.rowCount - 1
                for t in first..<seg.rowCount {
                    tags.append(RowTag(sequence: seg.sequence, position: seg.position + t, step: step))
                }
            }
            guard !tags.isEmpty else { continue }
            if all {
                entry.hook.observe(site: site, rows: h, count: rows, width: d, tags: tags)
            } else {
                // `normed` is free between blocks; gather the generation rows there.
                var i = 0
                for seg in segments where seg.endsInput {
                    (normed.pointer + i * d).update(from: h + (seg.rowStart + seg.rowCount - 1) * d, count: d)
                    i += 1
                }
                entry.hook.observe(site: site, rows: normed.pointer, count: tags.count, width: d, tags: tags)
            }
            for seg in segments where all || seg.endsInput {
                guard let vector = entry.hook.addition(site: site, sequence: seg.sequence) else { continue }
                guard vector.count == d else {
                    throw LanguageModelError.invalidRequest("hook at \(site.name) returned a vector of \(vector.count) values for sequence \(seg.sequence); the model's hidden size is \(d)")
                }
                let first = all ? 0 : seg.rowCount - 1
                vector.withUnsafeBufferPointer { v in
                    for t in first..<seg.rowCount { VectorMath.add(v.baseAddress!, into: h + (seg.rowStart + t) * d, count: d) }
                }
            }
        }
    }
}

/// A growable, uninitialised scratch array (from `ScratchPool`, so a new run reuses the last one's pages).
final class Buffer<Element> {
    private(set) var pointer = ScratchPool.shared.take(Element.self, count: 1)
    private(set) var count = 1

    func reserve(_ n: Int) {
        guard n > count else { return }
        ScratchPool.shared.release(pointer)
        pointer = ScratchPool.shared.take(Element.self, count: n)
        count = n
    }

    deinit { ScratchPool.shared.release(pointer) }
}
