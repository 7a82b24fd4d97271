import Foundation
import InputQuoting
import Tensors
import WeightFiles

/// One evaluated test item: a line of `eval/VARIANT/predictions.jsonl`.
///
/// `{"id": "mmlu-test-00017", "prompt": "...", "output": " B", "predicted": "B", "gold": "B", "reward": 1}`
/// - `id`: the sample's stable ID in the task's split (baseline and steered runs are aligned by it).
/// - `output`: the generated text; `predicted`: the answer extracted from it; `gold`: the reference answer.
/// - `reward`: the task score in [0, 1] (binary for every built-in task except external scorers).
public struct PredictionRecord: Codable, Equatable, Sendable {
    public var id: String
    public var prompt: String
    public var output: String
    public var predicted: String
    public var gold: String
    public var reward: Double

    public init(id: String, prompt: String, output: String, predicted: String, gold: String, reward: Double) {
        self.id = id
        self.prompt = prompt
        self.output = output
        self.predicted = predicted
        self.gold = gold
        self.reward = reward
    }
}

/// Reading and writing `predictions.jsonl` (one compact JSON object per line).
public enum PredictionsFile {
    public static func read(from url: URL) throws -> [PredictionRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw RunFileError.unreadable(path: url.path, reason: RunFileCoding.readFailure(url, error))
        }
        var records: [PredictionRecord] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let record = try RunFileCoding.decode(PredictionRecord.self, from: Data(line), path: url.path, line: lineNumber)
            guard record.reward.isFinite else {
                throw RunFileError.malformed(path: url.path, reason: "line \(lineNumber): reward \(record.reward) is not finite")
            }
            records.append(record)
        }
        return records
    }

    /// Line encoding used by `write`, for writers that append records one by one.
    public static func line(_ record: PredictionRecord) throws -> Data {
        try RunFileCoding.encoder(pretty: false).encode(record) + Data("\n".utf8)
    }

    public static func write(_ records: [PredictionRecord], to url: URL) throws {
        try RunFileCoding.writeAtomically(to: url) { try records.reduce(into: Data()) { $0.append(try line($1)) } }
    }
}

/// A closed interval [lower, upper].
public struct Interval: Codable, Equatable, Sendable {
    public var lower: Double
    public var upper: Double

    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }
}

/// How bootstrap intervals are drawn.
///
/// Percentile bootstrap: `resamples` times, draw n item indices with replacement, `index = next() % n`
/// from `SplitMix64(seed)` (one shared stream: resample 0 takes draws 0…n−1, resample 1 the next n, …);
/// the interval is the (1−confidence)/2 and (1+confidence)/2 quantiles of the resampled means with
/// linear interpolation (numpy's default `percentile`). The same indices give the accuracy and the paired
/// steered − baseline difference, so both are reproducible bit for bit by
/// `scripts/fixtures/corrsteer_metrics.py`. With 10,000 resamples the Monte Carlo error of a 95 % bound
/// is about 0.2 % of the interval width.
public struct BootstrapOptions: Codable, Equatable, Sendable {
    public var resamples: Int
    public var seed: UInt64
    public var confidence: Double

    public init(resamples: Int = 10_000, seed: UInt64 = 42, confidence: Double = 0.95) {
        self.resamples = resamples
        self.seed = seed
        self.confidence = confidence
    }
}

/// Statistical helpers behind `VariantMetrics` (method §8).
public enum EvaluationStatistics {
    /// Percentile bootstrap of the mean of `values` and, when `paired` is given, of the mean of
    /// `values − paired`, from the same resampled indices (see `BootstrapOptions`).
    public static func bootstrap(_ values: [Double], paired: [Double]? = nil, options: BootstrapOptions)
        -> (mean: Interval, difference: Interval?)
    {
        let n = values.count
        precondition(n > 0 && options.resamples > 0)
        let differences = paired.map { zip(values, $0).map { $0 - $1 } }
        var rng = SplitMix64(seed: options.seed)
        var means = [Double](repeating: 0, count: options.resamples)
        var deltas = [Double](repeating: 0, count: differences == nil ? 0 : options.resamples)
        let modulus = UInt64(n)
        for r in 0 ..< options.resamples {
            var sum = 0.0, sumDifference = 0.0
            for _ in 0 ..< n {
                let k = Int(rng.next() % modulus)
                sum += values[k]
                if let differences { sumDifference += differences[k] }
            }
            means[r] = sum / Double(n)
            if differences != nil { deltas[r] = sumDifference / Double(n) }
        }
        let low = (1 - options.confidence) / 2, high = (1 + options.confidence) / 2
        means.sort()
        let meanInterval = Interval(lower: quantile(sorted: means, low), upper: quantile(sorted: means, high))
        guard differences != nil else { return (meanInterval, nil) }
        deltas.sort()
        return (meanInterval, Interval(lower: quantile(sorted: deltas, low), upper: quantile(sorted: deltas, high)))
    }

    /// numpy's default (`linear`) quantile of sorted values, q in [0, 1].
    public static func quantile(sorted values: [Double], _ q: Double) -> Double {
        let position = q * Double(values.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, values.count - 1)
        let fraction = position - Double(below)
        let (a, b) = (values[below], values[above])
        // numpy's lerp: a + (b−a)·t, computed from the upper end when t ≥ 0.5.
        return fraction >= 0.5 ? b - (b - a) * (1 - fraction) : a + (b - a) * fraction
    }

    /// Exact two-sided McNemar test: binomial test of `b` against `b + c` discordant pairs with p = ½,
    /// p = min(1, 2·P(X ≤ min(b, c))); 1 when there are no discordant pairs. Log-space, so it is exact to
    /// about 1e-12 relative for any n.
    public static func mcnemarExactP(b: Int, c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        let k = min(b, c)
        let logHalfPower = Double(n) * log(0.5)
        let logNFactorial = logFactorial(n)
        var terms: [Double] = []
        terms.reserveCapacity(k + 1)
        for i in 0 ... k {
            terms.append(logNFactorial - logFactorial(i) - logFactorial(n - i) + logHalfPower)
        }
        let largest = terms.max()!
        let tail = exp(largest) * terms.reduce(0) { $0 + exp($1 - largest) }
        return min(1, 2 * tail)
    }

    private static func logFactorial(_ n: Int) -> Double {
        let value: Double = lgamma(Double(n) + 1)
        return value
    }
}

/// The pairwise comparison of a steered variant with the baseline on the same items.
public struct BaselineComparison: Codable, Equatable, Sendable {
    /// Baseline accuracy over the same items.
    public var baselineAccuracy: Double
    /// Steered − baseline accuracy, and its paired bootstrap interval.
    public var delta: Double
    public var deltaInterval: Interval
    /// Items whose extracted answer changed.
    public var changed: Int
    /// Changed items whose reward went up (POS) / down (NEG); changed items with equal rewards count in neither.
    public var positive: Int
    public var negative: Int
    /// Side Effect Ratio NEG / (POS + NEG); nil when no change altered a reward.
    public var sideEffectRatio: Double?
    /// Exact McNemar test on rewards (binary rewards only; nil otherwise, see `note`).
    public var mcnemarP: Double?
    /// Discordant pairs: baseline right & steered wrong (b), baseline wrong & steered right (c).
    public var baselineOnlyCorrect: Int?
    public var steeredOnlyCorrect: Int?

    enum CodingKeys: String, CodingKey {
        case baselineAccuracy = "baseline_accuracy", delta, deltaInterval = "delta_interval", changed
        case positive = "pos", negative = "neg", sideEffectRatio = "ser", mcnemarP = "mcnemar_p"
        case baselineOnlyCorrect = "baseline_only_correct", steeredOnlyCorrect = "steered_only_correct"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(baselineAccuracy, forKey: .baselineAccuracy)
        try c.encode(delta, forKey: .delta)
        try c.encode(deltaInterval, forKey: .deltaInterval)
        try c.encode(changed, forKey: .changed)
        try c.encode(positive, forKey: .positive)
        try c.encode(negative, forKey: .negative)
        try c.encode(sideEffectRatio, forKey: .sideEffectRatio)
        try c.encode(mcnemarP, forKey: .mcnemarP)
        try c.encode(baselineOnlyCorrect, forKey: .baselineOnlyCorrect)
        try c.encode(steeredOnlyCorrect, forKey: .steeredOnlyCorrect)
    }
}

/// `eval/VARIANT/metrics.json`.
///
/// ```
/// {"version": 1, "variant": "A", "count": 14042, "accuracy": 0.5548,
///  "accuracy_interval": {"lower": 0.5466, "upper": 0.5630},
///  "bootstrap": {"resamples": 10000, "seed": 42, "confidence": 0.95},
///  "comparison": {"baseline_accuracy": 0.5221, "delta": 0.0327, "delta_interval": {...},
///                 "changed": 1203, "pos": 790, "neg": 331, "ser": 0.295, "mcnemar_p": 1.2e-42,
///                 "baseline_only_correct": 331, "steered_only_correct": 790} | null,
///  "notes": ["..."]}
/// ```
/// Accuracies are fractions in [0, 1] (mean reward). `comparison` is null for the baseline itself.
public struct VariantMetrics: Codable, Equatable, Sendable {
    public static let currentVersion = 1

    public var version: Int
    public var variant: String
    public var count: Int
    public var accuracy: Double
    public var accuracyInterval: Interval
    public var bootstrap: BootstrapOptions
    public var comparison: BaselineComparison?
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case version, variant, count, accuracy, accuracyInterval = "accuracy_interval", bootstrap, comparison, notes
    }

    public init(variant: String, count: Int, accuracy: Double, accuracyInterval: Interval, bootstrap: BootstrapOptions,
                comparison: BaselineComparison?, notes: [String]) {
        version = Self.currentVersion
        self.variant = variant
        self.count = count
        self.accuracy = accuracy
        self.accuracyInterval = accuracyInterval
        self.bootstrap = bootstrap
        self.comparison = comparison
        self.notes = notes
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(variant, forKey: .variant)
        try c.encode(count, forKey: .count)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(accuracyInterval, forKey: .accuracyInterval)
        try c.encode(bootstrap, forKey: .bootstrap)
        try c.encode(comparison, forKey: .comparison)
        try c.encode(notes, forKey: .notes)
    }

    public func save(to url: URL) throws { try RunFileCoding.write(self, to: url) }

    public static func load(from url: URL) throws -> VariantMetrics {
        try RunFileCoding.read(VariantMetrics.self, from: url)
    }

    /// Metrics of `predictions`; with `baseline`, the paired comparison (items aligned by `id`, which must
    /// be the same set in both).
    public static func compute(
        variant: String, predictions: [PredictionRecord], baseline: [PredictionRecord]? = nil,
        bootstrap options: BootstrapOptions = BootstrapOptions()
    ) throws -> VariantMetrics {
        guard !predictions.isEmpty else { throw EvaluationError.noPredictions(variant: variant) }
        guard options.resamples > 0, options.confidence > 0, options.confidence < 1 else {
            throw EvaluationError.invalidOptions("bootstrap needs resamples > 0 and 0 < confidence < 1")
        }
        try checkUnique(predictions, variant: variant)
        let rewards = predictions.map(\.reward)
        let accuracy = rewards.reduce(0, +) / Double(rewards.count)
        var notes: [String] = []
        guard let baseline else {
            let interval = EvaluationStatistics.bootstrap(rewards, options: options).mean
            return VariantMetrics(variant: variant, count: predictions.count, accuracy: accuracy,
                                  accuracyInterval: interval, bootstrap: options, comparison: nil, notes: notes)
        }
        let paired = try align(predictions, with: baseline, variant: variant)
        let baselineRewards = paired.map(\.reward)
        let (interval, deltaInterval) = EvaluationStatistics.bootstrap(rewards, paired: baselineRewards, options: options)
        let baselineAccuracy = baselineRewards.reduce(0, +) / Double(baselineRewards.count)

        var changed = 0, positive = 0, negative = 0
        for (steered, base) in zip(predictions, paired) where steered.predicted != base.predicted {
            changed += 1
            if steered.reward > base.reward { positive += 1 } else if steered.reward < base.reward { negative += 1 }
        }
        let binary = (rewards + baselineRewards).allSatisfy { $0 == 0 || $0 == 1 }
        var mcnemar: Double?, onlyBaseline: Int?, onlySteered: Int?
        if binary {
            let b = zip(rewards, baselineRewards).filter { $0 == 0 && $1 == 1 }.count
            let c = zip(rewards, baselineRewards).filter { $0 == 1 && $1 == 0 }.count
            (onlyBaseline, onlySteered) = (b, c)
            mcnemar = EvaluationStatistics.mcnemarExactP(b: b, c: c)
        } else {
            notes.append("rewards are not all 0 or 1: the McNemar test is not computed; SER and intervals use the raw rewards")
        }
        if positive + negative == 0 { notes.append("no answer change altered a reward: SER is undefined") }
        let comparison = BaselineComparison(
            baselineAccuracy: baselineAccuracy, delta: accuracy - baselineAccuracy, deltaInterval: deltaInterval!,
            changed: changed, positive: positive, negative: negative,
            sideEffectRatio: positive + negative > 0 ? Double(negative) / Double(positive + negative) : nil,
            mcnemarP: mcnemar, baselineOnlyCorrect: onlyBaseline, steeredOnlyCorrect: onlySteered)
        return VariantMetrics(variant: variant, count: predictions.count, accuracy: accuracy,
                              accuracyInterval: interval, bootstrap: options, comparison: comparison, notes: notes)
    }

    private static func checkUnique(_ records: [PredictionRecord], variant: String) throws {
        var seen = Set<String>()
        for record in records where !seen.insert(record.id).inserted {
            throw EvaluationError.duplicateID(variant: variant, id: record.id)
        }
    }

    /// Baseline records in the order of `predictions`, matched by ID.
    static func align(_ predictions: [PredictionRecord], with baseline: [PredictionRecord], variant: String) throws -> [PredictionRecord] {
        try checkUnique(baseline, variant: "baseline")
        let byID = Dictionary(uniqueKeysWithValues: baseline.map { ($0.id, $0) })
        let missing = predictions.map(\.id).filter { byID[$0] == nil }
        let steeredIDs = Set(predictions.map(\.id))
        let extra = baseline.map(\.id).filter { !steeredIDs.contains($0) }
        guard missing.isEmpty && extra.isEmpty else {
            throw EvaluationError.mismatchedIDs(variant: variant, missingInBaseline: missing, missingInVariant: extra)
        }
        return predictions.map { byID[$0.id]! }
    }
}

/// An item whose reward changed under steering, for reports.
public struct ExampleChange: Codable, Equatable, Sendable {
    public var id: String
    public var prompt: String
    public var gold: String
    public var baselineOutput: String
    public var baselinePredicted: String
    public var baselineReward: Double
    public var steeredOutput: String
    public var steeredPredicted: String
    public var steeredReward: Double

    enum CodingKeys: String, CodingKey {
        case id, prompt, gold, baselineOutput = "baseline_output", baselinePredicted = "baseline_predicted"
        case baselineReward = "baseline_reward", steeredOutput = "steered_output"
        case steeredPredicted = "steered_predicted", steeredReward = "steered_reward"
    }

    /// Up to `limit` improved (reward up) and broken (reward down) items, in the variant's order.
    public static func collect(steered: [PredictionRecord], baseline: [PredictionRecord], limit: Int = 5)
        throws -> (improved: [ExampleChange], broken: [ExampleChange])
    {
        let paired = try VariantMetrics.align(steered, with: baseline, variant: "steered")
        var improved: [ExampleChange] = [], broken: [ExampleChange] = []
        for (s, b) in zip(steered, paired) where s.reward != b.reward {
            let change = ExampleChange(
                id: s.id, prompt: s.prompt, gold: s.gold, baselineOutput: b.output, baselinePredicted: b.predicted,
                baselineReward: b.reward, steeredOutput: s.output, steeredPredicted: s.predicted, steeredReward: s.reward)
            if s.reward > b.reward { if improved.count < limit { improved.append(change) } }
            else if broken.count < limit { broken.append(change) }
        }
        return (improved, broken)
    }
}

public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case noPredictions(variant: String)
    case duplicateID(variant: String, id: String)
    case mismatchedIDs(variant: String, missingInBaseline: [String], missingInVariant: [String])
    case invalidOptions(String)

    public var description: String {
        switch self {
        case let .noPredictions(variant):
            return "variant \(variant): no predictions"
        case let .duplicateID(variant, id):
            return "variant \(variant): sample ID '\(QuotedInput.escaped(id))' appears more than once"
        case let .mismatchedIDs(variant, missing, extra):
            func sample(_ ids: [String]) -> String {
                // IDs come from the predictions files: quoted short, as any input inside an error.
                ids.prefix(3).map { "'\(QuotedInput.escaped($0))'" }.joined(separator: ", ") + (ids.count > 3 ? ", …" : "")
            }
            var parts: [String] = []
            if !missing.isEmpty { parts.append("\(missing.count) of its IDs are not in the baseline (\(sample(missing)))") }
            if !extra.isEmpty { parts.append("\(extra.count) baseline IDs are not in it (\(sample(extra)))") }
            return "variant \(variant) and the baseline cover different samples: " + parts.joined(separator: "; ")
                + ". Evaluate both on the same split, seed and limit."
        case let .invalidOptions(reason):
            return reason
        }
    }
}
