import Tensors
import Foundation

/// How the next token is chosen from the logits.
public enum Sampling: Sendable, Equatable {
    /// The highest logit (the first one on ties, like `torch.argmax`).
    case greedy
    /// Softmax sampling as transformers orders it: logits / temperature, then top-k, then top-p (nucleus).
    /// nil top-k/top-p mean no filter. Each sequence draws from its own stream derived from `seed` and its
    /// index, so results do not depend on how requests are batched.
    case random(temperature: Float, topK: Int?, topP: Float?, seed: UInt64)

    /// Whether the choice is the argmax (`.greedy`, or sampling at temperature 0).
    var isGreedy: Bool {
        guard case let .random(temperature, _, _, _) = self else { return true }
        return temperature == 0
    }

    func validate() throws {
        guard case let .random(temperature, topK, topP, _) = self else { return }
        guard temperature >= 0, temperature.isFinite else {
            throw LanguageModelError.invalidRequest("temperature must be ≥ 0, got \(temperature)")
        }
        if let topK, topK < 1 { throw LanguageModelError.invalidRequest("top-k must be ≥ 1, got \(topK)") }
        if let topP, !(topP > 0 && topP <= 1) { throw LanguageModelError.invalidRequest("top-p must be in (0, 1], got \(topP)") }
    }
}

/// Picks one index from a row of logits.
struct TokenSampler {
    let sampling: Sampling
    private var generators: [SplitMix64]

    init(sampling: Sampling, sequences: Int) {
        self.sampling = sampling
        if case let .random(_, _, _, seed) = sampling {
            generators = (0..<sequences).map { SplitMix64(seed: seed, stream: $0) }
        } else {
            generators = []
        }
    }

    mutating func pick(_ logits: UnsafeBufferPointer<Float>, sequence: Int) -> Int {
        guard case let .random(temperature, topK, topP, _) = sampling, temperature > 0 else {
            return Self.argmax(logits)
        }
        // Candidates sorted by logit, highest first (ties by index, so the order is deterministic).
        var order = Array(logits.indices)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if let topK, topK < order.count {
            // transformers keeps every logit ≥ the k-th largest.
            let threshold = logits[order[topK - 1]]
            var keep = topK
            while keep < order.count && logits[order[keep]] >= threshold { keep += 1 }
            order.removeSubrange(keep...)
        }
        let scaled = order.map { Double(logits[$0]) / Double(temperature) }
        let top = scaled[0]
        var weights = scaled.map { Foundation.exp($0 - top) }
        if let topP, topP < 1 {
            // transformers drops the tokens whose ascending cumulative probability is ≤ 1 − p, keeping ≥ 1.
            let total = weights.reduce(0, +)
            var ascending = 0.0
            var firstDropped = weights.count
            for i in stride(from: weights.count - 1, to: 0, by: -1) {
                ascending += weights[i] / total
                if ascending <= 1 - Double(topP) { firstDropped = i } else { break }
            }
            weights.removeSubrange(firstDropped...)
        }
        let total = weights.reduce(0, +)
        var u = generators[sequence].nextUnit() * total
        for (i, w) in weights.enumerated() {
            u -= w
            if u < 0 { return order[i] }
        }
        return order[weights.count - 1]
    }

    static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestValue {
            best = i
            bestValue = v
        }
        return best
    }
}
