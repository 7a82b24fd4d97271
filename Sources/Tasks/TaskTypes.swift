import Foundation

/// The reference's three task types: how the answer is read from the generation and how long it is.
public enum TaskKind: String, Sendable, Codable, CaseIterable {
    /// Multiple choice answered by one option letter (MMLU, MMLU-Pro, BBQ). Pooling covers one position.
    case select
    /// A worked answer ending in a number (GSM8K).
    case reason
    /// Free text (SimpleQA, HarmBench, XSTest).
    case answer
}

/// What a task is, independent of its data: the facts generation and pooling need.
public struct TaskDescriptor: Sendable, Codable, Equatable {
    public let name: String
    public let kind: TaskKind
    /// Tokens generated per prompt (reference values: MMLU/MMLU-Pro/BBQ 1, GSM8K 512, SimpleQA 16,
    /// HarmBench and XSTest 32).
    public let maxNewTokens: Int
    /// The option strings for constrained decoding (`" A"`, `" B"`, …); empty for non-select tasks.
    public let optionStrings: [String]
    /// Put before every prompt with `"\n\n"` (only SimpleQA has one in the reference).
    public let systemPrompt: String?

    /// Select tasks pool activations over exactly one position (the last prompt token), other tasks
    /// over the generated positions before EOS.
    public var poolsSinglePosition: Bool { kind == .select }

    public init(name: String, kind: TaskKind, maxNewTokens: Int, optionStrings: [String], systemPrompt: String?) {
        self.name = name
        self.kind = kind
        self.maxNewTokens = maxNewTokens
        self.optionStrings = optionStrings
        self.systemPrompt = systemPrompt
    }
}

/// One prompt with its expected answer.
public struct TaskExample: Sendable, Codable, Equatable {
    /// Stable within a task: the dataset's own id where it has one, else `<split>:<row>` (0-based row
    /// in the file), or `<category>:<example_id>` for BBQ.
    public let id: String
    /// The prompt for validation and test: system prefix, the few-shot examples and CoT as configured.
    public let prompt: String
    /// The same prompt without few-shot examples or CoT (system prefix kept): the reference always
    /// collects correlations on this one.
    public let zeroShotPrompt: String
    /// What a correct answer equals: an option letter, a number string, the reference answer, the
    /// XSTest label (`safe`/`unsafe`), or `""` for HarmBench.
    public let gold: String
    /// The question text as substituted into the template (BBQ: context + "\n" + question).
    public let question: String
    public let choices: [String]?
    /// XSTest's `label` (`safe` or `unsafe`); nil elsewhere.
    public let label: String?
    /// MMLU subject, MMLU-Pro category, BBQ category, HarmBench functional category, XSTest type.
    public let category: String?

    public init(id: String, prompt: String, zeroShotPrompt: String, gold: String, question: String,
                choices: [String]?, label: String?, category: String?) {
        self.id = id
        self.prompt = prompt
        self.zeroShotPrompt = zeroShotPrompt
        self.gold = gold
        self.question = question
        self.choices = choices
        self.label = label
        self.category = category
    }
}

/// The three splits in the order the reference iterates them (already shuffled and limited).
public struct TaskSplits: Sendable, Codable, Equatable {
    public var train: [TaskExample]
    public var validation: [TaskExample]
    public var test: [TaskExample]

    public init(train: [TaskExample], validation: [TaskExample], test: [TaskExample]) {
        self.train = train
        self.validation = validation
        self.test = test
    }
}

/// Split sizes: the rows a split holds before any limit is applied.
public struct SplitSizes: Sendable, Codable, Equatable, CustomStringConvertible {
    public let train: Int
    public let validation: Int
    public let test: Int

    public init(train: Int, validation: Int, test: Int) {
        self.train = train
        self.validation = validation
        self.test = test
    }

    public var description: String { "train \(train) / validation \(validation) / test \(test)" }
}

/// BBQ's `context_condition` filter (`--filter_value` in the reference).
public enum BBQCondition: String, Sendable, Codable, CaseIterable {
    case ambig
    case disambig
}

/// How a custom task's `answer` is judged.
public enum CustomAnswerKind: String, Sendable, Codable, CaseIterable {
    /// Multiple choice: the output (stripped) must equal the option letter.
    case choice
    /// The stripped output must equal the stripped answer.
    case exact
    /// A number is read from the output as for GSM8K and compared with the answer.
    case numeric
    /// The normalized answer must occur as whole words in the normalized output.
    case contains
    /// The output must refuse (answer `refuse`, `unsafe` or empty) or comply (`comply`, `safe`).
    case refusal
    /// `--scorer-command` judges the output.
    case external

    var taskKind: TaskKind {
        switch self {
        case .choice: return .select
        case .numeric: return .reason
        case .exact, .contains, .refusal, .external: return .answer
        }
    }
}

/// How SimpleQA's free-text answers are compared when no external scorer is given.
public enum TextMatchMetric: String, Sendable, Codable, CaseIterable {
    /// The reference's fallback: lowercase, drop punctuation, collapse spaces, compare (0 or 1).
    case normalizedExactMatch = "exact"
    /// Set-of-words F1 of the lowercased texts (a fraction in [0, 1]).
    case tokenF1 = "f1"
}

/// Everything that shapes which examples a task yields and how they are prompted and scored.
public struct TaskOptions: Sendable {
    /// Shuffling and split seed (reference default 42).
    public var seed: UInt64 = 42
    public var shuffle: ShuffleMode = .corrsteer
    /// k-shot examples: the last k rows of the (shuffled, unlimited) training split.
    public var fewShot: Int = 0
    public var chainOfThought = false
    /// BBQ only: keep rows of one context condition before shuffling.
    public var bbqCondition: BBQCondition?
    /// One subset: an MMLU subject, an MMLU-Pro category, a BBQ category or a HarmBench functional
    /// category. The subset becomes one pool split 70% test / 30% rest → 90% train / 10% validation.
    public var category: String?
    /// The first N rows of each split are kept (reference: 4000 collected, 200 validated, all tested).
    public var trainLimit: Int? = 4000
    public var validationLimit: Int? = 200
    public var testLimit: Int?
    /// `custom` task: the JSONL file and how its answers are judged.
    public var customTaskFile: URL?
    public var customKind: CustomAnswerKind?
    public var customSystemPrompt: String?
    /// Overrides the task's generation length.
    public var maxNewTokens: Int?
    /// GSM8K-style numbers: accept thousands separators and compare by value (18.0 = 18, 1,000 = 1000).
    public var lenientNumbers = false
    public var simpleQAMetric: TextMatchMetric = .normalizedExactMatch
    /// Score with an external command instead of the built-in scorer (see `ExternalCommandScorer`).
    public var scorerCommand: String?
    public var scorerTimeout: Double = 600
    /// Keep one scorer process for all calls (it must answer each batch, ended by an empty line, and flush).
    public var scorerPersistent = false

    public init() {}
}
