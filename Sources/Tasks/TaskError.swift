import Foundation
import InputQuoting

/// A setting of a task load that an error can name; in words here, as a flag in the CLI.
public enum TaskSetting: MessageSetting {
    case bbqFilter, taskFile, customKind, scorerCommand, fewShot, trainLimit, validationLimit, testLimit
    case maxNewTokens, scorerTimeout

    public var description: String {
        switch self {
        case .bbqFilter: return "BBQ filter"
        case .taskFile: return "custom task file"
        case .customKind: return "custom answer kind"
        case .scorerCommand: return "scorer command"
        case .fewShot: return "few-shot count"
        case .trainLimit: return "train limit"
        case .validationLimit: return "validation limit"
        case .testLimit: return "test limit"
        case .maxNewTokens: return "new-token limit"
        case .scorerTimeout: return "scorer timeout"
        }
    }
}

/// Everything that can go wrong while reading a task's data, building its splits or scoring it.
/// Each case names the file (and line, where there is one) so the message alone says what to fix.
public enum TaskError: Error, CustomStringConvertible, Equatable {
    case unknownTask(name: String, known: [String])
    case missingFile(path: String, task: String)
    case unreadableFile(path: String, reason: String)
    case invalidUTF8(path: String, line: Int)
    case malformedJSONLine(path: String, line: Int, reason: String)
    case missingField(path: String, line: Int, field: String)
    case wrongFieldType(path: String, line: Int, field: String, expected: String)
    case invalidValue(path: String, line: Int, field: String, reason: String)
    case answerOutOfRange(path: String, line: Int, answer: String, choiceCount: Int)
    case malformedCSV(path: String, line: Int, reason: String)
    case missingColumn(path: String, column: String, found: [String])
    case emptyDataset(path: String, detail: String)
    case tooFewExamples(task: String, count: Int, minimum: Int, rule: String)
    case unknownCategory(task: String, category: String, known: [String])
    case invalidSetting(TaskSetting, reason: String)
    case scorerFailed(command: String, reason: String)
    case scorerTimedOut(command: String, seconds: Double)
    case scorerMalformedOutput(command: String, line: Int, reason: String)

    public var message: SettingMessage<TaskSetting> {
        // Answers, field names, column headers, categories and reasons can quote the data files or a
        // scorer's output: clip and escape them so each error stays one short line.
        func input(_ text: String) -> String { QuotedInput.escaped(text) }
        func said(_ reason: String) -> String { QuotedInput.bounded(reason) }
        func list(_ items: [String]) -> String { QuotedInput.bounded(items.map(input).joined(separator: ", ")) }
        switch self {
        case let .unknownTask(name, known):
            return "unknown task '\(input(name))'; known tasks: \(known.joined(separator: ", "))"
        case let .missingFile(path, task):
            return "\(path): file not found (needed by task '\(task)')"
        case let .unreadableFile(path, reason):
            return "\(path): cannot read file: \(said(reason))"
        case let .invalidUTF8(path, line):
            return "\(path):\(line): text is not valid UTF-8"
        case let .malformedJSONLine(path, line, reason):
            return "\(path):\(line): not a valid JSON object line: \(said(reason))"
        case let .missingField(path, line, field):
            return "\(path):\(line): missing field '\(input(field))'"
        case let .wrongFieldType(path, line, field, expected):
            return "\(path):\(line): field '\(input(field))' must be \(expected)"
        case let .invalidValue(path, line, field, reason):
            return "\(path):\(line): field '\(input(field))': \(said(reason))"
        case let .answerOutOfRange(path, line, answer, choiceCount):
            return "\(path):\(line): answer '\(input(answer))' is out of range for \(choiceCount) choices"
        case let .malformedCSV(path, line, reason):
            return "\(path):\(line): malformed CSV: \(said(reason))"
        case let .missingColumn(path, column, found):
            return "\(path):1: missing column '\(input(column))' (header has: \(list(found)))"
        case let .emptyDataset(path, detail):
            return "\(path): no examples (\(said(detail)))"
        case let .tooFewExamples(task, count, minimum, rule):
            return "task '\(task)' has \(count) examples, but the split \(rule) needs at least \(minimum)"
        case let .unknownCategory(task, category, known):
            let list = known.isEmpty ? "this task has no categories" : "known: \(list(known))"
            return "task '\(task)' has no category '\(input(category))' (\(list))"
        case let .invalidSetting(setting, reason):
            return "option \(setting): \(said(reason))"
        case let .scorerFailed(command, reason):
            return "scorer command `\(command)` failed: \(said(reason))"
        case let .scorerTimedOut(command, seconds):
            return "scorer command `\(command)` did not finish within \(Self.format(seconds)) s and was killed"
        case let .scorerMalformedOutput(command, line, reason):
            return "scorer command `\(command)`: output line \(line): \(said(reason))"
        }
    }

    public var description: String { message.description }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
