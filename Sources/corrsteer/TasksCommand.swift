import ArgumentParser
import Foundation
import Tasks

/// `corrsteer tasks`: which benchmarks a data directory holds and how they split; with `--task`, the
/// first prompts of one task as the model will see them.
struct TasksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks",
        abstract: "List the tasks found in a data directory with their split sizes, or show a task's prompts.",
        discussion: """
            Without --task: every built-in task (mmlu, mmlupro, gsm8k, bbq, simpleqa, harmbench, xstest) with \
            its train / validation / test sizes before limits, or why it is unavailable. With --task: the first \
            --show test examples (prompt, gold answer), one JSON object per line with --json.

            Examples:
              corrsteer tasks --data DATA
              corrsteer tasks --data DATA --task xstest --show 2
            """)

    @Option(name: .long, help: "Folder laid out like shared/data (mmlu/, gsm8k/, bbq/, …).")
    var data: String

    @Option(name: .long, help: "Show the prompts of this task (or 'custom' with --task-file).")
    var task: String?

    @OptionGroup var output: QuietOption

    @Option(name: .long, help: "Number of test examples to show with --task.")
    var show: Int = 3

    @Option(name: .long, help: "Shuffle and split seed.")
    var seed: UInt64 = 42

    @Option(name: .long, help: "corrsteer or hf (reproduces Hugging Face datasets' splits).")
    var shuffle: ShuffleMode = .corrsteer

    @Option(name: .long, help: "BBQ context condition.")
    var bbqFilter: BBQCondition?

    @Option(name: .long, help: "One subset: MMLU subject, MMLU-Pro category, BBQ category, HarmBench functional category, XSTest type, SimpleQA topic.")
    var category: String?

    @Option(name: .long, help: "k-shot: the last k training examples before each prompt.")
    var few: Int = 0

    @Flag(name: .long, help: "Chain-of-thought prompts.")
    var cot = false

    @Option(name: .long, help: "Custom task JSONL file (task 'custom').")
    var taskFile: String?

    @Option(name: .long, help: "Custom task answer kind.")
    var customKind: CustomAnswerKind?

    @Flag(name: .long, help: "Machine-readable output (JSON lines).")
    var json = false

    func validate() throws {
        guard show >= 0 else { throw ValidationError("--show must not be negative, got \(show)") }
        guard few >= 0 else { throw ValidationError("--few must not be negative, got \(few)") }
    }

    func run() throws {
        var options = TaskOptions()
        options.seed = seed
        options.shuffle = shuffle
        options.bbqCondition = bbqFilter
        options.customKind = customKind
        options.category = category
        options.fewShot = few
        options.chainOfThought = cot
        options.customTaskFile = taskFile.map { URL(fileURLWithPath: $0) }
        options.testLimit = max(show, 1)
        let directory = URL(fileURLWithPath: data)
        if let task {
            try showPrompts(task: try TaskCatalog.load(task: task, dataDirectory: directory, options: options))
        } else {
            listTasks(TaskCatalog.survey(dataDirectory: directory, options: options))
        }
    }

    private func listTasks(_ entries: [TaskSurveyEntry]) {
        if json {
            entries.forEach { print(Self.jsonLine($0)) }
        } else {
            print(TaskCatalog.renderSurvey(entries))
        }
    }

    private func showPrompts(task: LoadedTask) throws {
        let examples = task.splits.test.prefix(show)
        if json {
            examples.forEach { print(Self.jsonLine($0)) }
            return
        }
        let sizes = task.fullSizes
        print("\(task.descriptor.name): \(task.descriptor.kind.rawValue), \(task.descriptor.maxNewTokens) new tokens, scorer \(task.scorerDescription)")
        print("splits: \(sizes)")
        task.notes.forEach { print("note: \($0)") }
        for example in examples {
            print("\n--- \(example.id)  gold: \(example.gold)")
            print(example.prompt)
        }
    }

    private static func jsonLine<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
