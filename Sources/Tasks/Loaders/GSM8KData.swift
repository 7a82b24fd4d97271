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
            TaskRow(id: "\(split):\(index)", question: try record.string("question"), choices: nil,
                    answer: .text(try record.string("answer")), category: nil)
        }.requireNonEmpty(url.path)
    }
}
