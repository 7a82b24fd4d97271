import Foundation
import Tasks

/// How the correlations of one layer's features spread: the selected feature is only meaningful if it
/// stands out of this distribution.
public struct CorrelationHistogram: Equatable, Sendable {
    public var layer: Int
    /// Bins are `counts.count` equal intervals over [−bound, bound].
    public var bound: Double
    public var counts: [Int]
    /// Features whose r is undefined (never active, or constant rewards).
    public var undefined: Int
    public var largest: Double
    public var smallest: Double
    /// Features never active over the collection (their r is reported as 0).
    public var neverActive = 0
    /// Features with |r| ≥ 0.1 and ≥ 0.2.
    public var atLeastTenth: Int
    public var atLeastFifth: Int

    public init(layer: Int, correlations: [Double], bins: Int = 21) {
        self.layer = layer
        let defined = correlations.filter(\.isFinite)
        undefined = correlations.count - defined.count
        largest = defined.max() ?? 0
        smallest = defined.min() ?? 0
        atLeastTenth = defined.filter { abs($0) >= 0.1 }.count
        atLeastFifth = defined.filter { abs($0) >= 0.2 }.count
        // Symmetric around 0 so that positive and negative tails compare at a glance.
        bound = max(abs(largest), abs(smallest), 1e-6)
        counts = Array(repeating: 0, count: max(bins, 1))
        for r in defined {
            let position = (r + bound) / (2 * bound) * Double(counts.count)
            counts[min(counts.count - 1, max(0, Int(position)))] += 1
        }
    }

    public var features: Int { counts.reduce(0, +) + undefined }
}

/// CorrSteer-P's validation pass (`eval/P/validation.json`): each layer's feature alone against the
/// unsteered model on the validation split.
public struct PValidationSummary: Equatable, Sendable {
    public struct Layer: Equatable, Sendable {
        public var layer: Int
        public var accuracy: Double
        /// Whether P kept the layer (it beat the baseline strictly).
        public var kept: Bool

        public init(layer: Int, accuracy: Double, kept: Bool) {
            self.layer = layer
            self.accuracy = accuracy
            self.kept = kept
        }
    }

    public var baseline: Double?
    public var layers: [Layer]

    public init(baseline: Double?, layers: [Layer]) {
        self.baseline = baseline
        self.layers = layers
    }

    /// The fields of the ledger the report shows; the rest of the file belongs to the evaluator.
    private struct Ledger: Decodable {
        var baseline: Double?
        var layers: [String: Double]?
    }

    static func load(from url: URL, keptLayers: Set<Int>) throws -> PValidationSummary {
        let ledger = try RunFileCoding.read(Ledger.self, from: url)
        let layers = (ledger.layers ?? [:]).compactMap { key, accuracy in
            Int(key).map { Layer(layer: $0, accuracy: accuracy, kept: keptLayers.contains($0)) }
        }.sorted { $0.layer < $1.layer }
        return PValidationSummary(baseline: ledger.baseline, layers: layers)
    }
}

/// Accuracy of every variant on the test items of one task category (MMLU subject, BBQ category, …).
public struct CategoryAccuracy: Equatable, Sendable {
    public var category: String
    public var count: Int
    /// Variant name → mean reward over this category's items.
    public var accuracies: [String: Double]

    public init(category: String, count: Int, accuracies: [String: Double]) {
        self.category = category
        self.count = count
        self.accuracies = accuracies
    }

    /// Groups each variant's predictions by the category of its item; empty when fewer than two
    /// categories are present (one category is the overall accuracy again).
    public static func group(predictions: [String: [PredictionRecord]], categoryOf: [String: String]) -> [CategoryAccuracy] {
        var sums: [String: [String: (Double, Int)]] = [:]
        var counts: [String: Set<String>] = [:]
        for (variant, records) in predictions {
            for record in records {
                guard let category = categoryOf[record.id] else { continue }
                let (sum, n) = sums[category, default: [:]][variant] ?? (0, 0)
                sums[category, default: [:]][variant] = (sum + record.reward, n + 1)
                counts[category, default: []].insert(record.id)
            }
        }
        guard sums.count >= 2 else { return [] }
        return sums.keys.sorted().map { category in
            CategoryAccuracy(category: category, count: counts[category]?.count ?? 0,
                             accuracies: sums[category]!.mapValues { $0.0 / Double(max($0.1, 1)) })
        }
    }
}

extension RunReport {
    /// Per-layer histograms of r over every feature, from the finished statistics; empty when the run
    /// has none (not collected yet, or a report directory without stats/).
    static func correlationHistograms(_ run: RunDirectory) -> [CorrelationHistogram] {
        guard let checkpoint = try? StatisticsCheckpoint.load(from: run), checkpoint.complete,
              let statistics = try? checkpoint.loadStatistics(in: run) else { return [] }
        return statistics.keys.sorted().map { layer in
            let layerStatistics = statistics[layer]!
            var histogram = CorrelationHistogram(layer: layer, correlations: layerStatistics.correlations())
            histogram.neverActive = layerStatistics.frequencies().all.filter { $0 == 0 }.count
            return histogram
        }
    }

    /// Item id → category of the run's test split, when the task's files are still where the manifest
    /// says and the task has categories; empty otherwise (the report then has no category table).
    static func testCategories(_ run: RunDirectory) -> [String: String] {
        guard let manifest = try? RunManifest.load(from: run), manifest.configuration.scorerCommand == nil,
              let task = try? TaskSetup.load(manifest.configuration, validationLimit: 1, testLimit: nil) else { return [:] }
        var categories: [String: String] = [:]
        for example in task.splits.test { if let category = example.category { categories[example.id] = category } }
        return categories
    }
}
