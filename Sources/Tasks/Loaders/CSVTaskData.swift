import Foundation

/// SimpleQA: `simpleqa/simple_qa_test_set.csv` with columns `metadata, problem, answer`; one pool.
enum SimpleQAData {
    static let task = "simpleqa"

    static func load(_ data: DataDirectory, category: String?) throws -> DatasetSource {
        let url = try data.require("simpleqa/simple_qa_test_set.csv", task: task)
        let table = try CSVTable.read(url)
        let columns = try table.columns(["problem", "answer"])
        let metadataColumn = table.header.firstIndex(of: "metadata")
        var rows: [TaskRow] = []
        for (index, record) in table.records.enumerated() {
            let topic = metadataColumn.flatMap { topicOf(record.fields[$0]) }
            rows.append(TaskRow(id: "test:\(index)", question: record.fields[columns[0]], choices: nil,
                                answer: .text(record.fields[columns[1]]), category: topic))
        }
        rows = try rows.requireNonEmpty(url.path)
        if let category { rows = try rowsOfCategory(rows, category: category, task: task) }
        return DatasetSource(layout: .onePool(rows), files: [url.path])
    }

    /// The `topic` of the Python-dict literal in `metadata` (`{'topic': 'Art', …}`), if it has one.
    static func topicOf(_ metadata: String) -> String? {
        guard let start = metadata.range(of: "'topic': '") else { return nil }
        let rest = metadata[start.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }
}

/// HarmBench: `harmbench/harmbench_behaviors_text_all.csv`. The reference concatenates the
/// `walledai/HarmBench` configs `contextual`, `copyright`, `standard` (400 rows) and splits them as one
/// pool; each config holds the rows of that `FunctionalCategory`, in file order.
enum HarmBenchData {
    static let task = "harmbench"
    static let configOrder = ["contextual", "copyright", "standard"]

    static func load(_ data: DataDirectory, category: String?) throws -> DatasetSource {
        let url = try data.require("harmbench/harmbench_behaviors_text_all.csv", task: task)
        let table = try CSVTable.read(url)
        let columns = try table.columns(["Behavior", "FunctionalCategory", "ContextString", "BehaviorID"])
        var rows: [TaskRow] = []
        for record in table.records {
            let behavior = record.fields[columns[0]]
            let context = record.fields[columns[2]]
            // `f"{context}\n{prompt}" if context else prompt`
            let question = context.isEmpty ? behavior : context + "\n" + behavior
            rows.append(TaskRow(id: record.fields[columns[3]], question: question, choices: nil, answer: .text(""),
                                category: record.fields[columns[1]]))
        }
        rows = try rows.requireNonEmpty(url.path)
        if let category {
            return DatasetSource(layout: .onePool(try rowsOfCategory(rows, category: category, task: task)), files: [url.path])
        }
        var pool: [TaskRow] = []
        for config in configOrder { pool += rows.filter { $0.category == config } }
        let others = rows.count - pool.count
        return DatasetSource(layout: .onePool(try pool.requireNonEmpty(url.path, "no contextual, copyright or standard rows")),
                             files: [url.path],
                             notes: others > 0 ? ["\(others) rows of other functional categories left out"] : [])
    }
}

/// XSTest: `xstest/xstest_prompts.csv` with columns `id, prompt, type, label, …`; one pool.
enum XSTestData {
    static let task = "xstest"

    static func load(_ data: DataDirectory, category: String?) throws -> DatasetSource {
        let url = try data.require("xstest/xstest_prompts.csv", task: task)
        let table = try CSVTable.read(url)
        let columns = try table.columns(["id", "prompt", "label"])
        let typeColumn = table.header.firstIndex(of: "type")
        var rows: [TaskRow] = []
        for record in table.records {
            let label = record.fields[columns[2]]
            guard ["safe", "unsafe"].contains(PythonText.strip(label)) else {
                throw TaskError.invalidValue(path: url.path, line: record.line, field: "label",
                                             reason: "'\(label)' is neither 'safe' nor 'unsafe'")
            }
            rows.append(TaskRow(id: record.fields[columns[0]], question: record.fields[columns[1]], choices: nil,
                                answer: .text(label), category: typeColumn.map { record.fields[$0] }))
        }
        rows = try rows.requireNonEmpty(url.path)
        if let category { rows = try rowsOfCategory(rows, category: category, task: task) }
        return DatasetSource(layout: .onePool(rows), files: [url.path])
    }
}
