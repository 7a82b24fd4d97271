import Foundation
import Tensors

/// How activations are binned for the histogram mutual-information score (method §4.1, §4.3).
///
/// The reference builds its 22 edges as `10^(d + k/4)` for d = −6…0, k = 1…3, then appends 1.0, and bins
/// with `torch.bucketize`, whose binary search assumes sorted edges. The list is not sorted (10^0.25…10^0.75
/// come before the trailing 1.0: method §11 bug 7), so activations above 10^−0.25 land in bins that do not
/// correspond to value ranges.
public enum MutualInformationBinning: String, Codable, Sendable, CaseIterable {
    /// The same 22 edges, sorted ascending: bin b holds values in (edges[b−1], edges[b]] (our default).
    case sorted
    /// The reference's unsorted edge list searched exactly as `torch.bucketize(x, edges)` searches it
    /// (lower-bound binary search), reproducing its bin assignment value for value (`--paper-compat`).
    case paperUnsorted = "paper-unsorted"

    /// The reference's edge list in its original (unsorted) order, as float32 like the reference tensor.
    public static let referenceEdges: [Float] = {
        var edges: [Float] = []
        for decade in -6...0 {
            for step in 1...3 { edges.append(Float(pow(10.0, Double(decade) + Double(step) / 4.0))) }
        }
        edges.append(1.0)
        return edges
    }()

    /// The edges this binning searches, in search order.
    public var edges: [Float] {
        switch self {
        case .sorted: Self.referenceEdges.sorted()
        case .paperUnsorted: Self.referenceEdges
        }
    }

    /// Number of bins: one more than the number of edges.
    public var binCount: Int { Self.referenceEdges.count + 1 }
}

/// Options fixed when a `FeatureStatistics` is created; two statistics merge only if their options match.
public struct FeatureStatisticsOptions: Codable, Equatable, Sendable {
    /// Keep per-feature activation histograms split by outcome for the `mi` score; `nil` disables them
    /// (then `mutualInformation()` falls back to the Gaussian formula, as the reference does).
    public var mutualInformationBinning: MutualInformationBinning?

    public init(mutualInformationBinning: MutualInformationBinning? = nil) {
        self.mutualInformationBinning = mutualInformationBinning
    }
}

/// Something about the collected samples that makes a statistic undefined; reported instead of NaN.
public enum StatisticsWarning: Equatable, Sendable, CustomStringConvertible {
    case noSamples
    /// All rewards are equal, so Pearson r is undefined (reported as 0 for every feature).
    case constantRewards(value: Double, samples: Int64)
    /// No sample has reward > 0: coefficients (means over correct samples) are 0.
    case noSuccesses
    /// No sample has reward == 0.
    case noFailures

    public var description: String {
        switch self {
        case .noSamples:
            return "no samples were collected"
        case let .constantRewards(value, samples):
            return "all \(samples) rewards equal \(value): correlation is undefined and reported as 0"
        case .noSuccesses:
            return "no sample has reward > 0: coefficients (means over correct samples) are 0"
        case .noFailures:
            return "no sample has reward 0: failure means are 0"
        }
    }
}

public enum FeatureStatisticsError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case invalidReward(index: Int, value: Double)
    case incompatibleMerge(String)
    case invalidFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(reason): return "feature statistics: \(reason)"
        case let .invalidReward(index, value): return "feature statistics: reward \(index) is \(value); rewards must be finite"
        case let .incompatibleMerge(reason): return "cannot merge feature statistics: \(reason)"
        case let .invalidFile(path, reason): return "\(path): \(reason)"
        }
    }
}

/// Streaming per-feature statistics of one layer (method §4): float64 power sums and int64 counts whose
/// size depends on the number of features only, never on the number of samples.
///
/// Each sample contributes two pooled activation vectors: `correlation` rows (pooled with `--pool`) feed
/// Pearson r, frequencies and the histograms; `coefficient` rows (pooled with `--steer-pool`) feed the
/// success/failure sums behind coefficients, Fisher and contrastive scores. A sample is a *success*
/// when its reward is > 0 and a *failure* when it is exactly 0, as in the reference.
///
/// The active-only sums behind `--coefficient active-mean` (the reference's `--real`) are always kept:
/// they are cheap, and the coefficient can then be chosen after collection.
///
/// The reference calls its accumulator "Welford" but sums raw powers in float64; so do we. All sums are
/// exact additions, so `merge` is associative (up to float64 rounding order) and shards add up.
public struct FeatureStatistics: Equatable, Sendable {
    /// Per-feature float64 sums, stored one after another in `sums` (each `featureCount` long).
    public enum Sum: Int, CaseIterable, Sendable {
        /// Σx, Σx², Σy·x over the correlation view.
        case x, xx, xy
        /// Σx and Σx² over successes and over failures, coefficient view.
        case xSuccess, xxSuccess, xFailure, xxFailure
        /// Σx·1[x>0] over successes / failures, coefficient view.
        case xSuccessActive, xFailureActive

        /// Tensor name in the saved file (the reference's attribute names where it has one).
        public var tensorName: String {
            switch self {
            case .x: "sum_x"
            case .xx: "sum_xx"
            case .xy: "sum_xy"
            case .xSuccess: "sum_x_success"
            case .xxSuccess: "sum_xx_success"
            case .xFailure: "sum_x_failure"
            case .xxFailure: "sum_xx_failure"
            case .xSuccessActive: "sum_x_success_active"
            case .xFailureActive: "sum_x_failure_active"
            }
        }
    }

    /// Per-feature int64 counts, stored one after another in `counts`.
    public enum Count: Int, CaseIterable, Sendable {
        /// #{x>0} over all samples / successes / failures, correlation view.
        case active, activeCorrect, activeIncorrect
        /// #{x>0} over successes / failures, coefficient view.
        case successActive, failureActive

        public var tensorName: String {
            switch self {
            case .active: "count_active"
            case .activeCorrect: "count_active_correct"
            case .activeIncorrect: "count_active_incorrect"
            case .successActive: "count_success_active"
            case .failureActive: "count_failure_active"
            }
        }
    }

    public static let formatName = "corrsteer.feature_statistics"
    public static let formatVersion = 1

    public let featureCount: Int
    public let options: FeatureStatisticsOptions

    /// Number of samples n.
    public internal(set) var sampleCount: Int64 = 0
    /// Samples with reward > 0 (the reference's count_correct = count_pos = count_success).
    public internal(set) var successCount: Int64 = 0
    /// Samples with reward == 0 (count_incorrect = count_failure).
    public internal(set) var failureCount: Int64 = 0
    /// Σy and Σy².
    public internal(set) var rewardSum: Double = 0
    public internal(set) var rewardSquareSum: Double = 0
    /// Smallest and largest reward seen (±infinity before the first sample); detects constant rewards exactly.
    public internal(set) var minimumReward: Double = .infinity
    public internal(set) var maximumReward: Double = -.infinity

    /// Per-feature accumulators, one after another `stride` elements apart (see `stride`).
    var sums: [Double]
    var counts: [Int64]
    /// Distance between consecutive accumulators: featureCount plus one cache line, so the arrays do not
    /// start at the same offset modulo 4 KiB (loads and stores would alias in the store buffer and the
    /// batch update would run about twice as slow).
    let stride: Int
    /// Success histograms [featureCount × bins] followed by failure histograms; empty when disabled.
    var histograms: [Int64]

    public init(featureCount: Int, options: FeatureStatisticsOptions = FeatureStatisticsOptions()) {
        precondition(featureCount > 0, "featureCount must be positive")
        self.featureCount = featureCount
        self.options = options
        stride = featureCount + 8
        sums = [Double](repeating: 0, count: Sum.allCases.count * stride)
        counts = [Int64](repeating: 0, count: Count.allCases.count * stride)
        let bins = options.mutualInformationBinning?.binCount ?? 0
        histograms = [Int64](repeating: 0, count: 2 * featureCount * bins)
    }

    // MARK: Raw accumulators

    public func sum(_ kind: Sum) -> ArraySlice<Double> {
        sums[kind.rawValue * stride ..< kind.rawValue * stride + featureCount]
    }

    public func count(_ kind: Count) -> ArraySlice<Int64> {
        counts[kind.rawValue * stride ..< kind.rawValue * stride + featureCount]
    }

    /// Histogram counts [featureCount × bins], row-major, for successes (`success == true`) or failures;
    /// empty when histograms are disabled.
    public func histogram(success: Bool) -> ArraySlice<Int64> {
        let half = histograms.count / 2
        return success ? histograms[0 ..< half] : histograms[half ..< histograms.count]
    }

    // MARK: Accumulation

    /// Adds a batch. `correlationRows` and `coefficientRows` each hold `rewards.count` rows of
    /// `featureCount` floats, row-major (they may be the same buffer).
    public mutating func add(
        correlationRows: UnsafePointer<Float>, coefficientRows: UnsafePointer<Float>, rewards: [Double]
    ) throws {
        for (index, reward) in rewards.enumerated() where !reward.isFinite {
            throw FeatureStatisticsError.invalidReward(index: index, value: reward)
        }
        let d = featureCount, stride = self.stride
        let bins = options.mutualInformationBinning?.binCount ?? 0
        let edges = options.mutualInformationBinning?.edges ?? []
        sums.withUnsafeMutableBufferPointer { sumBuffer in
            counts.withUnsafeMutableBufferPointer { countBuffer in
                histograms.withUnsafeMutableBufferPointer { histogramBuffer in
                    let s = sumBuffer.baseAddress!
                    let c = countBuffer.baseAddress!
                    let histogram = histogramBuffer.baseAddress
                    // Chunk-major, row-minor: each chunk of accumulators stays in L1 while all rows pass.
                    // Chunks own disjoint features, so they spread over the cores (a collection's main
                    // thread ran these sums for ~1 % of its wall time while the other cores waited) and
                    // every feature still sums its rows in order: the same bits on any core count.
                    func accumulateChunk(_ index: Int) {
                        let start = index * Self.chunk
                        let length = min(Self.chunk, d - start)
                        for (row, y) in rewards.enumerated() {
                            let xc = correlationRows + row * d + start
                            let xk = coefficientRows + row * d + start
                            Self.accumulateCorrelation(xc, y: y, sums: s + start, counts: c + start, stride: stride, length: length)
                            if y > 0 {
                                Self.accumulateClass(
                                    xk, sum: s + Sum.xSuccess.rawValue * stride + start, square: s + Sum.xxSuccess.rawValue * stride + start,
                                    activeSum: s + Sum.xSuccessActive.rawValue * stride + start,
                                    activeCount: c + Count.successActive.rawValue * stride + start, length: length)
                            } else if y == 0 {
                                Self.accumulateClass(
                                    xk, sum: s + Sum.xFailure.rawValue * stride + start, square: s + Sum.xxFailure.rawValue * stride + start,
                                    activeSum: s + Sum.xFailureActive.rawValue * stride + start,
                                    activeCount: c + Count.failureActive.rawValue * stride + start, length: length)
                            }
                            if bins > 0, y >= 0, let histogram {
                                let target = histogram + (y > 0 ? 0 : d * bins) + start * bins
                                Self.accumulateHistogram(xc, edges: edges, into: target, bins: bins, length: length)
                            }
                        }
                    }
                    let chunks = (d + Self.chunk - 1) / Self.chunk
                    Parallel.forEachChunk(chunks, grain: max(1, Self.parallelGrain / max(rewards.count, 1))) { range in
                        range.forEach(accumulateChunk)
                    }
                }
            }
        }
        for y in rewards {
            sampleCount += 1
            rewardSum += y
            rewardSquareSum += y * y
            minimumReward = min(minimumReward, y)
            maximumReward = max(maximumReward, y)
            if y > 0 { successCount += 1 } else if y == 0 { failureCount += 1 }
        }
    }

    /// Adds a batch given as arrays of `rewards.count × featureCount` floats.
    public mutating func add(correlationRows: [Float], coefficientRows: [Float], rewards: [Double]) throws {
        let expected = rewards.count * featureCount
        guard correlationRows.count == expected, coefficientRows.count == expected else {
            throw FeatureStatisticsError.shapeMismatch(
                "\(rewards.count) rewards × \(featureCount) features need \(expected) values per view, got "
                    + "\(correlationRows.count) (correlation) and \(coefficientRows.count) (coefficient)")
        }
        guard !rewards.isEmpty else { return }
        try correlationRows.withUnsafeBufferPointer { xc in
            try coefficientRows.withUnsafeBufferPointer { xk in
                try add(correlationRows: xc.baseAddress!, coefficientRows: xk.baseAddress!, rewards: rewards)
            }
        }
    }

    /// Features per chunk: keeps the touched accumulator slices in L1 while a row streams through.
    private static let chunk = 128
    /// Rows × chunks below which a batch's sums stay on one core (threading would cost more).
    private static let parallelGrain = 32

    /// Σx, Σx², Σy·x and active counts for one row's chunk; `sums`/`counts` point at the chunk start of
    /// the first accumulator, the others follow `stride` elements apart.
    @inline(__always)
    private static func accumulateCorrelation(
        _ x: UnsafePointer<Float>, y: Double, sums s: UnsafeMutablePointer<Double>,
        counts c: UnsafeMutablePointer<Int64>, stride d: Int, length: Int
    ) {
        let sx = s + Sum.x.rawValue * d, sxx = s + Sum.xx.rawValue * d, sxy = s + Sum.xy.rawValue * d
        let active = c + Count.active.rawValue * d
        for j in 0 ..< length {
            let v = Double(x[j])
            sx[j] += v
            sxx[j] += v * v
            active[j] &+= x[j] > 0 ? 1 : 0
        }
        // y == 0 adds nothing to Σy·x.
        if y != 0 {
            for j in 0 ..< length { sxy[j] += y * Double(x[j]) }
        }
        let classActive: UnsafeMutablePointer<Int64>?
        if y > 0 { classActive = c + Count.activeCorrect.rawValue * d }
        else if y == 0 { classActive = c + Count.activeIncorrect.rawValue * d }
        else { classActive = nil }
        if let classActive {
            for j in 0 ..< length { classActive[j] &+= x[j] > 0 ? 1 : 0 }
        }
    }

    @inline(__always)
    private static func accumulateClass(
        _ x: UnsafePointer<Float>, sum: UnsafeMutablePointer<Double>, square: UnsafeMutablePointer<Double>,
        activeSum: UnsafeMutablePointer<Double>, activeCount: UnsafeMutablePointer<Int64>, length: Int
    ) {
        for j in 0 ..< length {
            let v = Double(x[j])
            sum[j] += v
            square[j] += v * v
            let isActive = x[j] > 0
            activeSum[j] += isActive ? v : 0
            activeCount[j] &+= isActive ? 1 : 0
        }
    }

    private static func accumulateHistogram(
        _ x: UnsafePointer<Float>, edges: [Float], into histogram: UnsafeMutablePointer<Int64>, bins: Int, length: Int
    ) {
        edges.withUnsafeBufferPointer { e in
            let first = e[0]
            for j in 0 ..< length {
                let v = x[j]
                // Both edge orders start with their smallest edge, so values at or below it are bin 0.
                let bin = v <= first ? 0 : lowerBound(v, in: e)
                histogram[j * bins + bin] &+= 1
            }
        }
    }

    /// torch.bucketize(right=False): the first index whose edge is >= value, found by the same binary
    /// search torch uses, so an unsorted edge list yields exactly torch's answer.
    @inline(__always)
    static func lowerBound(_ value: Float, in edges: UnsafeBufferPointer<Float>) -> Int {
        var start = 0, end = edges.count
        while start < end {
            let mid = start + (end - start) >> 1
            if !(edges[mid] >= value) { start = mid + 1 } else { end = mid }
        }
        return start
    }

    /// The bin `value` falls into under `binning` (exposed for tests and tools).
    public static func bin(of value: Float, binning: MutualInformationBinning) -> Int {
        binning.edges.withUnsafeBufferPointer { lowerBound(value, in: $0) }
    }

    // MARK: Merge

    /// Adds another shard's statistics (same features and options).
    public mutating func merge(_ other: FeatureStatistics) throws {
        guard other.featureCount == featureCount else {
            throw FeatureStatisticsError.incompatibleMerge("\(featureCount) features vs \(other.featureCount)")
        }
        guard other.options == options else {
            throw FeatureStatisticsError.incompatibleMerge(
                "histogram binning \(options.mutualInformationBinning?.rawValue ?? "none") vs "
                    + "\(other.options.mutualInformationBinning?.rawValue ?? "none")")
        }
        for i in sums.indices { sums[i] += other.sums[i] }
        for i in counts.indices { counts[i] &+= other.counts[i] }
        for i in histograms.indices { histograms[i] &+= other.histograms[i] }
        sampleCount += other.sampleCount
        successCount += other.successCount
        failureCount += other.failureCount
        rewardSum += other.rewardSum
        rewardSquareSum += other.rewardSquareSum
        minimumReward = min(minimumReward, other.minimumReward)
        maximumReward = max(maximumReward, other.maximumReward)
    }

    public func merged(with other: FeatureStatistics) throws -> FeatureStatistics {
        var copy = self
        try copy.merge(other)
        return copy
    }

    // MARK: Derived quantities (method §4.2, §4.3)

    public var warnings: [StatisticsWarning] {
        guard sampleCount > 0 else { return [.noSamples] }
        var result: [StatisticsWarning] = []
        if hasConstantRewards { result.append(.constantRewards(value: minimumReward, samples: sampleCount)) }
        if successCount == 0 { result.append(.noSuccesses) }
        if failureCount == 0 { result.append(.noFailures) }
        return result
    }

    /// True when every reward is the same value, so the reward variance is zero and r is undefined.
    public var hasConstantRewards: Bool { sampleCount > 0 && minimumReward == maximumReward }

    /// Pearson r per feature with population moments and the reference's clamps:
    /// r = cov / sqrt(max(σ²ₓ, 1e-12)·max(σ²ᵧ, 1e-12)). All zeros when there are no samples or the
    /// rewards are constant (see `warnings`); a never-active feature has Σx = Σx² = Σxy = 0 and gets 0.
    public func correlations() -> [Double] {
        let d = featureCount
        guard sampleCount > 0, !hasConstantRewards else { return [Double](repeating: 0, count: d) }
        let n = Double(sampleCount)
        let meanY = rewardSum / n
        let varianceY = max(rewardSquareSum / n - meanY * meanY, 1e-12)
        let sx = sum(.x), sxx = sum(.xx), sxy = sum(.xy)
        return (0 ..< d).map { j in
            let meanX = sx[sx.startIndex + j] / n
            let varianceX = sxx[sxx.startIndex + j] / n - meanX * meanX
            let covariance = sxy[sxy.startIndex + j] / n - meanX * meanY
            let denominator = (max(varianceX, 1e-12) * varianceY).squareRoot()
            return denominator > 0 ? covariance / denominator : 0
        }
    }

    /// Mean coefficient-view activation over successes (`activeOnly`: over successes where the feature is
    /// active); 0 where the class is empty.
    public func successMeans(activeOnly: Bool = false) -> [Double] {
        classMeans(sum: activeOnly ? .xSuccessActive : .xSuccess, activeCount: activeOnly ? .successActive : nil,
                   classCount: successCount)
    }

    /// Mean coefficient-view activation over failures (`activeOnly` as in `successMeans`).
    public func failureMeans(activeOnly: Bool = false) -> [Double] {
        classMeans(sum: activeOnly ? .xFailureActive : .xFailure, activeCount: activeOnly ? .failureActive : nil,
                   classCount: failureCount)
    }

    private func classMeans(sum kind: Sum, activeCount: Count?, classCount: Int64) -> [Double] {
        let s = sum(kind)
        if let activeCount {
            let c = count(activeCount)
            return (0 ..< featureCount).map { j in
                let k = c[c.startIndex + j]
                return k == 0 ? 0 : s[s.startIndex + j] / Double(k)
            }
        }
        guard classCount > 0 else { return [Double](repeating: 0, count: featureCount) }
        return s.map { $0 / Double(classCount) }
    }

    /// Steering coefficient per feature, before `--scale` (method §4.2).
    public func coefficients(_ kind: CoefficientKind) -> [Double] {
        switch kind {
        case .mean:
            return successMeans()
        case .activeMean:
            return successMeans(activeOnly: true)
        case .difference:
            return zip(successMeans(), failureMeans()).map { $0 - $1 }
        }
    }

    /// Activation frequencies in percent of all n samples (the reference divides the per-class counts by n
    /// too, so `correct + incorrect == all` for binary rewards).
    public func frequencies() -> (all: [Double], correct: [Double], incorrect: [Double]) {
        guard sampleCount > 0 else {
            let zeros = [Double](repeating: 0, count: featureCount)
            return (zeros, zeros, zeros)
        }
        let n = Double(sampleCount)
        func percent(_ kind: Count) -> [Double] { count(kind).map { Double($0) / n * 100 } }
        return (percent(.active), percent(.activeCorrect), percent(.activeIncorrect))
    }

    /// Plug-in mutual information between activation bin and outcome (nats), with the reference's 1e-12
    /// clamps on p(b,y), p(b) and p(y); 0 for features without counts. Without histograms, the reference's
    /// Gaussian fallback −½·log(1 − r²) with r clamped to ±0.999999.
    public func mutualInformation() -> [Double] {
        guard let binning = options.mutualInformationBinning else {
            return correlations().map { r in
                let c = min(max(r, -0.999999), 0.999999)
                return -0.5 * log1p(-(c * c))
            }
        }
        let bins = binning.binCount
        let success = histogram(success: true), failure = histogram(success: false)
        let eps = 1e-12
        func term(_ pJoint: Double, _ pBin: Double, _ pClass: Double) -> Double {
            let numerator = max(pJoint, eps)
            return numerator * log(numerator / (max(pBin, eps) * max(pClass, eps)))
        }
        return (0 ..< featureCount).map { j in
            let base1 = success.startIndex + j * bins, base0 = failure.startIndex + j * bins
            var n1 = 0.0, n0 = 0.0
            for b in 0 ..< bins {
                n1 += Double(success[base1 + b])
                n0 += Double(failure[base0 + b])
            }
            let total = n1 + n0
            guard total > 0 else { return 0 }
            let p1 = n1 / total, p0 = n0 / total
            var information = 0.0
            for b in 0 ..< bins {
                let c1 = Double(success[base1 + b]), c0 = Double(failure[base0 + b])
                let pBin = (c1 + c0) / total
                information += term(c1 / total, pBin, p1) + term(c0 / total, pBin, p0)
            }
            return information
        }
    }

    /// DSG-style Fisher score: mean x² over successes / max(mean x² over failures, 1e-12), coefficient view.
    public func fisherScores() -> [Double] {
        let c1 = Double(max(successCount, 1)), c0 = Double(max(failureCount, 1))
        return zip(sum(.xxSuccess), sum(.xxFailure)).map { s, f in (s / c1) / max(f / c0, 1e-12) }
    }

    /// CAA score: |mean over successes − mean over failures|, coefficient view (empty classes count as 1).
    public func contrastiveScores() -> [Double] {
        let c1 = Double(max(successCount, 1)), c0 = Double(max(failureCount, 1))
        return zip(sum(.xSuccess), sum(.xFailure)).map { s, f in abs(s / c1 - f / c0) }
    }

    /// Ranking score per feature for `score` (method §4.3; `correlation` ranks by |r|).
    public func scores(_ score: RankingScore) -> [Double] {
        switch score {
        case .correlation: correlations().map(abs)
        case .mutualInformation: mutualInformation()
        case .fisher: fisherScores()
        case .contrastive: contrastiveScores()
        }
    }
}

// MARK: - Save / load
