import Foundation

/// Paths inside `--data DIR` (the layout of `shared/data`, documented in docs/tasks.md).
struct DataDirectory {
    let root: URL

    func file(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    func exists(_ relativePath: String) -> Bool {
        FileManager.default.fileExists(atPath: file(relativePath).path)
    }

    /// The file, or an error naming it and the task that needs it.
    func require(_ relativePath: String, task: String) throws -> URL {
        let url = file(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TaskError.missingFile(path: url.path, task: task)
        }
        return url
    }
}

extension Array where Element == TaskRow {
    /// Fails when a file yielded no rows.
    func requireNonEmpty(_ path: String, _ detail: String = "the file has no rows") throws -> [TaskRow] {
        guard !isEmpty else { throw TaskError.emptyDataset(path: path, detail: detail) }
        return self
    }
}

/// Picks the rows of one subset, or explains which subsets exist.
func rowsOfCategory(_ rows: [TaskRow], category: String, task: String) throws -> [TaskRow] {
    let selected = rows.filter { $0.category == category }
    guard !selected.isEmpty else {
        var seen = Set<String>()
        let known = rows.compactMap(\.category).filter { seen.insert($0).inserted }
        throw TaskError.unknownCategory(task: task, category: category, known: known)
    }
    return selected
}

/// Options are labelled A–Z, so a multiple-choice row needs 1 to 26 of them; anything else would
/// print non-letters as option labels (or fail to build one) instead of naming the bad line.
func requireChoiceCount(_ count: Int, field: String, path: String, line: Int) throws {
    guard (1...26).contains(count) else {
        throw TaskError.invalidValue(path: path, line: line, field: field,
                                     reason: count == 0 ? "no choices" : "has \(count) choices; options are lettered A–Z, so at most 26")
    }
}
