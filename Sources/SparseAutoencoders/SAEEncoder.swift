import Tensors

/// The encoder weight in whichever layout lets it be multiplied without a copy.
enum EncoderWeight {
    /// `[d_in, d_sae]` f32 (SAELens and Gemma Scope `W_enc`): one f32 GEMM.
    case inputMajor(Tensor)
    /// `[d_sae, d_in]` in any dtype (nn.Linear layout, Llama Scope `encoder.weight`): x·Wᵀ.
    case featureMajor(Tensor)

    var tensor: Tensor {
        switch self {
        case let .inputMajor(t), let .featureMajor(t): t
        }
    }
}

/// What follows the product, with every per-feature constant already resolved.
enum EncoderActivation {
    case relu(bias: [Float])
    /// Codes are p where p > thresholds[i] and p > 0.
    case jumpReLU(bias: [Float], thresholds: [Float])
    /// Ranked on p·scales[i] (or p), the kept values are the ranked ones after ReLU.
    case topK(bias: [Float], k: Int, scales: [Float]?)
    /// One product serves both paths: gate on p + b_gate, magnitude ReLU(p·exp(r_mag) + b_mag).
    case gated(gateBias: [Float], magnitudeScale: [Float], magnitudeBias: [Float])
}

/// Input processing, one GEMM with f32 accumulation, then the activation: the whole encode path.
struct SAEEncoder {
    let dIn: Int
    let dSAE: Int
    let weight: EncoderWeight
    let activation: EncoderActivation
    let normalization: SAEInputNormalization
    /// b_dec, subtracted after normalisation when the SAE applies it to its input.
    let inputShift: [Float]?

    /// Bytes of weights this encoder keeps (mapped or owned).
    var byteCount: Int { weight.tensor.byteCount }

    func encode(_ x: UnsafePointer<Float>, rows: Int, into z: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        if normalization == .none && inputShift == nil {
            multiply(x, rows: rows, into: z)
        } else {
            let processed = UnsafeMutablePointer<Float>.allocate(capacity: rows * dIn)
            defer { processed.deallocate() }
            preprocess(x, rows: rows, into: processed)
            multiply(processed, rows: rows, into: z)
        }
        activate(z, rows: rows)
    }

    private func multiply(_ x: UnsafePointer<Float>, rows: Int, into z: UnsafeMutablePointer<Float>) {
        switch weight {
        case let .inputMajor(w):
            MatMul.gemm(x, UnsafePointer(w.floatPointer), into: z, m: rows, k: dIn, n: dSAE)
        case let .featureMajor(w):
            MatMul.linear(x, rows: rows, weight: w, into: z)
        }
    }

    private func preprocess(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let d = dIn
        Parallel.forEach(rows) { r in
            let src = x + r * d, dst = out + r * d
            switch normalization {
            case .none:
                dst.update(from: src, count: d)
            case let .scaled(factor):
                for i in 0..<d { dst[i] = src[i] * factor }
            case .constantNormRescale:
                var sum = 0.0
                for i in 0..<d { sum += Double(src[i]) * Double(src[i]) }
                // A zero row would give NaN codes that poison every later statistic; keep it zero.
                let coefficient = sum > 0 ? Float(Double(d).squareRoot() / sum.squareRoot()) : 0
                for i in 0..<d { dst[i] = src[i] * coefficient }
            case .layerNorm:
                var mean = 0.0
                for i in 0..<d { mean += Double(src[i]) }
                mean /= Double(d)
                var squares = 0.0
                for i in 0..<d { let c = Double(src[i]) - mean; squares += c * c }
                let std = d > 1 ? (squares / Double(d - 1)).squareRoot() : 0
                let scale = 1 / (std + 1e-5)
                for i in 0..<d { dst[i] = Float((Double(src[i]) - mean) * scale) }
            }
            if let shift = inputShift {
                for i in 0..<d { dst[i] -= shift[i] }
            }
        }
    }

    private func activate(_ z: UnsafeMutablePointer<Float>, rows: Int) {
        let n = dSAE
        switch activation {
        case let .relu(bias):
            bias.withUnsafeBufferPointer { b in
                forEachSegment(rows: rows) { row, cols in
                    let p = z + row * n
                    for j in cols { p[j] = max(p[j] + b[j], 0) }
                }
            }
        case let .jumpReLU(bias, thresholds):
            bias.withUnsafeBufferPointer { b in
                thresholds.withUnsafeBufferPointer { t in
                    forEachSegment(rows: rows) { row, cols in
                        let p = z + row * n
                        for j in cols {
                            let v = p[j] + b[j]
                            p[j] = (v > t[j] && v > 0) ? v : 0
                        }
                    }
                }
            }
        case let .gated(gateBias, magnitudeScale, magnitudeBias):
            gateBias.withUnsafeBufferPointer { g in
                magnitudeScale.withUnsafeBufferPointer { s in
                    magnitudeBias.withUnsafeBufferPointer { m in
                        forEachSegment(rows: rows) { row, cols in
                            let p = z + row * n
                            for j in cols {
                                let v = p[j]
                                p[j] = v + g[j] > 0 ? max(v * s[j] + m[j], 0) : 0
                            }
                        }
                    }
                }
            }
        case let .topK(bias, k, scales):
            Parallel.forEach(rows) { row in
                TopKSelection.apply(z + row * n, count: n, k: k, bias: bias, scales: scales)
            }
        }
    }

    /// Visits every (row, column range) of the code matrix, split evenly over the cores even when
    /// there is a single row.
    private func forEachSegment(rows: Int, _ body: (Int, Range<Int>) -> Void) {
        let n = dSAE
        Parallel.forEachChunk(rows * n, grain: 1024) { range in
            var index = range.lowerBound
            while index < range.upperBound {
                let row = index / n, column = index % n
                let end = min(n, column + (range.upperBound - index))
                body(row, column..<end)
                index += end - column
            }
        }
    }
}

/// Top-k per row: a size-k min-heap of (value, index) over the row, then everything else zeroed.
/// Ties keep the lower feature index.
enum TopKSelection {
    static func apply(_ row: UnsafeMutablePointer<Float>, count n: Int, k: Int, bias: [Float], scales: [Float]?) {
        for j in 0..<n {
            let p = row[j] + bias[j]
            row[j] = scales.map { p * $0[j] } ?? p
        }
        let keep = min(k, n)
        guard keep < n else {
            for j in 0..<n { row[j] = max(row[j], 0) }
            return
        }
        guard keep > 0 else {
            row.update(repeating: 0, count: n)
            return
        }
        var heap = MinHeap(capacity: keep)
        for j in 0..<n { heap.offer(value: row[j], index: j) }
        let kept = heap.entries
        row.update(repeating: 0, count: n)
        for entry in kept { row[entry.index] = max(entry.value, 0) }
    }

    struct Entry { var value: Float; var index: Int }

    /// Holds the `capacity` largest entries seen; the root is the smallest of them.
    struct MinHeap {
        let capacity: Int
        private(set) var entries: [Entry] = []

        init(capacity: Int) {
            self.capacity = capacity
            entries.reserveCapacity(capacity)
        }

        /// `a` ranks below `b`: smaller value, or equal value and larger index.
        private static func below(_ a: Entry, _ b: Entry) -> Bool {
            a.value < b.value || (a.value == b.value && a.index > b.index)
        }

        mutating func offer(value: Float, index: Int) {
            let entry = Entry(value: value, index: index)
            if entries.count < capacity {
                entries.append(entry)
                var child = entries.count - 1
                while child > 0 {
                    let parent = (child - 1) / 2
                    guard Self.below(entries[child], entries[parent]) else { break }
                    entries.swapAt(child, parent)
                    child = parent
                }
            } else if Self.below(entries[0], entry) {
                entries[0] = entry
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var smallest = parent
                    if left < capacity, Self.below(entries[left], entries[smallest]) { smallest = left }
                    if right < capacity, Self.below(entries[right], entries[smallest]) { smallest = right }
                    if smallest == parent { break }
                    entries.swapAt(parent, smallest)
                    parent = smallest
                }
            }
        }
    }
}
