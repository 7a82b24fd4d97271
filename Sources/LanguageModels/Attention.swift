import Tensors

/// Causal (optionally sliding-window) grouped-query attention for the rows of a pass, reading earlier
/// positions from the KV cache and the pass's own positions from its fresh keys and values. Scores are
/// computed one query row at a time, so nothing of size [T, T] is ever held.
struct Attention {
    let heads: Int
    let keyValueHeads: Int
    let headDimension: Int
    let scale: Float
    let softcap: Float?
    /// Keys j with j > p − window are visible to query position p (transformers' sliding rule).
    let window: Int?

    /// A contiguous run of keys/values: `count` rows starting at `key`/`value`, `stride` floats apart.
    private struct Run {
        var key: UnsafePointer<Float>
        var value: UnsafePointer<Float>
        var stride: Int
        var count: Int
    }

    /// Segments with at least this many rows (prefill) are computed a block of query rows at a time with
    /// the matrix kernels; shorter ones (decode) row by row, straight from the cache.
    static let blockedRows = 16
    /// Query rows per block: the block's scores are [blockRows, keys], never [rows, keys].
    static let blockRows = 64

    /// `q` is [rows, heads·d], `k`/`v` [rows, kvHeads·d] (already rotated); writes `out` [rows, heads·d].
    func callAsFunction(
        layer: Int, segments: [PassSegment], cache: KVCache,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        // Work items are (segment, head), or (segment, key/value head) for blocked segments, whose query
        // heads share one gathered copy of the keys and values; balance them over threads by their cost.
        var items: [(segment: Int, head: Int, blocked: Bool, cost: Int)] = []
        let group = heads / keyValueHeads
        for (i, seg) in segments.enumerated() {
            let last = seg.position + seg.rowCount
            let cost = window.map { seg.rowCount * min($0, last) } ?? (seg.rowCount * (seg.position + last + 1) / 2)
            if seg.rowCount >= Self.blockedRows {
                for g in 0..<keyValueHeads { items.append((i, g, true, group * cost * headDimension + 1)) }
            } else {
                for h in 0..<heads { items.append((i, h, false, cost * headDimension + 1)) }
            }
        }
        let bins = balancedBins(items.map(\.cost), count: Parallel.threadCount)
        let maxKeys = segments.map { seg in window.map { min($0, seg.position + seg.rowCount) } ?? (seg.position + seg.rowCount) }.max() ?? 0
        Parallel.forEach(bins.count) { b in
            let scores = ScratchPool.shared.take(Float.self, count: max(maxKeys, 1) + 8)
            defer { ScratchPool.shared.release(scores) }
            for index in bins[b] {
                let item = items[index]
                if item.blocked {
                    attendBlocked(layer: layer, segment: segments[item.segment], keyValueHead: item.head, cache: cache,
                                  q: q, k: k, v: v, out: out)
                } else {
                    attendHead(layer: layer, segment: segments[item.segment], head: item.head, cache: cache,
                               q: q, k: k, v: v, out: out, scores: scores)
                }
            }
        }
    }

    /// Every query head of key/value head `g` over a whole segment, a block of query rows at a time:
    /// scores = Q·Kᵀ and output = P·V as matrix products over the keys the block can see (gathered once,
    /// in position order, from the cache and the pass's fresh rows). Rows see keys [lo(p), p].
    private func attendBlocked(
        layer: Int, segment seg: PassSegment, keyValueHead g: Int, cache: KVCache,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        let d = headDimension
        let qWidth = heads * d, kvWidth = keyValueHeads * d
        func lowest(_ p: Int) -> Int { window.map { max(0, p - $0 + 1) } ?? 0 }
        let first = lowest(seg.position), last = seg.position + seg.rowCount - 1
        let count = last - first + 1
        let keys = ScratchPool.shared.take(Float.self, count: count * d)
        let values = ScratchPool.shared.take(Float.self, count: count * d)
        let blockRows = min(Self.blockRows, seg.rowCount)
        let scores = ScratchPool.shared.take(Float.self, count: blockRows * count)
        defer {
            ScratchPool.shared.release(keys)
            ScratchPool.shared.release(values)
            ScratchPool.shared.release(scores)
        }
        // Gather positions [first, last]: cached ones from the ring, the pass's own from k and v.
        let cap = cache.capacity[layer][seg.sequence]
        let cachedKeys = cache.slab(cache.keys, layer: layer, sequence: seg.sequence, head: g)
        let cachedValues = cache.slab(cache.values, layer: layer, sequence: seg.sequence, head: g)
        for j in first...last {
            let dst = (j - first) * d
            if j < seg.position {
                let slot = j % cap
                (keys + dst).update(from: cachedKeys + slot * d, count: d)
                (values + dst).update(from: cachedValues + slot * d, count: d)
            } else {
                let row = seg.rowStart + (j - seg.position)
                (keys + dst).update(from: k + row * kvWidth + g * d, count: d)
                (values + dst).update(from: v + row * kvWidth + g * d, count: d)
            }
        }
        let group = heads / keyValueHeads
        for h in (g * group)..<((g + 1) * group) {
            var t0 = 0
            while t0 < seg.rowCount {
                let t1 = min(seg.rowCount, t0 + blockRows)
                // Key columns this block can see: from the first row's lowest key to the last row's position.
                let c0 = lowest(seg.position + t0) - first, c1 = seg.position + t1 - 1 - first + 1
                let width = c1 - c0
                let queries = q + (seg.rowStart + t0) * qWidth + h * d
                MatMul.linear(queries, ldx: qWidth, rows: t1 - t0, f32Weights: keys + c0 * d, ldw: d, columns: width,
                              depth: d, into: scores, ldy: width, parallel: false)
                for t in t0..<t1 {
                    let p = seg.position + t
                    let lo = lowest(p) - first - c0, hi = p - first - c0 + 1
                    let row = scores + (t - t0) * width
                    let visible = row + lo
                    VectorMath.scale(visible, by: scale, count: hi - lo)
                    if let softcap { Activations.softcap(visible, count: hi - lo, cap: softcap) }
                    Softmax.apply(visible, count: hi - lo)
                    if lo > 0 { row.update(repeating: 0, count: lo) }
                    if hi < width { (row + hi).update(repeating: 0, count: width - hi) }
                }
                MatMul.gemm(scores, lda: width, values + c0 * d, ldb: d, into: out + (seg.rowStart + t0) * qWidth + h * d,
                            ldc: qWidth, m: t1 - t0, k: width, columns: 0..<d, parallel: false)
                t0 = t1
            }
        }
    }

    private func attendHead(
        layer: Int, segment seg: PassSegment, head h: Int, cache: KVCache,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        scores: UnsafeMutablePointer<Float>
    ) {
        let d = headDimension
        let g = h / (heads / keyValueHeads)
        let qWidth = heads * d, kvWidth = keyValueHeads * d
        let cap = cache.capacity[layer][seg.sequence]
        let cachedKeys = UnsafePointer(cache.slab(cache.keys, layer: layer, sequence: seg.sequence, head: g))
        let cachedValues = UnsafePointer(cache.slab(cache.values, layer: layer, sequence: seg.sequence, head: g))
        withUnsafeTemporaryAllocation(of: Run.self, capacity: 3) { runs in
            for t in 0..<seg.rowCount {
                let p = seg.position + t
                let lo = window.map { max(0, p - $0 + 1) } ?? 0
                // Up to three runs: the cached positions [lo, position) (a ring wraps at most once), then the
                // fresh ones of this pass.
                var runCount = 0
                var j = lo
                while j < seg.position {
                    let slot = j % cap
                    let n = min(seg.position - j, cap - slot)
                    runs[runCount] = Run(key: cachedKeys + slot * d, value: cachedValues + slot * d, stride: d, count: n)
                    runCount += 1
                    j += n
                }
                let freshLo = max(lo, seg.position)
                let freshRow = seg.rowStart + (freshLo - seg.position)
                runs[runCount] = Run(key: k + freshRow * kvWidth + g * d, value: v + freshRow * kvWidth + g * d,
                                     stride: kvWidth, count: p - freshLo + 1)
                runCount += 1

                let query = q + (seg.rowStart + t) * qWidth + h * d
                var n = 0
                for r in 0..<runCount {
                    let run = runs[r]
                    for c in 0..<run.count {
                        scores[n] = VectorMath.dot(query, run.key + c * run.stride, count: d) * scale
                        n += 1
                    }
                }
                if let softcap { Activations.softcap(scores, count: n, cap: softcap) }
                Softmax.apply(scores, count: n)
                let o = out + (seg.rowStart + t) * qWidth + h * d
                o.initialize(repeating: 0, count: d)
                n = 0
                for r in 0..<runCount {
                    let run = runs[r]
                    for c in 0..<run.count {
                        VectorMath.addScaled(run.value + c * run.stride, scores[n], into: o, count: d)
                        n += 1
                    }
                }
            }
        }
    }
}

/// Splits items into `count` groups of similar total cost (longest-processing-time-first).
func balancedBins(_ costs: [Int], count: Int) -> [[Int]] {
    let n = max(1, min(count, costs.count))
    var bins = Array(repeating: [Int](), count: n)
    var loads = Array(repeating: 0, count: n)
    for i in costs.indices.sorted(by: { costs[$0] > costs[$1] }) {
        let b = loads.indices.min { loads[$0] < loads[$1] }!
        bins[b].append(i)
        loads[b] += costs[i]
    }
    return bins
}
