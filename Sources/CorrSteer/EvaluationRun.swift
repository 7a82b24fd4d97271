import Foundation
import LanguageModels
import Tasks
import WeightFiles

/// Options of stage 3 (method §5.4, §6, §8).
public struct EvaluationOptions: Codable, Equatable, Sendable {
    public var strategies: [SteeringStrategy] = [.single, .allLayers, .pruned]
    /// Validation samples for CorrSteer-P (`--val-limit`).
    public var validationLimit: Int = 200
    /// Test samples (`--test-limit`); nil = the whole test split.
    public var testLimit: Int?
    /// Constrained decoding to the option tokens for multiple-choice tasks (`--constrain-options`).
    public var constrainOptions = false
    public var positions: PositionMode = .generation
    public var batchSize: Int?
    public var fewShot = 0
    public var chainOfThought = false
    public var bootstrap = BootstrapOptions()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case strategies, positions, bootstrap
        case validationLimit = "validation_limit"
        case testLimit = "test_limit"
        case constrainOptions = "constrain_options"
        case batchSize = "batch_size"
        case fewShot = "few_shot"
        case chainOfThought = "chain_of_thought"
    }
}

/// Stage 3: baseline and steered generations on held-out data, CorrSteer-P's validation pass, and
/// the metrics of every variant against the baseline. Each finished variant is kept on disk, and an
/// interrupted one continues from its last finished batch.
public struct EvaluationRun {
    public var run: RunDirectory
    public var options: EvaluationOptions
    public var quiet = false

    public init(run: RunDirectory, options: EvaluationOptions = EvaluationOptions()) {
        self.run = run
        self.options = options
    }

    public struct VariantResult: Sendable {
        public let variant: String
        public let metrics: VariantMetrics
    }

    @discardableResult
    public func execute(context: ModelContext? = nil) throws -> [VariantResult] {
        let lock = try RunLock.acquire(run)
        defer { withExtendedLifetime(lock) {} }
        try run.refuseLinks()
        let manifest = try RunManifest.load(from: run)
        guard FileManager.default.fileExists(atPath: run.features.path) else {
            throw RunError.invalidRun(path: run.url.path, reason: "no features.json; run `corrsteer select \(run.url.path)` first")
        }
        let candidates = try FeatureCandidates.load(from: run.features)
        let context = try context ?? ModelContext.load(manifest.configuration.model)
        let task = try TaskSetup.load(
            manifest.configuration, fewShot: options.fewShot, chainOfThought: options.chainOfThought,
            validationLimit: options.validationLimit, testLimit: options.testLimit)
        guard !task.splits.test.isEmpty else {
            throw RunError.noSamples("task '\(manifest.configuration.task)' has an empty test split")
        }
        let batchSize = options.batchSize ?? manifest.configuration.batchSize
        let allowed: [Int]? = options.constrainOptions && task.descriptor.kind == .select
            ? try context.optionTokenIDs(task.descriptor.optionStrings) : nil
        let predictor = Predictor(context: context, task: task, batchSize: batchSize, allowedTokenIDs: allowed,
                                  positions: options.positions, quiet: quiet)

        let baseline = try predictor.predict(task.splits.test, plan: nil, label: "baseline",
                                             partial: partialURL("baseline"))
        var results = [try finish(variant: "baseline", predictions: baseline, baseline: nil)]
        let rows = DecoderRowSource(manifest: manifest)
        for strategy in options.strategies {
            let plan: SteeringPlan
            switch strategy {
            case .single, .allLayers:
                plan = try storedPlan(strategy, candidates: candidates, manifest: manifest, rows: rows)
            case .pruned:
                plan = try prunedPlan(candidates: candidates, manifest: manifest, rows: rows, predictor: predictor,
                                      validation: task.splits.validation)
            }
            let predictions = try predictor.predict(task.splits.test, plan: plan, label: strategy.rawValue,
                                                    partial: partialURL(strategy.rawValue))
            results.append(try finish(variant: strategy.rawValue, predictions: predictions, baseline: baseline))
        }
        return results
    }

    private func partialURL(_ variant: String) -> URL {
        run.evalDirectory.appendingPathComponent(variant).appendingPathComponent("predictions.partial.jsonl")
    }

    private func finish(variant: String, predictions: [PredictionRecord], baseline: [PredictionRecord]?) throws -> VariantResult {
        try PredictionsFile.write(predictions, to: run.predictions(variant: variant))
        try? FileManager.default.removeItem(at: partialURL(variant))
        let metrics = try VariantMetrics.compute(variant: variant, predictions: predictions, baseline: baseline,
                                                 bootstrap: options.bootstrap)
        try metrics.save(to: run.metrics(variant: variant))
        return VariantResult(variant: variant, metrics: metrics)
    }

    private func storedPlan(_ strategy: SteeringStrategy, candidates: FeatureCandidates, manifest: RunManifest,
                            rows: DecoderRowSource) throws -> SteeringPlan {
        let url = run.plan(strategy.rawValue)
        if FileManager.default.fileExists(atPath: url.path) { return try SteeringPlan.load(from: url) }
        let plan = try SteeringPlan.build(
            name: strategy.rawValue, strategy: strategy, source: "features.json", model: manifest.model.path,
            sae: manifest.configuration.sae, choices: try candidates.choices(for: strategy, skippingEmptyLayers: true),
            decoderRows: rows.rows)
        try plan.save(to: url)
        return plan
    }

    /// CorrSteer-P (method §5.4): each layer's feature alone on the validation split; the layers that
    /// beat the unsteered validation accuracy strictly are steered together.
    private func prunedPlan(candidates: FeatureCandidates, manifest: RunManifest, rows: DecoderRowSource,
                            predictor: Predictor, validation: [TaskExample]) throws -> SteeringPlan {
        guard !validation.isEmpty else {
            throw RunError.noSamples("CorrSteer-P needs a validation split, and task '\(manifest.configuration.task)' has none")
        }
        let all = try storedPlan(.allLayers, candidates: candidates, manifest: manifest, rows: rows)
        let ledgerURL = run.evalDirectory.appendingPathComponent("P").appendingPathComponent("validation.json")
        var ledger = (try? RunFileCoding.read(ValidationLedger.self, from: ledgerURL)) ?? ValidationLedger()
        func accuracy(_ plan: SteeringPlan?, label: String) throws -> Double {
            let predictions = try predictor.predict(validation, plan: plan, label: label, partial: nil)
            return predictions.map(\.reward).reduce(0, +) / Double(predictions.count)
        }
        if ledger.baseline == nil {
            ledger.baseline = try accuracy(nil, label: "P validation baseline")
            try RunFileCoding.write(ledger, to: ledgerURL)
        }
        let baseline = ledger.baseline ?? 0
        for entry in all.entries where ledger.layers["\(entry.layer)"] == nil {
            var single = all
            single.name = "P-layer-\(entry.layer)"
            single.entries = [entry]
            ledger.layers["\(entry.layer)"] = try accuracy(single, label: "P validation layer \(entry.layer)")
            try RunFileCoding.write(ledger, to: ledgerURL)
        }
        var pruned = all
        pruned.name = "P"
        pruned.strategy = .pruned
        pruned.source = "features.json + validation (eval/P/validation.json)"
        pruned.entries = all.entries.filter { (ledger.layers["\($0.layer)"] ?? 0) > baseline }
        try pruned.save(to: run.plan("P"))
        return pruned
    }
}

/// CorrSteer-P's validation accuracies, saved after every layer so a restart skips finished layers.
struct ValidationLedger: Codable {
    var baseline: Double?
    var layers: [String: Double] = [:]
}

/// Greedy generation + extraction + scoring of a list of examples, with or without a plan.
struct Predictor {
    let context: ModelContext
    let task: LoadedTask
    let batchSize: Int
    let allowedTokenIDs: [Int]?
    let positions: PositionMode
    let quiet: Bool

    func predict(_ examples: [TaskExample], plan: SteeringPlan?, label: String, partial: URL?) throws -> [PredictionRecord] {
        var hooks: [ResidualHook] = []
        if let plan, !plan.entries.isEmpty {
            let hook = try SteeringHook(plan: plan, positions: positions)
            try hook.validate(for: context.model)
            hooks.append(hook)
        }
        var records: [PredictionRecord] = []
        if let partial, FileManager.default.fileExists(atPath: partial.path) {
            records = (try? PredictionsFile.read(from: partial)) ?? []
            // Keep only a prefix that matches the examples in order; anything else is regenerated.
            let matching = zip(records, examples).prefix { $0.id == $1.id }.count
            records = Array(records.prefix(matching))
            try AtomicFile.write(records.reduce(into: Data()) { $0.append(try PredictionsFile.line($1)) }, to: partial)
        }
        let progress = ProgressReporter(label: "evaluate \(label)", total: examples.count, alreadyDone: records.count, quiet: quiet)
        var correct = records.map(\.reward).reduce(0, +)
        while records.count < examples.count {
            let batch = Array(examples[records.count..<min(records.count + batchSize, examples.count)])
            let completions = try context.complete(
                batch.map(\.prompt), maxNewTokens: task.descriptor.maxNewTokens, allowedTokenIDs: allowedTokenIDs, hooks: hooks)
            let outputs = completions.map(\.text)
            let rewards = try task.score(batch, outputs: outputs)
            let new = zip(batch, zip(outputs, rewards)).map { example, item in
                PredictionRecord(id: example.id, prompt: example.prompt, output: item.0,
                                 predicted: task.extractAnswer(from: item.0), gold: example.gold, reward: item.1)
            }
            if let partial {
                try AppendOnlyFile.append(try new.reduce(into: Data()) { $0.append(try PredictionsFile.line($1)) }, to: partial)
            }
            records += new
            correct += rewards.reduce(0, +)
            progress.update(done: records.count, correct: correct)
        }
        progress.finish()
        return records
    }
}
