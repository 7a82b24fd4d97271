import Tensors

/// Keys and values of every layer for a batch of sequences, preallocated for each sequence's maximum
/// length. Layers with a sliding window keep only the last `window` positions, in a ring.
///
/// Layout per layer: one block per sequence, inside it one [capacity, headDimension] slab per key/value
/// head, so the keys a head attends to are contiguous.
final class KVCache {
    let keyValueHeads: Int
    let headDimension: Int
    /// capacity[layer][sequence]: positions the block holds.
    let capacity: [[Int]]
    /// offset[layer][sequence]: first float of the sequence's block in the layer buffer.
    let offset: [[Int]]
    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]
    private let sizes: [Int]

    /// `lengths[s]` = the most positions sequence s will ever hold.
    init(config: ModelConfiguration, lengths: [Int]) {
        keyValueHeads = config.keyValueHeadCount
        headDimension = config.headDimension
        var capacity: [[Int]] = [], offset: [[Int]] = [], keys: [UnsafeMutablePointer<Float>] = [], values: [UnsafeMutablePointer<Float>] = []
        var sizes: [Int] = []
        let block = config.keyValueHeadCount * config.headDimension
        for l in 0..<config.layerCount {
            let window = config.attention(layer: l).window
            let caps = lengths.map { n in max(1, window.map { min($0, n) } ?? n) }
            var offs: [Int] = [], total = 0
            for c in caps {
                offs.append(total)
                total += c * block
            }
            capacity.append(caps)
            offset.append(offs)
            sizes.append(total)
            keys.append(ScratchPool.shared.take(Float.self, count: total))
            values.append(ScratchPool.shared.take(Float.self, count: total))
        }
        self.capacity = capacity
        self.offset = offset
        self.keys = keys
        self.values = values
        self.sizes = sizes
    }

    deinit {
        keys.forEach { ScratchPool.shared.release($0) }
        values.forEach { ScratchPool.shared.release($0) }
    }

    /// Pointer to the slab of head `head` of `sequence` in `layer` (keys or values).
    @inline(__always)
    func slab(_ base: [UnsafeMutablePointer<Float>], layer: Int, sequence: Int, head: Int) -> UnsafeMutablePointer<Float> {
        base[layer] + offset[layer][sequence] + head * capacity[layer][sequence] * headDimension
    }

    /// Stores the keys and values of the rows of a pass (`k`, `v` are [rows, kvHeads·headDim]).
    /// Rows are written in order, so a ring ends holding the latest positions.
    /// Segments whose keys no later pass reads are skipped.
    func store(layer: Int, segments: [PassSegment], k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let width = keyValueHeads * headDimension
        let kept = segments.filter(\.keepsKeys)
        guard !kept.isEmpty else { return }
        Parallel.forEach(kept.count) { i in
            let seg = kept[i]
            let cap = capacity[layer][seg.sequence]
            let first = max(0, seg.rowCount - cap)  // earlier rows would be overwritten within this pass
            for t in first..<seg.rowCount {
                let slot = (seg.position + t) % cap
                let row = (seg.rowStart + t) * width
                for g in 0..<keyValueHeads {
                    let kd = slab(keys, layer: layer, sequence: seg.sequence, head: g) + slot * headDimension
                    let vd = slab(values, layer: layer, sequence: seg.sequence, head: g) + slot * headDimension
                    kd.update(from: k + row + g * headDimension, count: headDimension)
                    vd.update(from: v + row + g * headDimension, count: headDimension)
                }
            }
        }
    }
}

/// The rows one sequence contributes to a forward pass.
struct PassSegment {
    /// Index in the request batch (and in the KV cache).
    var sequence: Int
    /// Absolute position of the first row; positions before it are in the cache.
    var position: Int
    /// First row of the segment in the pass's activation matrix.
    var rowStart: Int
    var rowCount: Int
    /// Whether the segment ends the tokens given so far (its last row is a `generation` row and gets logits).
    var endsInput: Bool
    /// Whether a later pass attends to this segment's keys and values, so they go into the cache. A
    /// prompt's last pass, when no token will follow, keeps nothing: the pass reads its own keys from the
    /// projections, and a collection of single-token answers then writes no cache at all (storing it
    /// was 2.8 % of a collection's CPU time, most of it the kernel clearing fresh pages).
    var keepsKeys = true
}
