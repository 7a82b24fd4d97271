import Foundation

/// Score that ranks candidates within a layer (method §4.3). Raw values are the CLI spellings.
public enum RankingScore: String, Codable, Sendable, CaseIterable {
    /// |r| (default).
    case correlation = "corr"
    /// Histogram mutual information ("SPARE (MI)" in the paper).
    case mutualInformation = "mi"
    /// Success/failure mean-square ratio ("DSG (Fisher)").
    case fisher
    /// |mean over successes − mean over failures| ("CAA").
    case contrastive = "caa"
}

/// Which correlation sign makes a feature a candidate (method §4.4).
public enum Polarity: String, Codable, Sendable, CaseIterable {
    /// r > 0 (default).
    case positive
    /// r < 0; steering subtracts the decoder direction (coefficient −|c|).
    case negative
    /// both lists; the layer keeps whichever top candidate has the larger |r| (ties: positive).
    case both
}

/// How the steering coefficient is computed (method §4.2). Raw values are the CLI spellings.
public enum CoefficientKind: String, Codable, Sendable, CaseIterable {
    /// Mean pooled activation over correct samples, zeros included (default).
    case mean
    /// Mean over correct samples in which the feature is active (the reference's `--real`).
    case activeMean = "active-mean"
    /// Mean over correct − mean over incorrect samples (the reference's `--caacoeff`).
    case difference = "diff"
}

public struct SelectionOptions: Codable, Equatable, Sendable {
    /// Candidates kept per layer and polarity.
    public var topK: Int
    public var score: RankingScore
    public var polarity: Polarity
    public var coefficient: CoefficientKind
    /// Multiplies every coefficient (`--scale`).
    public var scale: Double

    public init(topK: Int = 20, score: RankingScore = .correlation, polarity: Polarity = .positive,
                coefficient: CoefficientKind = .mean, scale: Double = 1.0) {
        self.topK = topK
        self.score = score
        self.polarity = polarity
        self.coefficient = coefficient
        self.scale = scale
    }

    enum CodingKeys: String, CodingKey { case topK = "top_k", score, polarity, coefficient, scale }
}

/// Layer strategies of the paper (method §5.2–5.4).
public enum SteeringStrategy: String, Codable, Sendable, CaseIterable {
    /// One feature in total: the layer whose selected feature has the largest |r|.
    case single = "S"
    /// Every layer's selected feature, steered together.
    case allLayers = "A"
    /// Every layer's selected feature as a candidate; the evaluator keeps those that beat the baseline on
    /// validation one at a time.
    case pruned = "P"
}

/// One (layer, feature, coefficient) to steer with, before decoder rows are attached.
public struct SteeringChoice: Codable, Equatable, Sendable {
    public var layer: Int
    public var site: String
    public var feature: Int
    public var coefficient: Double
    /// The feature's correlation when it came from a selection; nil for hand-given features.
    public var correlation: Double?

    public init(layer: Int, site: String, feature: Int, coefficient: Double, correlation: Double? = nil) {
        self.layer = layer
        self.site = site
        self.feature = feature
        self.coefficient = coefficient
        self.correlation = correlation
    }

    enum CodingKeys: String, CodingKey { case layer, site, feature, coefficient, correlation = "r" }

    /// Parses `--feature L:i:c` (layer, feature index, coefficient; the coefficient may be negative or in
    /// exponent notation). `site` names the hook site of layer L.
    public static func parse(_ text: String, site: (Int) -> String) throws -> SteeringChoice {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 3 else {
            throw SelectionError.invalidFeatureSpec(text, "expected LAYER:FEATURE:COEFFICIENT, e.g. 12:3456:8.5")
        }
        guard let layer = Int(parts[0]), layer >= 0 else {
            throw SelectionError.invalidFeatureSpec(text, "layer '\(parts[0])' is not a non-negative integer")
        }
        guard let feature = Int(parts[1]), feature >= 0 else {
            throw SelectionError.invalidFeatureSpec(text, "feature index '\(parts[1])' is not a non-negative integer")
        }
        guard let coefficient = Double(parts[2]), coefficient.isFinite else {
            throw SelectionError.invalidFeatureSpec(text, "coefficient '\(parts[2])' is not a finite number")
        }
        return SteeringChoice(layer: layer, site: site(layer), feature: feature, coefficient: coefficient)
    }
}

public enum SelectionError: Error, CustomStringConvertible, Equatable {
    case layersWithoutCandidate([Int], polarity: Polarity, reasons: [String])
    case noLayers
    case invalidFeatureSpec(String, String)
    case invalidOptions(String)

    public var message: RunMessage {
        switch self {
        case let .layersWithoutCandidate(layers, polarity, reasons):
            let which = polarity == .both ? "nonzero" : polarity.rawValue
            let why = reasons.isEmpty ? "" : " (" + Set(reasons).sorted().joined(separator: "; ") + ")"
            return RunMessage("layer\(layers.count == 1 ? "" : "s") \(layers.map(String.init).joined(separator: ", ")) "
                + "\(layers.count == 1 ? "has" : "have") no feature with \(which) correlation\(why)")
        case .noLayers:
            return "no layers to select from"
        case let .invalidFeatureSpec(text, reason):
            return "\(RunSetting.feature) '\(text)': \(reason)"
        case let .invalidOptions(reason):
            return "selection options: \(reason)"
        }
    }

    public var description: String { message.description }
}

/// Per-layer candidate ranking (method §5.1).
public enum FeatureSelection {
    /// Ranks one layer's features. `neuronpedia` is a source template (see `NeuronpediaLink`).
    public static func candidates(
        from statistics: FeatureStatistics, layer: Int, site: String, options: SelectionOptions,
        neuronpedia: String? = nil
    ) throws -> LayerCandidates {
        guard options.topK > 0 else { throw SelectionError.invalidOptions("top-k must be at least 1, got \(options.topK)") }
        guard options.scale.isFinite else { throw SelectionError.invalidOptions("scale must be finite, got \(options.scale)") }
        let r = statistics.correlations()
        let scores = statistics.scores(options.score)
        let coefficients = statistics.coefficients(options.coefficient)
        let activeOnly = options.coefficient == .activeMean
        let success = statistics.successMeans(activeOnly: activeOnly)
        let failure = statistics.failureMeans(activeOnly: activeOnly)
        let (frequency, correct, incorrect) = statistics.frequencies()

        func candidate(_ i: Int, negative: Bool) -> FeatureCandidate {
            let c = coefficients[i] * options.scale
            return FeatureCandidate(
                feature: i, correlation: r[i], score: scores[i], coefficient: negative ? -abs(c) : c,
                frequency: frequency[i], frequencyCorrect: correct[i], frequencyIncorrect: incorrect[i],
                coefficientSuccess: success[i], coefficientFailure: failure[i],
                neuronpediaURL: neuronpedia.map { NeuronpediaLink.url(source: $0, layer: layer, feature: i) })
        }
        let wantPositive = options.polarity != .negative
        let wantNegative = options.polarity != .positive
        let positive = wantPositive ? top(options.topK, scores: scores, where: { r[$0] > 0 }).map { candidate($0, negative: false) } : []
        let negative = wantNegative ? top(options.topK, scores: scores, where: { r[$0] < 0 }).map { candidate($0, negative: true) } : []

        let selected: FeatureCandidate?
        switch options.polarity {
        case .positive: selected = positive.first
        case .negative: selected = negative.first
        case .both:
            switch (positive.first, negative.first) {
            case let (p?, n?): selected = abs(p.correlation) >= abs(n.correlation) ? p : n
            case let (p, n): selected = p ?? n
            }
        }
        var warnings = statistics.warnings.map(\.description)
        if selected == nil {
            let which = options.polarity == .both ? "nonzero" : options.polarity.rawValue
            warnings.append("no feature with \(which) correlation: layer has no candidate")
        }
        return LayerCandidates(layer: layer, site: site, topPositive: positive, topNegative: negative,
                               selected: selected, warnings: warnings)
    }

    /// Indices of the `k` largest scores among features passing `isCandidate`, best first; equal scores
    /// go to the lower index (torch.topk leaves their order unspecified). NaN scores rank last.
    static func top(_ k: Int, scores: [Double], where isCandidate: (Int) -> Bool) -> [Int] {
        let indices = scores.indices.filter(isCandidate)
        func key(_ i: Int) -> Double { scores[i].isNaN ? -.infinity : scores[i] }
        let sorted = indices.sorted { a, b in
            let (ka, kb) = (key(a), key(b))
            return ka != kb ? ka > kb : a < b
        }
        return Array(sorted.prefix(k))
    }
}

extension FeatureCandidates {
    /// CorrSteer-S: the selected feature of the layer with the largest |r| (strict `>` in ascending layer
    /// order, so the lowest layer wins ties). Layers without a candidate are passed over.
    public func singleBest() throws -> SteeringChoice {
        guard !layers.isEmpty else { throw SelectionError.noLayers }
        var best: LayerCandidates?
        for layer in layers.sorted(by: { $0.layer < $1.layer }) {
            guard let feature = layer.selected else { continue }
            if let current = best?.selected, !(abs(feature.correlation) > abs(current.correlation)) { continue }
            best = layer
        }
        guard let best, let feature = best.selected else {
            throw SelectionError.layersWithoutCandidate(layers.map(\.layer), polarity: polarity, reasons: Self.reasons(layers))
        }
        return SteeringChoice(layer: best.layer, site: best.site, feature: feature.feature,
                              coefficient: feature.coefficient, correlation: feature.correlation)
    }

    /// CorrSteer-A (and the candidate list of P): every layer's selected feature, layers ascending.
    /// A layer without a candidate is an error unless `skippingEmptyLayers`.
    public func everyLayer(skippingEmptyLayers: Bool = false) throws -> [SteeringChoice] {
        guard !layers.isEmpty else { throw SelectionError.noLayers }
        let empty = layers.filter { $0.selected == nil }
        if !empty.isEmpty && !skippingEmptyLayers {
            throw SelectionError.layersWithoutCandidate(empty.map(\.layer), polarity: polarity, reasons: Self.reasons(empty))
        }
        let choices = layers.sorted { $0.layer < $1.layer }.compactMap { layer in
            layer.selected.map {
                SteeringChoice(layer: layer.layer, site: layer.site, feature: $0.feature,
                               coefficient: $0.coefficient, correlation: $0.correlation)
            }
        }
        guard !choices.isEmpty else {
            throw SelectionError.layersWithoutCandidate(layers.map(\.layer), polarity: polarity, reasons: Self.reasons(layers))
        }
        return choices
    }

    /// Why layers lack candidates, without the "no candidate" note itself.
    private static func reasons(_ layers: [LayerCandidates]) -> [String] {
        layers.flatMap(\.warnings).filter { !$0.hasPrefix("no feature with") }
    }

    /// The features a strategy steers with. For `.pruned` this is the candidate list (every layer,
    /// ascending); validation, which drops layers, is the evaluator's job.
    public func choices(for strategy: SteeringStrategy, skippingEmptyLayers: Bool = false) throws -> [SteeringChoice] {
        switch strategy {
        case .single: [try singleBest()]
        case .allLayers, .pruned: try everyLayer(skippingEmptyLayers: skippingEmptyLayers)
        }
    }
}
