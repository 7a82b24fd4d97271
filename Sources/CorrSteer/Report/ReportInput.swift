import Foundation
import WeightFiles

/// Everything a report shows. Plain values: the report renderers read no files.
public struct ReportInput: Sendable {
    /// One row of the run-facts table (model, SAE, site, samples, time, samples/s, …).
    public struct Fact: Equatable, Sendable {
        public var label: String
        public var value: String

        public init(_ label: String, _ value: String) {
            self.label = label
            self.value = value
        }
    }

    /// The features one plan steers with.
    public struct Plan: Equatable, Sendable {
        public var name: String
        public var choices: [SteeringChoice]

        public init(name: String, choices: [SteeringChoice]) {
            self.name = name
            self.choices = choices
        }
    }

    /// Items a variant fixed and broke relative to the baseline.
    public struct Examples: Equatable, Sendable {
        public var variant: String
        public var improved: [ExampleChange]
        public var broken: [ExampleChange]

        public init(variant: String, improved: [ExampleChange], broken: [ExampleChange]) {
            self.variant = variant
            self.improved = improved
            self.broken = broken
        }
    }

    public var title: String
    public var facts: [Fact]
    /// Baseline first, then the steered variants.
    public var variants: [VariantMetrics]
    public var layers: [LayerCandidates]
    public var plans: [Plan]
    /// Neuronpedia source template (`{L}` = layer) for links to selected features; nil if unknown.
    public var neuronpedia: String?
    public var examples: [Examples]
    /// Per layer, how r spreads over every feature (from the statistics; empty without them).
    public var histograms: [CorrelationHistogram]
    /// CorrSteer-P's validation accuracies (`eval/P/validation.json`), when P was evaluated.
    public var pValidation: PValidationSummary?
    /// Test accuracy per task category and variant; empty for tasks without categories.
    public var categories: [CategoryAccuracy]
    /// Every variant over the evaluations of `--seeds` (`eval/seeds.json`); nil after a single evaluation.
    public var seeds: SeedSummary?
    /// Variants left out because an earlier evaluation made them on other test items than the baseline's.
    public var omitted: [String] = []

    public init(title: String, facts: [Fact] = [], variants: [VariantMetrics] = [], layers: [LayerCandidates] = [],
                plans: [Plan] = [], neuronpedia: String? = nil, examples: [Examples] = [],
                histograms: [CorrelationHistogram] = [], pValidation: PValidationSummary? = nil,
                categories: [CategoryAccuracy] = []) {
        self.title = title
        self.facts = facts
        self.variants = variants
        self.layers = layers
        self.plans = plans
        self.neuronpedia = neuronpedia
        self.examples = examples
        self.histograms = histograms
        self.pValidation = pValidation
        self.categories = categories
    }

    /// Link to a feature's Neuronpedia page, from the template or from the candidates' stored links.
    func neuronpediaURL(layer: Int, feature: Int) -> String? {
        if let neuronpedia { return NeuronpediaLink.url(source: neuronpedia, layer: layer, feature: feature) }
        let candidates = layers.first { $0.layer == layer }.map { $0.topPositive + $0.topNegative + ($0.selected.map { [$0] } ?? []) } ?? []
        return candidates.first { $0.feature == feature }?.neuronpediaURL
    }
}

/// Gathers a `ReportInput` from a run directory (docs/run-directory.md) and writes the reports.
public enum RunReport {
    /// Variant display order: baseline, S, A, P, then the rest by name.
    static func order(_ name: String) -> (Int, String) {
        let comparison = ComparisonMethod.allCases.firstIndex { $0.rawValue == name }.map { 4 + $0 }
        let rank = ["baseline": 0, "S": 1, "A": 2, "P": 3][name] ?? comparison ?? 4 + ComparisonMethod.allCases.count
        return (rank, name)
    }

    /// Reads whatever the run has: manifest facts, features.json, plans/*.json, eval/*/metrics.json
    /// (computed from predictions.jsonl when a metrics file is missing) and example changes.
    public static func load(runDirectory run: RunDirectory, bootstrap: BootstrapOptions = BootstrapOptions(),
                            exampleLimit: Int = 5) throws -> ReportInput {
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: run.url.path) else {
            throw RunFileError.unreadable(path: run.url.path, reason: "no such run directory")
        }
        var input = ReportInput(title: run.url.lastPathComponent)
        if fileManager.fileExists(atPath: run.manifest.path) {
            if let manifest = try? RunManifest.load(from: run) {
                input.facts = facts(manifest)
            } else {
                input.facts = try manifestFacts(run.manifest)
            }
        }
        if fileManager.fileExists(atPath: run.features.path) {
            let features = try FeatureCandidates.load(from: run.features)
            input.layers = features.layers
            input.neuronpedia = features.neuronpedia
            if input.facts.isEmpty {
                input.facts = [.init("samples", String(features.samples)), .init("pool", features.pool),
                               .init("steer pool", features.steerPool), .init("score", features.score.rawValue)]
            }
        }
        for url in (try? fileManager.contentsOfDirectory(at: run.plansDirectory, includingPropertiesForKeys: nil)) ?? []
        where url.pathExtension == "json" {
            let plan = try RunFileCoding.read(PlanFile.self, from: url)
            input.plans.append(ReportInput.Plan(name: plan.name, choices: plan.entries.map {
                SteeringChoice(layer: $0.layer, site: $0.site, feature: $0.feature, coefficient: $0.coefficient, correlation: $0.correlation)
            }))
        }
        input.plans.sort { order($0.name) < order($1.name) }

        let variantNames = ((try? fileManager.contentsOfDirectory(atPath: run.evalDirectory.path)) ?? [])
            .filter { name in
                fileManager.fileExists(atPath: run.metrics(variant: name).path)
                    || fileManager.fileExists(atPath: run.predictions(variant: name).path)
            }
            .sorted { order($0) < order($1) }
        let baselinePredictions: [PredictionRecord]? = fileManager.fileExists(atPath: run.predictions(variant: "baseline").path)
            ? try PredictionsFile.read(from: run.predictions(variant: "baseline")) : nil
        var allPredictions: [String: [PredictionRecord]] = [:]
        let baselineIDs = baselinePredictions.map { Set($0.map(\.id)) }
        for name in variantNames {
            let predictionsURL = run.predictions(variant: name)
            let predictions = fileManager.fileExists(atPath: predictionsURL.path) ? try PredictionsFile.read(from: predictionsURL) : nil
            if name != "baseline", let predictions, let baselineIDs, Set(predictions.map(\.id)) != baselineIDs {
                input.omitted.append(name)
                continue
            }
            allPredictions[name] = predictions
            if fileManager.fileExists(atPath: run.metrics(variant: name).path) {
                input.variants.append(try VariantMetrics.load(from: run.metrics(variant: name)))
            } else if let predictions {
                input.variants.append(try VariantMetrics.compute(
                    variant: name, predictions: predictions, baseline: name == "baseline" ? nil : baselinePredictions,
                    bootstrap: bootstrap))
            }
            if name != "baseline", let predictions, let baselinePredictions {
                let (improved, broken) = try ExampleChange.collect(steered: predictions, baseline: baselinePredictions, limit: exampleLimit)
                input.examples.append(ReportInput.Examples(variant: name, improved: improved, broken: broken))
            }
        }
        input.histograms = correlationHistograms(run)
        let validationURL = run.evalDirectory.appendingPathComponent("P").appendingPathComponent("validation.json")
        if fileManager.fileExists(atPath: validationURL.path) {
            let kept = Set(input.plans.first { $0.name == "P" }?.choices.map(\.layer) ?? [])
            input.pValidation = try PValidationSummary.load(from: validationURL, keptLayers: kept)
        }
        let seedsURL = run.evalDirectory.appendingPathComponent("seeds.json")
        if fileManager.fileExists(atPath: seedsURL.path) { input.seeds = try SeedSummary.load(from: seedsURL) }
        if !allPredictions.isEmpty {
            let categories = testCategories(run)
            if !categories.isEmpty { input.categories = CategoryAccuracy.group(predictions: allPredictions, categoryOf: categories) }
        }
        return input
    }

    /// The facts a reader needs first, from a manifest this build understands.
    static func facts(_ manifest: RunManifest) -> [ReportInput.Fact] {
        let configuration = manifest.configuration
        var facts: [ReportInput.Fact] = [
            .init("model", "\(manifest.model.path) (\(manifest.model.modelType), \(manifest.model.layers) layers, \(manifest.model.dtype))"),
            .init("SAE", configuration.raw ? "none (--raw: residual dimensions)" : configuration.sae ?? "–"),
            .init("task", "\(manifest.task.name): train \(manifest.task.train), validation \(manifest.task.validation), test \(manifest.task.test); scorer \(manifest.task.scorer)"),
        ]
        let sites = manifest.layers.map { layer in layer.site.replacingOccurrences(of: ".\(layer.layer).", with: ".{L}.") }
        if let first = sites.first {
            let pattern = sites.allSatisfy { $0 == first } ? first : Set(sites).sorted().joined(separator: ", ")
            let layers = manifest.layers.map(\.layer)
            facts.append(.init("site", "\(pattern), layers \(layers.map(String.init).joined(separator: ", "))"))
        }
        facts.append(.init("samples", String(manifest.samples)))
        facts.append(.init("positions / pool / steer pool", "\(configuration.positions.rawValue) / \(configuration.pool.rawValue) / \(configuration.steerPool.rawValue)"))
        facts.append(.init("paper compat", configuration.paperCompat ? "yes" : "no"))
        facts.append(.init("seed", String(configuration.seed)))
        if let seconds = manifest.collectionSeconds { facts.append(.init("collection time", String(format: "%.1f s", seconds))) }
        if let rate = manifest.samplesPerSecond { facts.append(.init("samples/s", String(format: "%.2f", rate))) }
        if let merged = manifest.mergedFrom, !merged.isEmpty { facts.append(.init("merged from", merged.joined(separator: ", "))) }
        facts.append(.init("created", manifest.created))
        facts.append(.init("corrsteer", manifest.toolVersion))
        return facts
    }

    /// Scalar fields of a manifest.json this build cannot decode (nested objects flattened as
    /// `outer.inner`), in sorted order, so a report still shows what the run recorded.
    static func manifestFacts(_ url: URL) throws -> [ReportInput.Fact] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RunFileError.unreadable(path: url.path, reason: RunFileCoding.readFailure(url, error))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw RunFileError.malformed(path: url.path, reason: "not a JSON object")
        }
        var facts: [ReportInput.Fact] = []
        func visit(_ value: Any, _ label: String, depth: Int) {
            switch value {
            case let dictionary as [String: Any]:
                guard depth < 2 else { return }
                for key in dictionary.keys.sorted() { visit(dictionary[key]!, label.isEmpty ? key : "\(label).\(key)", depth: depth + 1) }
            case let string as String:
                facts.append(.init(label, string))
            case let number as NSNumber:
                facts.append(.init(label, ReportFormat.number(number)))
            case let array as [Any] where array.count <= 40 && array.allSatisfy({ $0 is String || $0 is NSNumber }):
                facts.append(.init(label, array.map { ($0 as? String) ?? ReportFormat.number($0 as! NSNumber) }.joined(separator: ", ")))
            default:
                break
            }
        }
        visit(object, "", depth: 0)
        return facts
    }

    /// Writes `report.md` and `report.html` into the run directory, each atomically.
    public static func write(_ input: ReportInput, to run: RunDirectory) throws {
        let lock = try RunLock.acquire(run)
        defer { withExtendedLifetime(lock) {} }
        try run.refuseLinks()
        try AtomicFile.write(Data(ReportMarkdown.render(input).utf8), to: run.reportMarkdown)
        try AtomicFile.write(Data(ReportHTML.render(input).utf8), to: run.reportHTML)
    }
}
