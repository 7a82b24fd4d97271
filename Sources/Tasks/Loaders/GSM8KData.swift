import Foundation

/// GSM8K: `gsm8k/{train,test}.jsonl`, rows `{question, answer}` where `answer` is the worked solution
/// ending in `#### N`.
enum GSM8KData {
    static let task = "gsm8k"

    static func load(_ data: DataDirectory, category: String?) throws -> DatasetSource {
        if let category { throw TaskError.unknownCategory(task: task, category: category, known: []) }
        let trainURL = try data.require("gsm8k/train.jsonl", task: task)
        let testURL = try data.require("gsm8k/test.jsonl", task: task)
        return DatasetSource(layout: .trainAndTest(train: try rows(trainURL, split: "train"), test: try rows(testURL, split: "test")),
                             files: [trainURL.path, testURL.path])
    }

    static func rows(_ url: URL, split: String) throws -> [TaskRow] {
        try JSONLines.read(url).enumerated().map { index, record in
            let answer = try record.string("answer")
            // The gold is the number after "####"; without one the whole solution text would
            // silently become the gold and no generation could ever match it.
            guard answer.contains("####") else {
                throw TaskError.invalidValue(path: record.path, line: record.line, field: "answer",
                                             reason: "has no '#### N' final answer")
            }
            return TaskRow(id: "\(split):\(index)", question: try record.string("question"), choices: nil,
                           answer: .text(answer), category: nil)
        }.requireNonEmpty(url.path)
    }
}
