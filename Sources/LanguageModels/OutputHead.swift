import Tensors

/// The LM head over final-normed hidden rows: all logits (soft-capped where the model caps them), or
/// only the greedy choice, the first index of the largest logit as `TokenSampler.argmax` picks it.
struct OutputHead {
    let weight: Tensor
    let softcap: Float?

    /// Logits of `rows` rows of `x`, [rows, vocabulary] row-major.
    func logits(_ x: UnsafePointer<Float>, rows: Int) -> [Float] {
        let vocabulary = weight.shape[0]
        var logits = [Float](repeating: 0, count: rows * vocabulary)
        guard rows > 0 else { return logits }
        logits.withUnsafeMutableBufferPointer { out in
            MatMul.linear(x, rows: rows, weight: weight, into: out.baseAddress!)
            if let cap = softcap {
                Parallel.forEachChunk(rows, grain: 1) { range in
                    for i in range { Activations.softcap(out.baseAddress! + i * vocabulary, count: vocabulary, cap: cap) }
                }
            }
        }
        return logits
    }

    /// The argmax of each row's logits. Up to `GreedyScreen.maxRows` rows go through the screen (built
    /// first if `buildScreen`), which computes only the logits that can win, with the bits `logits` gives
    /// them; rows it cannot narrow down, larger batches and heads without a screen take every logit.
    func greedyTokens(_ x: UnsafePointer<Float>, rows: Int, buildScreen: Bool) -> [Int] {
        let d = weight.shape[1], vocabulary = weight.shape[0]
        var picks = [Int?](repeating: nil, count: rows)
        if rows <= GreedyScreen.maxRows, let screen = GreedyScreen(weight: weight, build: buildScreen) {
            for (m, found) in screen.candidates(x, ldx: d, count: rows).enumerated() {
                if let found { picks[m] = pick(x + m * d, among: found) }
            }
        }
        let rest = picks.indices.filter { picks[$0] == nil }
        guard !rest.isEmpty else { return picks.map { $0! } }
        let all: [Float]
        if rest.count == rows {
            all = logits(x, rows: rows)
        } else {
            let gathered = ScratchPool.shared.take(Float.self, count: rest.count * d)
            defer { ScratchPool.shared.release(gathered) }
            for (i, m) in rest.enumerated() { (gathered + i * d).update(from: x + m * d, count: d) }
            all = logits(gathered, rows: rest.count)
        }
        all.withUnsafeBufferPointer { values in
            for (i, m) in rest.enumerated() {
                picks[m] = TokenSampler.argmax(UnsafeBufferPointer(rebasing: values[(i * vocabulary)..<((i + 1) * vocabulary)]))
            }
        }
        return picks.map { $0! }
    }

    /// The winner among the screen's candidates, or nil when soft-capping leaves it too close to what
    /// the rows outside could reach.
    private func pick(_ x: UnsafePointer<Float>, among found: GreedyScreen.Candidates) -> Int? {
        var values = [Float](repeating: 0, count: found.rows.count)
        values.withUnsafeMutableBufferPointer { out in
            MatMul.linear(x, weight: weight, selectedColumns: found.rows, into: out.baseAddress!)
            if let cap = softcap { Activations.softcap(out.baseAddress!, count: out.count, cap: cap) }
        }
        var best = -1, bestValue = -Float.infinity
        for (i, v) in values.enumerated() where v > bestValue {
            best = i
            bestValue = v
        }
        guard best >= 0 else { return nil }
        if let cap = softcap {
            // Rows outside have raw logits below the threshold. Capping is monotone up to its rounding
            // (within 8 ulps of `cap`, GreedyScreenTests), and may squeeze logits close together onto one
            // value; the winner must clear the capped threshold by more than that rounding.
            var limit = Float(found.threshold)
            if Double(limit) < found.threshold { limit = limit.nextUp }
            Activations.softcap(&limit, count: 1, cap: cap)
            guard bestValue > limit + 16 * cap.ulp else { return nil }
        }
        return found.rows[best]
    }
}
