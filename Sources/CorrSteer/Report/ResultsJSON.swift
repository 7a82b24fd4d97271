import Foundation

/// The one JSON object that `demo --json`, `run --json` and `evaluate --json` print on stdout: every
/// variant's metrics and the selected features (schema in docs/run-directory.md, "--json output").
public struct ResultsJSON: Encodable, Sendable {
    public static let currentVersion = 1

    public struct Variant: Encodable, Sendable {
        public var variant: String
        public var count: Int
        public var accuracy: Double
        public var accuracyInterval: Interval
        /// Null for the baseline, like every field below.
        public var baselineAccuracy: Double?
        public var delta: Double?
        public var deltaInterval: Interval?
        public var changed: Int?
        public var pos: Int?
        public var neg: Int?
        public var ser: Double?
        public var mcnemarP: Double?
        public var notes: [String]

        enum CodingKeys: String, CodingKey {
            case variant, count, accuracy, delta, changed, pos, neg, ser, notes
            case accuracyInterval = "accuracy_interval"
            case baselineAccuracy = "baseline_accuracy"
            case deltaInterval = "delta_interval"
            case mcnemarP = "mcnemar_p"
        }

        public init(_ metrics: VariantMetrics) {
            variant = metrics.variant
            count = metrics.count
            accuracy = metrics.accuracy
            accuracyInterval = metrics.accuracyInterval
            baselineAccuracy = metrics.comparison?.baselineAccuracy
            delta = metrics.comparison?.delta
            deltaInterval = metrics.comparison?.deltaInterval
            changed = metrics.comparison?.changed
            pos = metrics.comparison?.positive
            neg = metrics.comparison?.negative
            ser = metrics.comparison?.sideEffectRatio
            mcnemarP = metrics.comparison?.mcnemarP
            notes = metrics.notes
        }

        // Nulls are written out so that every variant has the same keys.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(variant, forKey: .variant)
            try c.encode(count, forKey: .count)
            try c.encode(accuracy, forKey: .accuracy)
            try c.encode(accuracyInterval, forKey: .accuracyInterval)
            try c.encode(baselineAccuracy, forKey: .baselineAccuracy)
            try c.encode(delta, forKey: .delta)
            try c.encode(deltaInterval, forKey: .deltaInterval)
            try c.encode(changed, forKey: .changed)
            try c.encode(pos, forKey: .pos)
            try c.encode(neg, forKey: .neg)
            try c.encode(ser, forKey: .ser)
            try c.encode(mcnemarP, forKey: .mcnemarP)
            try c.encode(notes, forKey: .notes)
        }
    }

    public struct SelectedFeature: Encodable, Sendable {
        public var layer: Int
        public var site: String
        public var feature: Int
        public var r: Double
        public var coefficient: Double
        public var neuronpediaURL: String?

        enum CodingKeys: String, CodingKey {
            case layer, site, feature, r, coefficient
            case neuronpediaURL = "neuronpedia_url"
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(layer, forKey: .layer)
            try c.encode(site, forKey: .site)
            try c.encode(feature, forKey: .feature)
            try c.encode(r, forKey: .r)
            try c.encode(coefficient, forKey: .coefficient)
            try c.encode(neuronpediaURL, forKey: .neuronpediaURL)
        }
    }

    public var version = ResultsJSON.currentVersion
    public var run: String
    public var report: String?
    public var variants: [Variant]
    public var selectedFeatures: [SelectedFeature]

    enum CodingKeys: String, CodingKey {
        case version, run, report, variants
        case selectedFeatures = "selected_features"
    }

    public init(run: RunDirectory, report: URL?, metrics: [VariantMetrics], candidates: FeatureCandidates) {
        self.run = run.url.path
        self.report = report?.path
        variants = metrics.map(Variant.init)
        selectedFeatures = candidates.layers.compactMap { layer in
            layer.selected.map {
                SelectedFeature(layer: layer.layer, site: layer.site, feature: $0.feature, r: $0.correlation,
                                coefficient: $0.coefficient, neuronpediaURL: $0.neuronpediaURL)
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(run, forKey: .run)
        try c.encode(report, forKey: .report)
        try c.encode(variants, forKey: .variants)
        try c.encode(selectedFeatures, forKey: .selectedFeatures)
    }

    /// One line of JSON, keys sorted; non-finite numbers as the strings "inf", "-inf", "nan" (as in run files).
    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
