/// How the feature rows of one sample's generation positions become one vector (method §3.2).
public enum Pooling: String, Codable, Sendable, CaseIterable {
    case max, mean
}

/// Pools one layer's feature rows per sample while a batch generates.
///
/// A row observed at decode step t predicts generated token t, and it counts only if that token is
/// not a stop token (method §3.2: rows up to the first EOS/pad are pooled, the row that predicted the
/// EOS is not). Whether token t was a stop token is known only later, so the latest row of each
/// sequence waits in `pending` and is committed when the sequence is fed again, or at the end when
/// generation stopped on the length limit rather than on EOS. Select tasks pool exactly one row
/// (the prefill position), whatever was generated.
public struct FeaturePooling {
    public let sequences: Int
    public let width: Int
    public let firstRowOnly: Bool
    let needsMax: Bool
    let needsSum: Bool

    private(set) var maxima: [Float]
    private(set) var sums: [Float]
    private(set) var counts: [Int]
    private var pending: [Float]
    private var hasPending: [Bool]

    public init(sequences: Int, width: Int, firstRowOnly: Bool, pools: Set<Pooling>) {
        self.sequences = sequences
        self.width = width
        self.firstRowOnly = firstRowOnly
        needsMax = pools.contains(.max)
        needsSum = pools.contains(.mean)
        maxima = needsMax ? [Float](repeating: -.infinity, count: sequences * width) : []
        sums = needsSum ? [Float](repeating: 0, count: sequences * width) : []
        counts = [Int](repeating: 0, count: sequences)
        pending = [Float](repeating: 0, count: sequences * width)
        hasPending = [Bool](repeating: false, count: sequences)
    }

    /// A generation-position row of `sequence` at decode `step` (0 = prefill).
    public mutating func observeGenerationRow(_ row: UnsafePointer<Float>, sequence: Int, step: Int) {
        if firstRowOnly && step > 0 { return }
        if hasPending[sequence] { commitPending(sequence) }
        let base = sequence * width
        pending.withUnsafeMutableBufferPointer { buffer in
            (buffer.baseAddress! + base).update(from: row, count: width)
        }
        hasPending[sequence] = true
    }

    /// A prompt row that is not a generation position (positions `all`): always pooled.
    public mutating func observePromptRow(_ row: UnsafePointer<Float>, sequence: Int) {
        commit(row, sequence: sequence)
    }

    /// Ends the batch: `stoppedOnEOS[b]` tells whether sequence b's last generated token was a stop token.
    public mutating func finish(stoppedOnEOS: [Bool]) {
        for b in 0..<sequences where hasPending[b] {
            if firstRowOnly || !stoppedOnEOS[b] { commitPending(b) }
            hasPending[b] = false
        }
    }

    /// The pooled vectors, [sequences × width] row-major; a sample with no valid row pools to zeros.
    public func pooled(_ pooling: Pooling) -> [Float] {
        var out = [Float](repeating: 0, count: sequences * width)
        for b in 0..<sequences where counts[b] > 0 {
            let base = b * width
            switch pooling {
            case .max:
                precondition(needsMax, "max pooling was not requested")
                for i in 0..<width { out[base + i] = maxima[base + i] }
            case .mean:
                precondition(needsSum, "mean pooling was not requested")
                let scale = 1 / Float(counts[b])
                for i in 0..<width { out[base + i] = sums[base + i] * scale }
            }
        }
        return out
    }

    private mutating func commitPending(_ sequence: Int) {
        let base = sequence * width
        let row = pending
        row.withUnsafeBufferPointer { commit($0.baseAddress! + base, sequence: sequence) }
        hasPending[sequence] = false
    }

    private mutating func commit(_ row: UnsafePointer<Float>, sequence: Int) {
        let base = sequence * width
        if needsMax {
            maxima.withUnsafeMutableBufferPointer { m in
                for i in 0..<width where row[i] > m[base + i] { m[base + i] = row[i] }
            }
        }
        if needsSum {
            sums.withUnsafeMutableBufferPointer { s in
                for i in 0..<width { s[base + i] += row[i] }
            }
        }
        counts[sequence] += 1
    }
}
