import Foundation

/// BBQ: `bbq/<Category>.jsonl` (nyu-mll/BBQ files = the `test` split of each `heegyu/bbq` config).
/// The reference concatenates the 11 categories in the order below, keeps one `context_condition` if
/// asked, and splits the result as one pool. Whichever category files are present are used, in that order.
enum BBQData {
    static let task = "bbq"
    static let categories = [
        "Age", "Disability_status", "Gender_identity", "Nationality", "Physical_appearance", "Race_ethnicity",
        "Race_x_SES", "Race_x_gender", "Religion", "SES", "Sexual_orientation",
    ]

    static func load(_ data: DataDirectory, category: String?, condition: BBQCondition?) throws -> DatasetSource {
        let present = categories.filter { data.exists("bbq/\($0).jsonl") }
        let chosen: [String]
        if let category {
            // The reference ignores --filter_value together with --category; we apply both.
            guard categories.contains(category) else {
                throw TaskError.unknownCategory(task: task, category: category, known: categories)
            }
            _ = try data.require("bbq/\(category).jsonl", task: task)
            chosen = [category]
        } else {
            guard !present.isEmpty else { throw TaskError.missingFile(path: data.file("bbq/Age.jsonl").path, task: task) }
            chosen = present
        }
        var pool: [TaskRow] = []
        var files: [String] = []
        for name in chosen {
            let url = data.file("bbq/\(name).jsonl")
            files.append(url.path)
            pool += try rows(url, category: name, condition: condition)
        }
        if pool.isEmpty {
            throw TaskError.emptyDataset(path: files.joined(separator: ", "),
                                         detail: "no rows with context_condition '\(condition?.rawValue ?? "")'")
        }
        var notes: [String] = []
        if category == nil && present.count < categories.count {
            notes.append("\(present.count) of \(categories.count) categories present; missing: "
                + categories.filter { !present.contains($0) }.joined(separator: ", "))
        }
        return DatasetSource(layout: .onePool(pool), files: files, notes: notes)
    }

    static func rows(_ url: URL, category: String, condition: BBQCondition?) throws -> [TaskRow] {
        let records = try JSONLines.read(url)
        guard !records.isEmpty else { throw TaskError.emptyDataset(path: url.path, detail: "the file has no rows") }
        var rows: [TaskRow] = []
        for record in records {
            let recordCondition = try record.string("context_condition")
            if let condition, recordCondition != condition.rawValue { continue }
            let label = try record.integer("label")
            guard (0..<3).contains(label) else {
                throw TaskError.answerOutOfRange(path: record.path, line: record.line, answer: String(label), choiceCount: 3)
            }
            let choices = [try record.string("ans0"), try record.string("ans1"), try record.string("ans2")]
            rows.append(TaskRow(
                id: "\(category):\(try record.integer("example_id"))",
                question: try record.string("context") + "\n" + record.string("question"),
                choices: choices, answer: .index(label), category: category))
        }
        return rows
    }
}
