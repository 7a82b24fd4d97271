import Foundation

/// MMLU-Pro. The reference uses `rbiswasfc/MMLU-Pro`: the 10-option rows of TIGER-Lab's test split,
/// cut by `GroupKFold(5)` over `category`, fold 0 as test. Fold 0 is {biology, history, physics}
/// (2,135 rows); the other 11 categories are train (7,847 rows). From TIGER-Lab's file we rebuild that
/// cut; a directory holding rbiswasfc's own `train.jsonl` + `test.jsonl` is used as it is.
enum MMLUProData {
    static let task = "mmlupro"
    static let testCategories: Set<String> = ["biology", "history", "physics"]
    static let optionCount = 10

    static func load(_ data: DataDirectory, category: String?) throws -> DatasetSource {
        let testURL = try data.require("mmlu_pro/test.jsonl", task: task)
        if data.exists("mmlu_pro/train.jsonl") && category == nil {
            let trainURL = data.file("mmlu_pro/train.jsonl")
            return DatasetSource(
                layout: .trainAndTest(train: try rows(trainURL, tenOptionsOnly: false), test: try rows(testURL, tenOptionsOnly: false)),
                files: [trainURL.path, testURL.path], notes: ["rbiswasfc layout: train.jsonl and test.jsonl used as given"])
        }
        let all = try rows(testURL, tenOptionsOnly: true)
        if let category {
            return DatasetSource(layout: .onePool(try rowsOfCategory(all, category: category, task: task)),
                                 files: [testURL.path], notes: ["category '\(category)' (10-option rows) split as one pool"])
        }
        let train = all.filter { !testCategories.contains($0.category ?? "") }
        let test = all.filter { testCategories.contains($0.category ?? "") }
        return DatasetSource(
            layout: .trainAndTest(train: try train.requireNonEmpty(testURL.path, "no 10-option rows outside biology, history, physics"),
                                  test: try test.requireNonEmpty(testURL.path, "no 10-option rows in biology, history, physics")),
            files: [testURL.path],
            notes: ["10-option rows only; test = biology, history, physics (rbiswasfc's GroupKFold fold 0)"])
    }

    static func rows(_ url: URL, tenOptionsOnly: Bool) throws -> [TaskRow] {
        var rows: [TaskRow] = []
        for record in try JSONLines.read(url) {
            let options = try record.stringArray("options")
            if tenOptionsOnly && options.count != optionCount { continue }
            try requireChoiceCount(options.count, field: "options", path: record.path, line: record.line)
            let answer = try record.string("answer")
            let letter = PythonText.upper(PythonText.strip(answer))
            let letters = (0..<options.count).map(PromptTemplate.optionLetter)
            guard letters.contains(letter) else {
                throw TaskError.answerOutOfRange(path: record.path, line: record.line, answer: answer, choiceCount: options.count)
            }
            rows.append(TaskRow(id: String(try record.integer("question_id")), question: try record.string("question"),
                                choices: options, answer: .text(answer), category: try record.optionalString("category")))
        }
        return try rows.requireNonEmpty(url.path, tenOptionsOnly ? "no rows with exactly 10 options" : "the file has no rows")
    }
}
