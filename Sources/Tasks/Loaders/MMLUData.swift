import Foundation

/// MMLU in `cais/mmlu` form: `mmlu/{auxiliary_train,validation,test}.jsonl`, rows
/// `{question, subject, choices, answer: 0-based int}`. The reference trains on `auxiliary_train`; when
/// only `auxiliary_train_subset.jsonl` is present (as in shared/data) that file is used instead.
enum MMLUData {
    static let task = "mmlu"

    static func load(_ data: DataDirectory, category: String?) throws -> DatasetSource {
        let testURL = try data.require("mmlu/test.jsonl", task: task)
        let test = try rows(testURL, split: "test")
        if let category {
            // The reference's --category loads the subject config and would index its split "all", which
            // does not exist; we split the subject's test rows as one pool instead.
            return DatasetSource(layout: .onePool(try rowsOfCategory(test, category: category, task: task)),
                                 files: [testURL.path],
                                 notes: ["subject '\(category)': its test rows split as one pool"])
        }
        let validationURL = try data.require("mmlu/validation.jsonl", task: task)
        let trainURL: URL
        var notes: [String] = []
        if data.exists("mmlu/auxiliary_train.jsonl") {
            trainURL = data.file("mmlu/auxiliary_train.jsonl")
        } else {
            trainURL = try data.require("mmlu/auxiliary_train_subset.jsonl", task: task)
            notes.append("train = auxiliary_train_subset.jsonl (the full auxiliary_train has 99,842 rows)")
        }
        let train = try rows(trainURL, split: trainURL.deletingPathExtension().lastPathComponent)
        return DatasetSource(
            layout: .official(train: train, validation: try rows(validationURL, split: "validation"), test: test),
            files: [trainURL.path, validationURL.path, testURL.path], notes: notes)
    }

    static func rows(_ url: URL, split: String) throws -> [TaskRow] {
        try JSONLines.read(url).enumerated().map { index, record in
            let choices = try record.stringArray("choices")
            try requireChoiceCount(choices.count, field: "choices", path: record.path, line: record.line)
            let answer = try record.integer("answer")
            guard choices.indices.contains(answer) else {
                throw TaskError.answerOutOfRange(path: record.path, line: record.line, answer: String(answer), choiceCount: choices.count)
            }
            return TaskRow(id: "\(split):\(index)", question: try record.string("question"), choices: choices,
                           answer: .index(answer), category: try record.optionalString("subject"))
        }.requireNonEmpty(url.path)
    }
}
