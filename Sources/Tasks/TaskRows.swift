/// A dataset row after the reference's row adapter (`dataset.py`), before prompting.
struct TaskRow: Sendable {
    enum Answer: Sendable {
        /// An option index (MMLU's `answer`, BBQ's `label`, a custom choice given as a number).
        case index(Int)
        case text(String)
    }

    let id: String
    let question: String
    let choices: [String]?
    let answer: Answer
    let category: String?
    /// A custom row's own prompt, used instead of a template.
    var verbatimPrompt: String? = nil
}

/// How a dataset arrives, which decides how it is split (§7.4).
enum DatasetLayout {
    /// Official train, validation and test splits, each shuffled on its own (MMLU).
    case official(train: [TaskRow], validation: [TaskRow], test: [TaskRow])
    /// Official train and test: test is shuffled; train is shuffled then cut 90% train / 10% validation.
    case trainAndTest(train: [TaskRow], test: [TaskRow])
    /// One pool: shuffled, cut 70% test / 30% rest, then rest 90% train / 10% validation.
    case onePool([TaskRow])
}

/// What a loader found: the rows and where they came from.
struct DatasetSource {
    let layout: DatasetLayout
    let files: [String]
    var notes: [String] = []
}
