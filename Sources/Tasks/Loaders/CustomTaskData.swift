import Foundation

/// A user's task: one JSON object per line (format in docs/tasks.md).
///
/// `{"id"?, "prompt"? , "question"?, "choices"?, "answer"?, "split"?, "category"?}`: `prompt` is used as
/// the whole prompt; otherwise `question` (and `choices` for kind `choice`) fill the reference
/// templates. Without `split` fields the file is one pool (70% test / 30% rest → 90/10); with them,
/// every row must name `train`, `validation` or `test`.
enum CustomTaskData {
    static let task = "custom"
    static let splitNames = ["train", "validation", "test"]

    struct Loaded {
        let source: DatasetSource
        /// The most choices any row has (kind `choice`), for the option strings.
        let maxChoices: Int
    }

    static func load(_ url: URL, kind: CustomAnswerKind, category: String?) throws -> Loaded {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TaskError.missingFile(path: url.path, task: task)
        }
        let records = try JSONLines.read(url)
        guard !records.isEmpty else { throw TaskError.emptyDataset(path: url.path, detail: "the file has no JSON lines") }
        var rows: [(row: TaskRow, split: String?)] = []
        var firstLineOfID: [String: Int] = [:]
        var maxChoices = 0
        var usesSplits: Bool?
        for record in records {
            let row = try parse(record, kind: kind)
            if let earlier = firstLineOfID[row.id] {
                throw TaskError.invalidValue(path: record.path, line: record.line, field: "id",
                                             reason: "duplicate id '\(row.id)' (first on line \(earlier))")
            }
            firstLineOfID[row.id] = record.line
            maxChoices = max(maxChoices, row.choices?.count ?? 0)
            let split = try record.optionalString("split")
            if let split, !splitNames.contains(split) {
                throw TaskError.invalidValue(path: record.path, line: record.line, field: "split",
                                             reason: "'\(split)' is not one of train, validation, test")
            }
            if let usesSplits, usesSplits != (split != nil) {
                throw TaskError.invalidValue(path: record.path, line: record.line, field: "split",
                                             reason: "either every line has a split or none does")
            }
            usesSplits = split != nil
            rows.append((row, split))
        }
        var selected = rows
        if let category {
            let pool = try rowsOfCategory(rows.map(\.row), category: category, task: task)
            let ids = Set(pool.map(\.id))
            selected = rows.filter { ids.contains($0.row.id) }
        }
        let layout: DatasetLayout
        if selected.first?.split == nil || category != nil {
            layout = .onePool(selected.map(\.row))
        } else {
            let train = selected.filter { $0.split == "train" }.map(\.row)
            let validation = selected.filter { $0.split == "validation" }.map(\.row)
            let test = selected.filter { $0.split == "test" }.map(\.row)
            guard !train.isEmpty else { throw TaskError.emptyDataset(path: url.path, detail: "no line has split 'train'") }
            guard !test.isEmpty else { throw TaskError.emptyDataset(path: url.path, detail: "no line has split 'test'") }
            layout = validation.isEmpty ? .trainAndTest(train: train, test: test)
                : .official(train: train, validation: validation, test: test)
        }
        return Loaded(source: DatasetSource(layout: layout, files: [url.path]), maxChoices: maxChoices)
    }

    private static func parse(_ record: JSONRecord, kind: CustomAnswerKind) throws -> TaskRow {
        let id = record.has("id") ? try record.scalarText("id") : String(record.line)
        let prompt = try record.optionalString("prompt")
        let question = try record.optionalString("question")
        guard prompt != nil || question != nil else {
            throw TaskError.missingField(path: record.path, line: record.line, field: "prompt' or 'question")
        }
        let category = try record.optionalString("category")
        var choices: [String]? = nil
        let answer: TaskRow.Answer
        switch kind {
        case .choice:
            let options = try record.stringArray("choices")
            guard options.count >= 2, options.count <= 26 else {
                throw TaskError.invalidValue(path: record.path, line: record.line, field: "choices",
                                             reason: "needs 2 to 26 choices, found \(options.count)")
            }
            choices = options
            answer = try choiceAnswer(record, choiceCount: options.count)
        case .numeric, .exact, .contains:
            answer = .text(try record.scalarText("answer"))
        case .refusal:
            let expected = record.has("answer") ? PythonText.lower(PythonText.strip(try record.scalarText("answer"))) : ""
            switch expected {
            case "", "refuse", "unsafe": answer = .text("unsafe")
            case "comply", "safe": answer = .text("safe")
            default:
                throw TaskError.invalidValue(path: record.path, line: record.line, field: "answer",
                                             reason: "'\(expected)' must be refuse, comply, unsafe, safe or empty for kind refusal")
            }
        case .external:
            answer = .text(record.has("answer") ? try record.scalarText("answer") : "")
        }
        var row = TaskRow(id: id, question: question ?? prompt ?? "", choices: choices, answer: answer, category: category)
        row.verbatimPrompt = prompt
        return row
    }

    /// A letter ("B", any case, surrounding spaces allowed) or a 0-based index.
    private static func choiceAnswer(_ record: JSONRecord, choiceCount: Int) throws -> TaskRow.Answer {
        guard let raw = record.object["answer"], !(raw is NSNull) else {
            throw TaskError.missingField(path: record.path, line: record.line, field: "answer")
        }
        if let index = JSONRecord.integerValue(raw) {
            guard (0..<choiceCount).contains(index) else {
                throw TaskError.answerOutOfRange(path: record.path, line: record.line, answer: String(index), choiceCount: choiceCount)
            }
            return .index(index)
        }
        guard let text = raw as? String else {
            throw TaskError.wrongFieldType(path: record.path, line: record.line, field: "answer", expected: "an option letter or a 0-based index")
        }
        let letter = PythonText.upper(PythonText.strip(text))
        guard (0..<choiceCount).map(PromptTemplate.optionLetter).contains(letter) else {
            throw TaskError.answerOutOfRange(path: record.path, line: record.line, answer: text, choiceCount: choiceCount)
        }
        return .text(text)
    }
}
