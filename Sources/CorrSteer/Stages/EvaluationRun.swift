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
    /// Baselines and controls evaluated beside the strategies (`--compare`).
    public var comparisons: [ComparisonMethod] = []
    /// Scales tried on the validation split (`--scale-sweep`): CorrSteer's coefficient scale is the best of
    /// them (plan A decides, S/A/P use it), and DiffMean chooses its own from the same list. Nil: scale 1
    /// for CorrSteer, `ComparisonDefaults.scales` for DiffMean.
    public var scaleSweep: [Double]?
    /// The instruction of the `prompt` comparison; nil = the task's built-in one (`TaskInstructions`).
    public var instruction: String?
    /// Seed of the random controls (random features and directions).
    public var controlSeed: UInt64 = 0
    /// Evaluations over different seeds (`--seeds`): seed k > 0 re-deals the held-out items between
    /// validation and test and draws new random controls; `eval/seeds.json` summarises them.
    public var seeds = 1

    public init() {}

    /// The scales DiffMean tries when no `--scale-sweep` is given.
    public static let defaultSweep: [Double] = [0.25, 0.5, 1, 2, 4]

    enum CodingKeys: String, CodingKey {
        case strategies, positions, bootstrap, comparisons = "compare", instruction
        case scaleSweep = "scale_sweep"
        case controlSeed = "control_seed", seeds
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
    /// Progress and notices (the library is silent unless given somewhere to write).
    public var output = StageOutput.silent
    /// Which of the `--seeds` evaluations this is (0: the run's own splits, files directly in `eval/`).
    private var seedIndex = 0

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
        try checkComparisonsCanRun(manifest: manifest)
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
        // The collection's stop set: the manifest records it; older manifests get it recomputed.
        let stops = manifest.model.stopTokenIDs.map(Set.init)
            ?? context.stopTokenIDs(manifest.configuration.reference)
        let predictor = Predictor(context: context, task: task, batchSize: batchSize, allowedTokenIDs: allowed,
                                  positions: options.positions, stopTokenIDs: stops,
                                  reverseRewards: manifest.configuration.reverseRewards, output: output)
        let common = EvaluationKey(options: options, stopTokenIDs: stops.sorted(),
                                   reverseRewards: manifest.configuration.reverseRewards)
        var perSeed: [[VariantResult]] = []
        for k in 0 ..< options.seeds {
            var evaluation = self
            evaluation.seedIndex = k
            let splits = k == 0 ? task.splits : SeedSummary.redealHeldOut(task.splits, seed: options.controlSeed &+ UInt64(k))
            perSeed.append(try evaluation.evaluate(splits: splits, manifest: manifest, candidates: candidates,
                                                   predictor: predictor, common: common))
        }
        let summaryURL = run.evalDirectory.appendingPathComponent("seeds.json")
        if options.seeds > 1 {
            try RunFileCoding.write(SeedSummary(perSeed.map { $0.map(\.metrics) },
                                                controlSeeds: (0 ..< options.seeds).map { options.controlSeed &+ UInt64($0) }),
                                    to: summaryURL)
        } else {
            // A summary of an earlier multi-seed evaluation no longer describes eval/.
            try? FileManager.default.removeItem(at: summaryURL)
        }
        return perSeed[0]
    }

    /// What `--compare` and `--seeds` need that a run may lack, checked before the model loads.
    private func checkComparisonsCanRun(manifest: RunManifest) throws {
        guard options.seeds >= 1, options.seeds <= 1000 else {
            throw RunError.invalidSetting("seeds must be between 1 and 1000, got \(options.seeds)")
        }
        if options.comparisons.contains(.prompt),
           options.instruction == nil, TaskInstructions.instruction(for: manifest.configuration.task) == nil {
            throw RunError.invalidSetting("\(RunSetting.comparisons) prompt: task '\(manifest.configuration.task)' has no built-in instruction; give one with \(RunSetting.instruction)")
        }
        if options.comparisons.contains(.diffMean) || options.comparisons.contains(.shuffledLabels),
           try StatisticsCheckpoint.load(from: run)?.controlLayers == nil {
            throw RunError.invalidRun(path: run.url.path, reason: "\(RunSetting.comparisons) diffmean and shuffled-labels need control statistics, which this run's collection did not gather (it was made by an older corrsteer); collect it again")
        }
    }

    /// One evaluation on `splits`, written under `evalRoot`.
    private func evaluate(splits: TaskSplits, manifest: RunManifest, candidates: FeatureCandidates,
                          predictor: Predictor, common: EvaluationKey) throws -> [VariantResult] {
        var task = predictor.task
        task.splits = splits
        let baseline = try predictor.predict(task.splits.test, plan: nil, label: "baseline",
                                             partial: try partial("baseline", key: common.forVariant("baseline")))
        var results = [try finish(variant: "baseline", predictions: baseline, baseline: nil,
                                   reversed: manifest.configuration.reverseRewards)]
        let rows = DecoderRowSource(manifest: manifest)
        var scale = 1.0
        if let values = options.scaleSweep {
            scale = try sweep("corrsteer-scale", values: values, predictor: predictor, validation: task.splits.validation,
                              key: common, manifest: manifest) { value in
                try corrSteerPlan(.allLayers, scale: value, candidates: candidates, manifest: manifest, rows: rows)
            }
        }
        for strategy in options.strategies {
            let plan: SteeringPlan
            switch strategy {
            case .single, .allLayers:
                plan = try corrSteerPlan(strategy, scale: scale, candidates: candidates, manifest: manifest, rows: rows)
            case .pruned:
                plan = try prunedPlan(candidates: candidates, manifest: manifest, rows: rows, predictor: predictor,
                                      validation: task.splits.validation, key: common, scale: scale)
            }
            let key = common.forVariant(strategy.rawValue, steered: true, plan: try plan.fingerprint())
            let predictions = try predictor.predict(task.splits.test, plan: plan, label: strategy.rawValue,
                                                    partial: try partial(strategy.rawValue, key: key))
            results.append(try finish(variant: strategy.rawValue, predictions: predictions, baseline: baseline,
                                      reversed: manifest.configuration.reverseRewards))
        }
        if !options.comparisons.isEmpty {
            let comparisons = ComparisonSetup(run: run, manifest: manifest, candidates: candidates, rows: rows,
                                              reference: try corrSteerPlan(.allLayers, scale: scale, candidates: candidates, manifest: manifest, rows: rows),
                                              scale: scale, decoderBiasMode: decoderBiasMode(candidates, manifest),
                                              seed: options.controlSeed &+ UInt64(seedIndex))
            for method in options.comparisons {
                var examples = task.splits.test
                var plan: SteeringPlan?
                var fingerprint: String
                switch method {
                case .prompt:
                    // Present: checked before the model loaded.
                    let instruction = options.instruction ?? TaskInstructions.instruction(for: manifest.configuration.task) ?? ""
                    examples = examples.map { $0.withInstruction(instruction) }
                    fingerprint = try Fingerprint.of(["instruction": instruction])
                case .diffMean:
                    let values = options.scaleSweep ?? EvaluationOptions.defaultSweep
                    let chosen = try sweep("diffmean", values: values, predictor: predictor, validation: task.splits.validation,
                                           key: common, manifest: manifest) { try comparisons.plan(.diffMean, scale: $0) }
                    plan = try comparisons.plan(.diffMean, scale: chosen)
                    fingerprint = try plan!.fingerprint()
                default:
                    plan = try comparisons.plan(method, scale: scale)
                    fingerprint = try plan!.fingerprint()
                }
                if let plan {
                    try plan.save(to: evalRoot.appendingPathComponent(method.rawValue).appendingPathComponent("plan.json"))
                }
                let key = common.forVariant(method.rawValue, steered: plan != nil, plan: fingerprint)
                let predictions = try predictor.predict(examples, plan: plan, label: method.rawValue,
                                                        partial: try partial(method.rawValue, key: key))
                results.append(try finish(variant: method.rawValue, predictions: predictions, baseline: baseline,
                                          reversed: manifest.configuration.reverseRewards))
            }
        }
        return results
    }

    /// CorrSteer's plan for `strategy` at coefficient scale `scale`: the stored plan at scale 1, else one
    /// built from features.json with every coefficient multiplied (kept in memory; plans/ keep scale 1).
    private func corrSteerPlan(_ strategy: SteeringStrategy, scale: Double, candidates: FeatureCandidates,
                               manifest: RunManifest, rows: DecoderRowSource) throws -> SteeringPlan {
        guard scale != 1 else { return try storedPlan(strategy, candidates: candidates, manifest: manifest, rows: rows) }
        let choices = try candidates.choices(for: strategy, skippingEmptyLayers: true).map {
            var choice = $0
            choice.coefficient *= scale
            return choice
        }
        return try SteeringPlan.build(
            name: strategy.rawValue, strategy: strategy, source: "features.json, coefficients × \(scale) (chosen on validation)",
            model: manifest.model.path, sae: manifest.configuration.sae, choices: choices,
            decoderBiasMode: decoderBiasMode(candidates, manifest), decoderRows: rows.rows, decoderBias: rows.bias)
    }

    /// Validation accuracy of `plan(value)` for every value; returns the best value (ties: the one nearest
    /// 1 on a log scale, then the smaller). The accuracies are kept in `eval/sweeps/NAME.json` with the
    /// settings they were measured with, so a restart measures only what is missing.
    private func sweep(_ name: String, values: [Double], predictor: Predictor, validation: [TaskExample],
                       key common: EvaluationKey, manifest: RunManifest,
                       plan: (Double) throws -> SteeringPlan) throws -> Double {
        guard !values.isEmpty, values.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw RunError.invalidSetting("scale sweep: values must be positive and finite, got \(values)")
        }
        guard !validation.isEmpty else {
            throw RunError.noSamples("a scale sweep needs a validation split, and task '\(manifest.configuration.task)' has none")
        }
        let url = evalRoot.appendingPathComponent("sweeps").appendingPathComponent("\(name).json")
        var key = common.forVariant("\(name) sweep", steered: true, plan: try plan(1).fingerprint())
        key.validationLimit = options.validationLimit
        var ledger = SweepLedger(key: key)
        if let stored = try? RunFileCoding.read(SweepLedger.self, from: url), stored.key == key { ledger = stored }
        for value in values where ledger.accuracies[String(value)] == nil {
            let predictions = try predictor.predict(validation, plan: try plan(value), label: "\(name) × \(value) (validation)", partial: nil)
            ledger.accuracies[String(value)] = predictions.map(\.reward).reduce(0, +) / Double(predictions.count)
            try RunFileCoding.write(ledger, to: url)
        }
        let best = values.min { a, b in
            let (x, y) = (ledger.accuracies[String(a)] ?? -1, ledger.accuracies[String(b)] ?? -1)
            if x != y { return x > y }
            if abs(log(a)) != abs(log(b)) { return abs(log(a)) < abs(log(b)) }
            return a < b
        }!
        ledger.chosen = best
        try RunFileCoding.write(ledger, to: url)
        return best
    }

    /// `eval/`, or `eval/seeds/K/` for the K-th of several seeds.
    private var evalRoot: URL {
        seedIndex == 0 ? run.evalDirectory
            : run.evalDirectory.appendingPathComponent("seeds").appendingPathComponent("\(seedIndex)")
    }

    private func partialURL(_ variant: String) -> URL {
        evalRoot.appendingPathComponent(variant).appendingPathComponent("predictions.partial.jsonl")
    }

    private func keyURL(_ variant: String) -> URL {
        evalRoot.appendingPathComponent(variant).appendingPathComponent("evaluation.json")
    }

    /// The partial-predictions file of `variant`, made safe to continue: interrupted predictions are kept
    /// only when `eval/VARIANT/evaluation.json` shows they were made with exactly `key` (same options,
    /// same plan); otherwise they are removed and the variant starts again.
    private func partial(_ variant: String, key: EvaluationKey) throws -> URL {
        let url = partialURL(variant)
        let stored = try? RunFileCoding.read(EvaluationKey.self, from: keyURL(variant))
        if stored != key {
            if FileManager.default.fileExists(atPath: url.path) {
                let changed = stored.map { key.differences(from: $0) } ?? ["no record of its options"]
                note("evaluate \(variant): the interrupted predictions were made with different settings (\(changed.joined(separator: ", "))); starting this variant again")
                try FileManager.default.removeItem(at: url)
            }
            try RunFileCoding.write(key, to: keyURL(variant))
        }
        return url
    }

    private func note(_ line: String) {
        // A notice, not progress: it explains why work is being redone.
        output.notice(line)
    }

    private func finish(variant: String, predictions: [PredictionRecord], baseline: [PredictionRecord]?,
                        reversed: Bool) throws -> VariantResult {
        try PredictionsFile.write(predictions, to: evalRoot.appendingPathComponent(variant).appendingPathComponent("predictions.jsonl"))
        try? FileManager.default.removeItem(at: partialURL(variant))
        var metrics = try VariantMetrics.compute(variant: variant, predictions: predictions, baseline: baseline,
                                                 bootstrap: options.bootstrap)
        if reversed {
            metrics.notes.append("rewards reversed (--reverse): every reward, accuracy, SER and McNemar count uses 1 − the task's score")
        }
        try metrics.save(to: evalRoot.appendingPathComponent(variant).appendingPathComponent("metrics.json"))
        return VariantResult(variant: variant, metrics: metrics)
    }

    /// The stored S or A plan, or — when `select` wrote none — one rebuilt from features.json with the
    /// recorded `--decode`.
    private func storedPlan(_ strategy: SteeringStrategy, candidates: FeatureCandidates, manifest: RunManifest,
                            rows: DecoderRowSource) throws -> SteeringPlan {
        let url = run.plan(strategy.rawValue)
        if FileManager.default.fileExists(atPath: url.path) { return try SteeringPlan.load(from: url) }
        let plan = try SteeringPlan.build(
            name: strategy.rawValue, strategy: strategy, source: "features.json", model: manifest.model.path,
            sae: manifest.configuration.sae, choices: try candidates.choices(for: strategy, skippingEmptyLayers: true),
            decoderBiasMode: decoderBiasMode(candidates, manifest), decoderRows: rows.rows, decoderBias: rows.bias)
        try plan.save(to: url)
        return plan
    }

    private func decoderBiasMode(_ candidates: FeatureCandidates, _ manifest: RunManifest) -> DecoderBiasMode {
        manifest.configuration.reference.decoderBiasMode(decode: candidates.decode ?? false)
    }

    /// CorrSteer-P (method §5.4): each layer's feature alone on the validation split; the layers that
    /// beat the unsteered validation accuracy strictly are steered together. Every validation plan and
    /// the final plan are built from the selection with the run's `--decode` mode, so under
    /// `--paper-compat --decode` each single-layer plan and P's lowest kept layer carry b_dec, as in the
    /// reference.
    private func prunedPlan(candidates: FeatureCandidates, manifest: RunManifest, rows: DecoderRowSource,
                            predictor: Predictor, validation: [TaskExample], key common: EvaluationKey,
                            scale: Double) throws -> SteeringPlan {
        guard !validation.isEmpty else {
            throw RunError.noSamples("CorrSteer-P needs a validation split, and task '\(manifest.configuration.task)' has none")
        }
        let all = try corrSteerPlan(.allLayers, scale: scale, candidates: candidates, manifest: manifest, rows: rows)
        let choices = all.entries.map {
            SteeringChoice(layer: $0.layer, site: $0.site, feature: $0.feature, coefficient: $0.coefficient, correlation: $0.correlation)
        }
        let mode = decoderBiasMode(candidates, manifest)
        func plan(_ name: String, _ choices: [SteeringChoice]) throws -> SteeringPlan {
            try SteeringPlan.build(name: name, strategy: .pruned, source: "features.json + validation (eval/P/validation.json)",
                                   model: all.model, sae: all.sae, choices: choices, decoderBiasMode: mode,
                                   decoderRows: rows.rows, decoderBias: rows.bias)
        }
        let ledgerURL = evalRoot.appendingPathComponent("P").appendingPathComponent("validation.json")
        var key = common.forVariant("P validation", steered: true, plan: try all.fingerprint())
        key.validationLimit = options.validationLimit
        key.decoderBias = mode
        var ledger = ValidationLedger(key: key)
        if let stored = try? RunFileCoding.read(ValidationLedger.self, from: ledgerURL) {
            if stored.key == key {
                ledger = stored
            } else {
                let changed = stored.key.map { key.differences(from: $0) } ?? ["no record of its options"]
                note("evaluate P: the stored validation accuracies were measured with different settings (\(changed.joined(separator: ", "))); validating again")
            }
        }
        func accuracy(_ plan: SteeringPlan?, label: String) throws -> Double {
            let predictions = try predictor.predict(validation, plan: plan, label: label, partial: nil)
            return predictions.map(\.reward).reduce(0, +) / Double(predictions.count)
        }
        if ledger.baseline == nil {
            ledger.baseline = try accuracy(nil, label: "P validation baseline")
            try RunFileCoding.write(ledger, to: ledgerURL)
        }
        let baseline = ledger.baseline ?? 0
        for choice in choices where ledger.layers["\(choice.layer)"] == nil {
            let single = try plan("P-layer-\(choice.layer)", [choice])
            ledger.layers["\(choice.layer)"] = try accuracy(single, label: "P validation layer \(choice.layer)")
            try RunFileCoding.write(ledger, to: ledgerURL)
        }
        let pruned = try plan("P", choices.filter { (ledger.layers["\($0.layer)"] ?? 0) > baseline })
        // Only the run's own evaluation owns plans/P.json; other seeds keep their P beside their results.
        try pruned.save(to: seedIndex == 0 ? run.plan("P") : evalRoot.appendingPathComponent("P").appendingPathComponent("plan.json"))
        return pruned
    }
}

/// CorrSteer-P's validation accuracies, saved after every layer so a restart skips finished layers, with
/// the settings they were measured with (a restart with other settings measures again).
struct ValidationLedger: Codable {
    var key: EvaluationKey?
    var baseline: Double?
    var layers: [String: Double] = [:]

    init(key: EvaluationKey) { self.key = key }
}

/// Validation accuracies of a scale sweep (`eval/sweeps/NAME.json`): by scale, with the settings they
/// were measured with and the chosen scale.
struct SweepLedger: Codable {
    var key: EvaluationKey?
    var accuracies: [String: Double] = [:]
    var chosen: Double?

    init(key: EvaluationKey) { self.key = key }
}

/// Everything besides the test items that decides a variant's predictions: stored in
/// `eval/VARIANT/evaluation.json` (and in `eval/P/validation.json`), compared before partial results are reused.
struct EvaluationKey: Codable, Equatable {
    var version = 1
    var variant: String
    var fewShot: Int
    var chainOfThought: Bool
    var constrainOptions: Bool
    /// Where steering adds its vectors (nil for the unsteered baseline, which it cannot change).
    var steerPositions: PositionMode?
    var stopTokenIDs: [Int]
    var reverseRewards: Bool
    /// Fingerprint of the steering plan (`SteeringPlan.fingerprint()`; for P's validation, of plan A).
    var plan: String?
    /// P's validation only: `--val-limit` and the `--decode` mode of the single-layer plans.
    var validationLimit: Int?
    var decoderBias: DecoderBiasMode?

    init(options: EvaluationOptions, stopTokenIDs: [Int], reverseRewards: Bool) {
        variant = ""
        fewShot = options.fewShot
        chainOfThought = options.chainOfThought
        constrainOptions = options.constrainOptions
        steerPositions = options.positions
        self.stopTokenIDs = stopTokenIDs
        self.reverseRewards = reverseRewards
    }

    func forVariant(_ variant: String, steered: Bool = false, plan: String? = nil) -> EvaluationKey {
        var key = self
        key.variant = variant
        if !steered { key.steerPositions = nil }
        key.plan = plan
        return key
    }

    /// Names of the settings that differ from `other`, e.g. `few_shot 0 → 1`.
    func differences(from other: EvaluationKey) -> [String] {
        func describe<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "none" }
        var changes: [String] = []
        func compare<T: Equatable>(_ name: String, _ old: T?, _ new: T?) {
            if old != new { changes.append("\(name) \(describe(old)) → \(describe(new))") }
        }
        compare("version", other.version, version)
        compare("few_shot", other.fewShot, fewShot)
        compare("chain_of_thought", other.chainOfThought, chainOfThought)
        compare("constrain_options", other.constrainOptions, constrainOptions)
        compare("steer_positions", other.steerPositions?.rawValue, steerPositions?.rawValue)
        compare("stop_token_ids", other.stopTokenIDs, stopTokenIDs)
        compare("reverse_rewards", other.reverseRewards, reverseRewards)
        compare("validation_limit", other.validationLimit, validationLimit)
        compare("decoder_bias", other.decoderBias?.rawValue, decoderBias?.rawValue)
        if other.plan != plan { changes.append("the plan or selected features changed") }
        return changes.isEmpty ? ["variant"] : changes
    }

    enum CodingKeys: String, CodingKey {
        case version, variant, plan
        case fewShot = "few_shot"
        case chainOfThought = "chain_of_thought"
        case constrainOptions = "constrain_options"
        case steerPositions = "steer_positions"
        case stopTokenIDs = "stop_token_ids"
        case reverseRewards = "reverse_rewards"
        case validationLimit = "validation_limit"
        case decoderBias = "decoder_bias"
    }
}

/// Greedy generation + extraction + scoring of a list of examples, with or without a plan.
struct Predictor {
    let context: ModelContext
    let task: LoadedTask
    let batchSize: Int
    let allowedTokenIDs: [Int]?
    let positions: PositionMode
    let stopTokenIDs: Set<Int>
    /// `--reverse`: the reward is 1 − the task's score here too, as in the reference's evaluation.
    let reverseRewards: Bool
    let output: StageOutput

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
        let progress = ProgressReporter(label: "evaluate \(label)", total: examples.count, alreadyDone: records.count, output: output)
        var correct = records.map(\.reward).reduce(0, +)
        while records.count < examples.count {
            let batch = Array(examples[records.count..<min(records.count + batchSize, examples.count)])
            let completions = try context.complete(
                batch.map(\.prompt), maxNewTokens: task.descriptor.maxNewTokens, allowedTokenIDs: allowedTokenIDs, hooks: hooks,
                stopTokenIDs: stopTokenIDs)
            let outputs = completions.map(\.text)
            var rewards = try task.score(batch, outputs: outputs)
            if reverseRewards { rewards = rewards.map { 1 - $0 } }
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
