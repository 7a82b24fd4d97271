import Foundation

/// The paper's seven benchmarks and the `custom` task: descriptors, loading, splitting and prompting.
public enum TaskCatalog {
    /// The task names `load` accepts, in the paper's order.
    public static let names = ["mmlu", "mmlupro", "gsm8k", "bbq", "simpleqa", "harmbench", "xstest", "custom"]

    static let simpleQASystemPrompt = "Answer the question with a short, direct response. Be concise and factual."

    /// The descriptor of a built-in task (nil for unknown names and for `custom`, whose descriptor
    /// depends on its options).
    public static func descriptor(for name: String) -> TaskDescriptor? {
        builtIn(canonicalName(name))?.spec.descriptor
    }

    /// Reads the task's data from `dataDirectory` (layout of shared/data, see docs/tasks.md), splits it
    /// as the reference does (§7.4) and builds every prompt (§7.1).
    public static func load(task name: String, dataDirectory: URL, options: TaskOptions = TaskOptions()) throws -> LoadedTask {
        try validate(options)
        let canonical = canonicalName(name)
        let data = DataDirectory(root: dataDirectory)
        if options.bbqCondition != nil && canonical != "bbq" && canonical != "custom" {
            throw TaskError.invalidSetting(.bbqFilter, reason: "only applies to task bbq, not '\(name)'")
        }
        let spec: TaskSpec
        let source: DatasetSource
        if canonical == "custom" {
            guard let file = options.customTaskFile else {
                throw TaskError.invalidSetting(.taskFile, reason: "task 'custom' needs a JSONL file")
            }
            guard let kind = options.customKind else {
                throw TaskError.invalidSetting(.customKind, reason: "task 'custom' needs an answer kind (\(CustomAnswerKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if kind == .external && options.scorerCommand == nil {
                throw TaskError.invalidSetting(.scorerCommand, reason: "answer kind 'external' needs a scorer command")
            }
            let loaded = try CustomTaskData.load(file, kind: kind, category: options.category)
            spec = customSpec(kind: kind, maxChoices: loaded.maxChoices, systemPrompt: options.customSystemPrompt)
            source = loaded.source
        } else {
            guard let builtIn = builtIn(canonical) else { throw TaskError.unknownTask(name: name, known: names) }
            spec = builtIn.spec
            source = try builtIn.load(data, options)
        }
        return try assemble(spec: spec, source: source, options: options)
    }

    // MARK: - Assembly

    private static func assemble(spec: TaskSpec, source: DatasetSource, options: TaskOptions) throws -> LoadedTask {
        let shuffler = Shuffler(mode: options.shuffle, seed: options.seed)
        let split = try SplitPlan.split(source.layout, shuffler: shuffler, task: spec.descriptor.name)
        let kind = spec.descriptor.kind
        let gold = { (row: TaskRow) in goldString(for: row, kind: kind, lenientNumbers: options.lenientNumbers) }
        let fewShotRows = Array(split.train.suffix(options.fewShot))
        let fewShot = fewShotRows.map { (row: $0, gold: gold($0)) }
        let build = { (row: TaskRow) -> TaskExample in
            let answer = gold(row)
            return TaskExample(
                id: row.id,
                prompt: spec.template.prompt(for: row, gold: answer, systemPrompt: spec.descriptor.systemPrompt,
                                             fewShot: fewShot, chainOfThought: options.chainOfThought),
                zeroShotPrompt: spec.template.prompt(for: row, gold: answer, systemPrompt: spec.descriptor.systemPrompt,
                                                     fewShot: [], chainOfThought: false),
                gold: answer, question: row.question, choices: row.choices,
                label: spec.descriptor.name == "xstest" ? answer : nil, category: row.category)
        }
        func limited(_ rows: [TaskRow], _ limit: Int?) -> [TaskExample] {
            rows.prefix(limit ?? rows.count).map(build)
        }
        var descriptor = spec.descriptor
        if let maxNewTokens = options.maxNewTokens {
            descriptor = TaskDescriptor(name: descriptor.name, kind: descriptor.kind, maxNewTokens: maxNewTokens,
                                        optionStrings: descriptor.optionStrings, systemPrompt: descriptor.systemPrompt)
        }
        let extractor = AnswerExtractor(kind: kind, lenientNumbers: options.lenientNumbers)
        let scorer: any Scorer
        let scorerDescription: String
        if let command = options.scorerCommand {
            scorer = ExternalCommandScorer(command: command, timeout: options.scorerTimeout, persistent: options.scorerPersistent)
            scorerDescription = "external: \(command)"
        } else {
            let rule = spec.rule(options)
            scorer = BuiltInScorer(rule: rule, extractor: extractor)
            scorerDescription = rule.rawValue
        }
        return LoadedTask(
            descriptor: descriptor,
            splits: TaskSplits(train: limited(split.train, options.trainLimit),
                               validation: limited(split.validation, options.validationLimit),
                               test: limited(split.test, options.testLimit)),
            fullSizes: SplitSizes(train: split.train.count, validation: split.validation.count, test: split.test.count),
            fewShotExamples: fewShotRows.map(build),
            extractor: extractor, scorer: scorer, scorerDescription: scorerDescription,
            sourceFiles: source.files, notes: source.notes)
    }

    /// §7.1/§7.2: the option letter, the GSM8K number, or the stripped answer.
    static func goldString(for row: TaskRow, kind: TaskKind, lenientNumbers: Bool) -> String {
        switch (kind, row.answer) {
        case let (.select, .index(index)):
            return PromptTemplate.optionLetter(index)
        case let (.select, .text(text)):
            return PythonText.upper(PythonText.strip(text))
        case let (.reason, .text(text)):
            return AnswerExtractor.goldNumber(fromSolution: text, lenientNumbers: lenientNumbers)
        case let (_, .index(index)):
            return String(index)
        case let (.answer, .text(text)):
            return PythonText.strip(text)
        }
    }

    private static func validate(_ options: TaskOptions) throws {
        if options.fewShot < 0 { throw TaskError.invalidSetting(.fewShot, reason: "must be 0 or more, got \(options.fewShot)") }
        for (setting, limit) in [(TaskSetting.trainLimit, options.trainLimit), (.validationLimit, options.validationLimit),
                                 (.testLimit, options.testLimit)] {
            if let limit, limit < 1 { throw TaskError.invalidSetting(setting, reason: "must be at least 1, got \(limit)") }
        }
        if let tokens = options.maxNewTokens, tokens < 1 {
            throw TaskError.invalidSetting(.maxNewTokens, reason: "must be at least 1, got \(tokens)")
        }
        if !(options.scorerTimeout > 0) {
            throw TaskError.invalidSetting(.scorerTimeout, reason: "must be a positive number of seconds")
        }
    }

    static func canonicalName(_ name: String) -> String {
        let lowered = name.lowercased()
        return ["mmlu-pro": "mmlupro", "mmlu_pro": "mmlupro"][lowered] ?? lowered
    }
}

/// A task's fixed parts: descriptor, template and scoring rule.
struct TaskSpec {
    let descriptor: TaskDescriptor
    let template: PromptTemplate
    let rule: (TaskOptions) -> ScoringRule
}

/// A built-in task: its spec and how its files are read.
struct BuiltInTask {
    let spec: TaskSpec
    let load: (DataDirectory, TaskOptions) throws -> DatasetSource

    init(descriptor: TaskDescriptor, template: PromptTemplate, rule: @escaping (TaskOptions) -> ScoringRule,
         load: @escaping (DataDirectory, TaskOptions) throws -> DatasetSource) {
        spec = TaskSpec(descriptor: descriptor, template: template, rule: rule)
        self.load = load
    }
}

extension TaskCatalog {
    static func letters(_ count: Int) -> [String] {
        (0..<count).map { " " + PromptTemplate.optionLetter($0) }
    }

    static func builtIn(_ name: String) -> BuiltInTask? {
        let exactOrNumeric = { (options: TaskOptions) -> ScoringRule in options.lenientNumbers ? .numericValue : .exactMatch }
        switch name {
        case "mmlu":
            return BuiltInTask(
                descriptor: TaskDescriptor(name: "mmlu", kind: .select, maxNewTokens: 1, optionStrings: letters(4), systemPrompt: nil),
                template: .multipleChoice(candidates: "A, B, C, or D"), rule: { _ in .exactMatch },
                load: { data, options in try MMLUData.load(data, category: options.category) })
        case "mmlupro":
            let options = letters(10)
            return BuiltInTask(
                descriptor: TaskDescriptor(name: "mmlupro", kind: .select, maxNewTokens: 1, optionStrings: options, systemPrompt: nil),
                template: .multipleChoice(candidates: options.joined(separator: ", ")), rule: { _ in .exactMatch },
                load: { data, options in try MMLUProData.load(data, category: options.category) })
        case "gsm8k":
            return BuiltInTask(
                descriptor: TaskDescriptor(name: "gsm8k", kind: .reason, maxNewTokens: 512, optionStrings: [], systemPrompt: nil),
                template: .gsm8k, rule: exactOrNumeric,
                load: { data, options in try GSM8KData.load(data, category: options.category) })
        case "bbq":
            return BuiltInTask(
                descriptor: TaskDescriptor(name: "bbq", kind: .select, maxNewTokens: 1, optionStrings: letters(3), systemPrompt: nil),
                template: .multipleChoice(candidates: "A, B, or C"), rule: { _ in .exactMatch },
                load: { data, options in try BBQData.load(data, category: options.category, condition: options.bbqCondition) })
        case "simpleqa":
            return BuiltInTask(
                descriptor: TaskDescriptor(name: "simpleqa", kind: .answer, maxNewTokens: 16, optionStrings: [],
                                           systemPrompt: simpleQASystemPrompt),
                template: .questionAnswer,
                rule: { options in options.simpleQAMetric == .tokenF1 ? .tokenF1 : .normalizedExactMatch },
                load: { data, options in try SimpleQAData.load(data, category: options.category) })
        case "harmbench":
            return BuiltInTask(
                descriptor: TaskDescriptor(name: "harmbench", kind: .answer, maxNewTokens: 32, optionStrings: [], systemPrompt: nil),
                template: .harmbench, rule: { _ in .refusal },
                load: { data, options in try HarmBenchData.load(data, category: options.category) })
        case "xstest":
            return BuiltInTask(
                descriptor: TaskDescriptor(name: "xstest", kind: .answer, maxNewTokens: 32, optionStrings: [], systemPrompt: nil),
                template: .xstest, rule: { _ in .refusal },
                load: { data, options in try XSTestData.load(data, category: options.category) })
        default:
            return nil
        }
    }

    static func customSpec(kind: CustomAnswerKind, maxChoices: Int, systemPrompt: String?) -> TaskSpec {
        let template: PromptTemplate
        let tokens: Int
        switch kind {
        case .choice:
            template = .multipleChoice(candidates: PromptTemplate.letterList(maxChoices))
            tokens = 1
        case .numeric:
            template = .reasoning
            tokens = 512
        case .exact, .contains, .refusal, .external:
            template = .questionAnswer
            tokens = 32
        }
        let rule: (TaskOptions) -> ScoringRule
        switch kind {
        case .choice, .exact, .external: rule = { _ in .exactMatch }
        case .numeric: rule = { options in options.lenientNumbers ? .numericValue : .exactMatch }
        case .contains: rule = { _ in .contains }
        case .refusal: rule = { _ in .refusal }
        }
        return TaskSpec(
            descriptor: TaskDescriptor(name: "custom", kind: kind.taskKind, maxNewTokens: tokens,
                                       optionStrings: kind == .choice ? letters(maxChoices) : [], systemPrompt: systemPrompt),
            template: template, rule: rule)
    }
}
