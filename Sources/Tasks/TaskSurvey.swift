import Foundation

/// What `corrsteer tasks --data DIR` reports for one task.
public struct TaskSurveyEntry: Sendable, Codable, Equatable {
    public let task: String
    /// A variant such as BBQ's `ambig`, or nil.
    public let variant: String?
    public let kind: TaskKind
    public let maxNewTokens: Int
    /// Sizes before limits, or nil when the data could not be loaded.
    public let sizes: SplitSizes?
    /// Why the task is unavailable (missing file, bad line), or nil.
    public let problem: String?
    public let notes: [String]
}

extension TaskCatalog {
    /// Loads every built-in task found under `dataDirectory` (BBQ once per context condition and once
    /// unfiltered) and reports its split sizes; a task whose data are missing or broken is listed with
    /// the reason instead.
    public static func survey(dataDirectory: URL, options: TaskOptions = TaskOptions()) -> [TaskSurveyEntry] {
        var entries: [TaskSurveyEntry] = []
        for name in names where name != "custom" {
            let variants: [BBQCondition?] = name == "bbq" ? [nil, .ambig, .disambig] : [nil]
            for condition in variants {
                var variantOptions = options
                variantOptions.bbqCondition = condition
                variantOptions.fewShot = 0
                variantOptions.trainLimit = nil
                variantOptions.validationLimit = nil
                variantOptions.testLimit = nil
                variantOptions.scorerCommand = nil
                let descriptor = descriptor(for: name)!
                do {
                    let task = try load(task: name, dataDirectory: dataDirectory, options: variantOptions)
                    entries.append(TaskSurveyEntry(task: name, variant: condition?.rawValue, kind: descriptor.kind,
                                                   maxNewTokens: descriptor.maxNewTokens, sizes: task.fullSizes,
                                                   problem: nil, notes: task.notes))
                } catch {
                    entries.append(TaskSurveyEntry(task: name, variant: condition?.rawValue, kind: descriptor.kind,
                                                   maxNewTokens: descriptor.maxNewTokens, sizes: nil,
                                                   problem: String(describing: error), notes: []))
                }
            }
        }
        return entries
    }

    /// The survey as an aligned text table followed by the notes.
    public static func renderSurvey(_ entries: [TaskSurveyEntry]) -> String {
        var rows = [["task", "kind", "tokens", "train", "validation", "test"]]
        var footnotes: [String] = []
        for entry in entries {
            let name = entry.variant.map { "\(entry.task) (\($0))" } ?? entry.task
            if let sizes = entry.sizes {
                rows.append([name, entry.kind.rawValue, String(entry.maxNewTokens), String(sizes.train),
                             String(sizes.validation), String(sizes.test)])
            } else {
                rows.append([name, entry.kind.rawValue, String(entry.maxNewTokens), "-", "-", "-"])
                footnotes.append("\(name): unavailable: \(entry.problem ?? "unknown problem")")
            }
            for note in entry.notes { footnotes.append("\(name): \(note)") }
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { column, cell in
                column == 0 || column == 1 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        lines.append("")
        lines.append("Sizes before limits; a run uses the first 4000 train and 200 validation examples by default.")
        lines += footnotes
        return lines.joined(separator: "\n")
    }
}
