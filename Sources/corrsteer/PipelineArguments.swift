import ArgumentParser
import CorrSteer
import Foundation
import Tasks

extension Pooling: ExpressibleByArgument {}
extension PositionMode: ExpressibleByArgument {}
extension RankingScore: ExpressibleByArgument {}
extension Polarity: ExpressibleByArgument {}
extension CoefficientKind: ExpressibleByArgument {}
// Typed at parse time so that a misspelt value is a usage error before any model is loaded.
extension ShuffleMode: ExpressibleByArgument {}
extension CustomAnswerKind: ExpressibleByArgument {}
extension BBQCondition: ExpressibleByArgument {}
extension SteeringStrategy: ExpressibleByArgument {}
extension TextMatchMetric: ExpressibleByArgument {}

/// The values of a comma-separated option, each item trimmed and turned into values by `parse`; nil when
/// any item is not understood.
func commaSeparated<Value>(_ argument: String, _ parse: (String) -> [Value]?) -> [Value]? {
    var values: [Value] = []
    for item in argument.split(separator: ",", omittingEmptySubsequences: false) {
        guard let parsed = parse(item.trimmingCharacters(in: .whitespaces)) else { return nil }
        values += parsed
    }
    return values
}

/// `--strategies S,A,P`: a comma-separated list of strategies, parsed (and rejected) at parse time.
struct StrategyList: ExpressibleByArgument, Equatable {
    var strategies: [SteeringStrategy]

    init(_ strategies: [SteeringStrategy]) { self.strategies = strategies }

    init?(argument: String) {
        guard let parsed = commaSeparated(argument, { SteeringStrategy(rawValue: $0.uppercased()).map { [$0] } }) else { return nil }
        strategies = parsed
    }

    var defaultValueDescription: String { strategies.map(\.rawValue).joined(separator: ",") }
}

/// `--compare prompt,diffmean,...`: baselines and controls, parsed at parse time.
struct ComparisonList: ExpressibleByArgument, Equatable {
    var methods: [ComparisonMethod]

    init(_ methods: [ComparisonMethod]) { self.methods = methods }

    init?(argument: String) {
        let parsed = commaSeparated(argument) { name in
            name.lowercased() == "all" ? ComparisonMethod.allCases : ComparisonMethod(rawValue: name.lowercased()).map { [$0] }
        }
        guard let parsed else { return nil }
        methods = parsed.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    static var allValueStrings: [String] { ComparisonMethod.allCases.map(\.rawValue) + ["all"] }
    var defaultValueDescription: String { methods.map(\.rawValue).joined(separator: ",") }
}

/// `--scale-sweep 0.25,0.5,1,2,4`: positive finite scales.
struct ScaleList: ExpressibleByArgument, Equatable {
    var values: [Double]

    init?(argument: String) {
        let parsed = commaSeparated(argument) { item in Double(item).flatMap { $0.isFinite && $0 > 0 ? [$0] : nil } }
        guard let parsed, !parsed.isEmpty, parsed.count <= 32 else { return nil }
        values = parsed.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }
}

/// What to collect: model, SAE, task, and every option that changes the statistics.
struct CollectionArguments: ParsableArguments {
    @Option(name: [.customShort("m"), .long], help: "Model folder, or a Hugging Face id found in the local HF cache.")
    var model: String

    @Option(help: "SAE folder (Gemma Scope tree, SAELens or Llama Scope folders) or file. Required unless --raw.")
    var sae: String?

    @Option(help: "Task: mmlu, mmlupro, gsm8k, bbq, simpleqa, harmbench, xstest, or custom.")
    var task: String

    @Option(help: "Folder with the datasets in the layout of `corrsteer tasks` (default: current folder).")
    var data: String?

    @Option(name: .customLong("task-file"), help: "JSONL file of a custom task (with --task custom; format in docs/tasks.md).")
    var taskFile: String?

    @Option(name: .customLong("custom-kind"), help: "Answer kind of a custom task (required with --task custom).")
    var customKind: CustomAnswerKind?

    @Option(help: "Training samples to collect (fewer if the train split is smaller).")
    var samples: Int = 4000

    @Option(name: .customLong("max-new-tokens"), help: "Tokens to generate per prompt (default: the task's, e.g. 1 for MMLU, 512 for GSM8K).")
    var maxNewTokens: Int?

    @Option(help: "Comma-separated layers to read (default: every layer with an SAE).")
    var layers: String?

    @Option(help: "Positions to capture: generation (the paper's) or all.")
    var positions: PositionMode = .generation

    @Option(help: "Pooling over generation positions for the correlation: max or mean.")
    var pool: Pooling = .max

    @Option(name: .customLong("steer-pool"), help: "Pooling for the steering coefficient: max or mean.")
    var steerPool: Pooling = .max

    @Option(name: .customLong("batch-size"), help: "Prompts generated together (ragged, no padding).")
    var batchSize: Int = 8

    @Option(name: .customLong("checkpoint-every"), help: "Write the statistics every N samples (rounded up to whole batches).")
    var checkpointEvery: Int = 100

    @Option(help: "Seed of the data shuffle and splits.")
    var seed: Int = 42

    @Option(help: "Shuffle: corrsteer (our documented PRNG) or hf (bit-exact Hugging Face datasets). Default: corrsteer, or hf with --paper-compat.")
    var shuffle: ShuffleMode?

    @Option(name: .customLong("bbq-filter"), help: "BBQ context condition.")
    var bbqFilter: BBQCondition?

    @Option(help: "Dataset category (for example an MMLU subject).")
    var category: String?

    @Flag(help: "Statistics over residual dimensions instead of SAE features (the paper's ablation).")
    var raw = false

    @Flag(name: .customLong("paper-compat"), help: "Reproduce every reference behaviour that changes numbers (see README).")
    var paperCompat = false

    @Flag(name: .customLong("mi"), help: "Also collect mutual-information histograms (for --score mi).")
    var mutualInformation = false

    @Flag(help: "Use 1 − reward (select features that predict failure).")
    var reverse = false

    @Flag(name: .customLong("lenient-numbers"), help: "Numeric answers: 18.0 = 18 and 1,000 = 1000.")
    var lenientNumbers = false

    @Option(name: .customLong("simpleqa-metric"), help: "SimpleQA without --scorer-command: exact (normalized exact match; used when not given) or f1 (the reference's set-of-words token F1).")
    var simpleQAMetric: TextMatchMetric?

    @Option(name: .customLong("scorer-command"), help: "External scorer: JSONL {id, prompt, output, gold} on stdin → {id, score} on stdout.")
    var scorerCommand: String?

    @Option(name: .customLong("scorer-timeout"), help: "Seconds the external scorer may take per batch.")
    var scorerTimeout: Double = 600

    @Flag(name: .customLong("scorer-persistent"), help: "Keep one external scorer process for the whole run (JSONL in, one answer line per item).")
    var scorerPersistent = false

    /// Everything that can be checked without reading a file, so that a mistake is a usage error of this
    /// subcommand before any model loads.
    func validate() throws {
        if simpleQAMetric != nil && task != "simpleqa" {
            throw ValidationError("--simpleqa-metric applies only to --task simpleqa")
        }
        guard raw || sae != nil else {
            throw ValidationError("pass --sae PATH, or --raw to use residual dimensions")
        }
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1, got \(samples)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        if let maxNewTokens, maxNewTokens < 1 {
            throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)")
        }
        guard seed >= 0 else { throw ValidationError("--seed must not be negative, got \(seed)") }
        guard scorerTimeout > 0, scorerTimeout.isFinite else {
            throw ValidationError("--scorer-timeout must be a positive number of seconds, got \(scorerTimeout)")
        }
        if task == "custom" && taskFile == nil { throw ValidationError("--task custom needs --task-file FILE.jsonl") }
        if task == "custom" && customKind == nil {
            throw ValidationError("--task custom needs --custom-kind (\(CustomAnswerKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        _ = try layers.map(parseLayers)
    }

    func configuration() throws -> CollectionConfiguration {
        var c = CollectionConfiguration(model: model, sae: raw ? nil : sae, task: task)
        c.data = data
        c.customTaskFile = taskFile
        c.customTaskKind = customKind?.rawValue
        c.samples = samples
        c.maxNewTokens = maxNewTokens
        c.layers = try layers.map(parseLayers)
        c.positions = positions
        c.pool = pool
        c.steerPool = steerPool
        c.batchSize = batchSize
        c.checkpointEvery = checkpointEvery
        c.seed = seed
        // The reference's splits come from Hugging Face's shuffle, so --paper-compat implies it unless the
        // user chose a shuffle explicitly.
        c.shuffle = (shuffle ?? (paperCompat ? .hf : .corrsteer)).rawValue
        c.bbqFilter = bbqFilter?.rawValue
        c.category = category
        c.raw = raw
        c.paperCompat = paperCompat
        c.mutualInformation = mutualInformation
        c.reverseRewards = reverse
        c.lenientNumbers = lenientNumbers
        c.simpleQAMetric = simpleQAMetric
        c.scorerCommand = scorerCommand
        c.scorerTimeout = scorerTimeout
        c.scorerPersistent = scorerPersistent
        return c
    }
}

func parseLayers(_ text: String) throws -> [Int] {
    try text.split(separator: ",").map { part in
        guard let layer = Int(part.trimmingCharacters(in: .whitespaces)), layer >= 0 else {
            throw ValidationError("--layers '\(text)': expected comma-separated layer numbers, for example 10,12,20")
        }
        return layer
    }
}

/// How features are ranked and turned into steering coefficients.
struct SelectionArguments: ParsableArguments {
    @Option(name: .customLong("top-k"), help: "Candidates kept per layer and polarity (at least 1).")
    var topK: Int = 20

    @Option(help: "Ranking: corr (|r|, the paper's), mi, fisher or caa.")
    var score: RankingScore = .correlation

    @Option(help: "Candidate features: positive (r > 0), negative, or both.")
    var polarity: Polarity = .positive

    @Option(help: "Coefficient: mean (over correct samples), active-mean, or diff (success − failure).")
    var coefficient: CoefficientKind = .mean

    @Option(help: "Multiplier of every coefficient.")
    var scale: Double = 1.0

    @Flag(help: "Steering vectors also add the SAE's b_dec (the reference's --decode).")
    var decode = false

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        guard scale.isFinite else { throw ValidationError("--scale must be a finite number, got \(scale)") }
    }

    var options: SelectionOptions {
        SelectionOptions(topK: topK, score: score, polarity: polarity, coefficient: coefficient, scale: scale)
    }
}

/// How steering is measured.
struct EvaluationArguments: ParsableArguments {
    @Option(help: "Comma-separated strategies to evaluate: S, A, P.")
    var strategies = StrategyList([.single, .allLayers, .pruned])

    @Option(name: .customLong("val-limit"), help: "Validation samples per layer for CorrSteer-P (at least 1).")
    var valLimit: Int = 200

    @Option(name: .customLong("test-limit"), help: "Test samples per variant (at least 1; default: the whole test split).")
    var testLimit: Int?

    @Flag(name: .customLong("constrain-options"), help: "Multiple choice: decode only the option tokens.")
    var constrainOptions = false

    @Option(name: .customLong("steer-positions"), help: "Where steering adds its vectors: generation or all.")
    var steerPositions: PositionMode = .generation

    @Option(help: "Few-shot examples in evaluation prompts (collection is always zero-shot, as in the paper).")
    var few: Int = 0

    @Flag(help: "Chain-of-thought prompts in evaluation.")
    var cot = false

    @Option(help: "Baselines and controls evaluated beside the strategies, comma-separated: prompt, diffmean, random-features, random-direction, shuffled-labels, or all.")
    var compare: ComparisonList?

    @Option(name: .customLong("scale-sweep"), help: "Coefficient scales tried on validation, e.g. 0.25,0.5,1,2,4: CorrSteer's scale is chosen with plan A; DiffMean chooses its own from the same list.")
    var scaleSweep: ScaleList?

    @Option(help: "Instruction of the prompt baseline (default: the task's built-in one; required for custom tasks).")
    var instruction: String?

    @Option(name: .customLong("control-seed"), help: "Seed of the random-features and random-direction controls.")
    var controlSeed: UInt64 = 0

    @Option(help: "Repeat the evaluation over this many seeds (held-out items re-dealt between validation and test, new random controls); the report adds mean ± sd.")
    var seeds: Int = 1

    func validate() throws {
        guard valLimit >= 1 else { throw ValidationError("--val-limit must be at least 1, got \(valLimit)") }
        if let testLimit, testLimit < 1 { throw ValidationError("--test-limit must be at least 1, got \(testLimit)") }
        guard few >= 0 else { throw ValidationError("--few must not be negative, got \(few)") }
        guard !strategies.strategies.isEmpty else { throw ValidationError("--strategies needs at least one of S, A, P") }
        guard (1...1000).contains(seeds) else { throw ValidationError("--seeds must be between 1 and 1000, got \(seeds)") }
        if let instruction, instruction.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || instruction.utf8.count > 4096 {
            throw ValidationError("--instruction must be non-empty text of at most 4096 bytes")
        }
    }

    func options(batchSize: Int? = nil) throws -> EvaluationOptions {
        var o = EvaluationOptions()
        o.strategies = strategies.strategies
        o.validationLimit = valLimit
        o.testLimit = testLimit
        o.constrainOptions = constrainOptions
        o.positions = steerPositions
        o.batchSize = batchSize
        o.fewShot = few
        o.chainOfThought = cot
        o.comparisons = compare?.methods ?? []
        o.scaleSweep = scaleSweep?.values
        o.instruction = instruction
        o.controlSeed = controlSeed
        o.seeds = seeds
        return o
    }
}

/// Prints a finished evaluation as a table on stdout.
func printResults(_ results: [EvaluationRun.VariantResult]) {
    print(ResultsTable.render(results.map(\.metrics)))
}

/// Prints a finished evaluation as the one JSON object of `--json` on stdout (docs/run-directory.md).
func printResultsJSON(_ results: [EvaluationRun.VariantResult], run: RunDirectory, candidates: FeatureCandidates) throws {
    let summary = ResultsJSON(run: run, report: run.reportHTML, metrics: results.map(\.metrics), candidates: candidates)
    print(try summary.encoded())
}
