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

    /// `q` is [rows, heads·d], `k`/`v` [rows, kvHeads·d] (already rotated); writes `out` [rows, heads·d].
    func callAsFunction(
        layer: Int, segments: [PassSegment], cache: KVCache,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        // Work items are (segment, head); balance them over threads by their number of scores.
        var items: [(segment: Int, head: Int, cost: Int)] = []
        for (i, seg) in segments.enumerated() {
            let last = seg.position + seg.rowCount
            let cost = window.map { seg.rowCount * min($0, last) } ?? (seg.rowCount * (seg.position + last + 1) / 2)
            for h in 0..<heads { items.append((i, h, cost * headDimension + 1)) }
        }
        let bins = balancedBins(items.map(\.cost), count: Parallel.threadCount)
        let maxKeys = segments.map { seg in window.map { min($0, seg.position + seg.rowCount) } ?? (seg.position + seg.rowCount) }.max() ?? 0
        Parallel.forEach(bins.count) { b in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(maxKeys, 1) + 8)
            defer { scores.deallocate() }
            for index in bins[b] {
                let item = items[index]
                attendHead(layer: layer, segment: segments[item.segment], head: item.head, cache: cache,
                           q: q, k: k, v: v, out: out, scores: scores)
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
