import Foundation
import InputQuoting

/// Scores with a program of the user's: `/bin/sh -c COMMAND` reads one JSON object per line on stdin,
/// `{"id", "prompt", "output", "gold"}`, and writes one per line on stdout, `{"id", "score"}`, with
/// `score` a number (or boolean) in [0, 1]. Lines may come back in any order; blank lines are ignored.
///
/// By default one process runs per `score` call and sees end-of-input after the batch. With
/// `persistent`, one process serves every call: each batch is followed by an empty line, and the
/// command must answer every item of it (flushing its output) before reading on — a scorer that
/// loads a model then loads it once. Either way a failed call throws before any score is returned and
/// leaves nothing behind (a persistent process is killed and restarted by the next call), so the same
/// items can simply be scored again.
public struct ExternalCommandScorer: Scorer {
    public let command: String
    /// Seconds one call may take before the command is killed.
    public let timeout: Double
    public let persistent: Bool
    private let session: ShellSession?

    public init(command: String, timeout: Double = 600, persistent: Bool = false) {
        self.command = command
        self.timeout = timeout
        self.persistent = persistent
        session = persistent ? ShellSession(command: command) : nil
    }

    public func score(_ items: [ScoringItem]) throws -> [Double] {
        guard !items.isEmpty else { return [] }
        var position: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            if position[item.id] != nil {
                throw TaskError.scorerFailed(command: command, reason: "two items share the id '\(item.id)'; ids must be unique")
            }
            position[item.id] = index
        }
        let input = try Self.encode(items)
        if let session {
            return try scoreInSession(session, input: input, position: position, count: items.count)
        }
        let result: ShellCommand.Result
        do {
            result = try ShellCommand(command: command, timeout: timeout).run(input: input)
        } catch ShellCommand.Failure.timedOut {
            throw TaskError.scorerTimedOut(command: command, seconds: timeout)
        } catch ShellCommand.Failure.couldNotStart(let reason) {
            throw TaskError.scorerFailed(command: command, reason: "could not start /bin/sh: \(reason)")
        } catch let ShellCommand.Failure.lineTooLong(line, limit) {
            throw TaskError.scorerMalformedOutput(
                command: command, line: line, reason: "longer than \(limit) bytes (expected one short JSON object per line); the command was stopped")
        } catch ShellCommand.Failure.outputLeftOpen {
            throw TaskError.scorerFailed(command: command, reason: "it exited but a child process kept its output open")
        }
        if result.killedBySignal {
            throw TaskError.scorerFailed(command: command, reason: "killed by signal \(result.exitStatus)\(Self.stderrTail(result.standardError))")
        }
        if result.exitStatus != 0 {
            throw TaskError.scorerFailed(command: command, reason: "exited with status \(result.exitStatus)\(Self.stderrTail(result.standardError))")
        }
        var lines: [(number: Int, text: [UInt8])] = []
        for (offset, line) in result.standardOutput.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            lines.append((offset + 1, Array(line)))
        }
        return try scores(from: lines, position: position, count: items.count)
    }

    private func scoreInSession(_ session: ShellSession, input: Data, position: [String: Int], count: Int) throws -> [Double] {
        var batch = input
        batch.append(UInt8(ascii: "\n"))
        let lines: [(number: Int, text: [UInt8])]
        do {
            lines = try session.exchange(batch, expecting: count, timeout: timeout)
        } catch ShellSession.Failure.timedOut {
            throw TaskError.scorerTimedOut(command: command, seconds: timeout)
        } catch ShellSession.Failure.couldNotStart(let reason) {
            throw TaskError.scorerFailed(command: command, reason: "could not start /bin/sh: \(reason)")
        } catch let ShellSession.Failure.exited(status, bySignal, standardError) {
            let how = status.map { bySignal ? "killed by signal \($0)" : "exited with status \($0)" } ?? "closed its output"
            throw TaskError.scorerFailed(command: command, reason: "\(how) before scoring all \(count) items\(Self.stderrTail(standardError))")
        }
        do {
            return try scores(from: lines, position: position, count: count)
        } catch {
            // The process's answers no longer line up with our batches: start over next time.
            session.reset()
            throw error
        }
    }

    private static func encode(_ items: [ScoringItem]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for item in items {
            data.append(try encoder.encode(item))
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }

    private func scores(from lines: [(number: Int, text: [UInt8])], position: [String: Int], count: Int) throws -> [Double] {
        var scores = [Double?](repeating: nil, count: count)
        for (lineNumber, rawLine) in lines {
            var line = rawLine[...]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let text = String(bytes: line, encoding: .utf8) else {
                throw TaskError.scorerMalformedOutput(command: command, line: lineNumber, reason: "not valid UTF-8")
            }
            if PythonText.strip(text).isEmpty { continue }
            let (id, score) = try parse(text, line: lineNumber)
            guard let index = position[id] else {
                throw TaskError.scorerMalformedOutput(command: command, line: lineNumber, reason: "id '\(QuotedInput.escaped(id))' was not among the items sent")
            }
            if scores[index] != nil {
                throw TaskError.scorerMalformedOutput(command: command, line: lineNumber, reason: "id '\(QuotedInput.escaped(id))' was scored twice")
            }
            scores[index] = score
        }
        let missing = position.filter { scores[$0.value] == nil }.sorted { $0.value < $1.value }.map(\.key)
        if let first = missing.first {
            let more = missing.count > 1 ? " and \(missing.count - 1) more" : ""
            throw TaskError.scorerFailed(
                command: command,
                reason: "it scored \(count - missing.count) of \(count) items; no score for id '\(first)'\(more)")
        }
        return scores.map { $0 ?? 0 }
    }

    private func parse(_ text: String, line: Int) throws -> (String, Double) {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
        } catch {
            throw TaskError.scorerMalformedOutput(command: command, line: line, reason: "not JSON: \(Self.excerpt(text))")
        }
        guard let object = value as? [String: Any] else {
            throw TaskError.scorerMalformedOutput(command: command, line: line, reason: "not a JSON object: \(Self.excerpt(text))")
        }
        let id: String
        if let text = object["id"] as? String {
            id = text
        } else if let raw = object["id"], let number = JSONRecord.integerValue(raw) {
            id = String(number)
        } else {
            throw TaskError.scorerMalformedOutput(command: command, line: line, reason: "missing string field 'id': \(Self.excerpt(text))")
        }
        guard let rawScore = object["score"], !(rawScore is NSNull), !(rawScore is String),
              let number = rawScore as? NSNumber
        else {
            throw TaskError.scorerMalformedOutput(command: command, line: line, reason: "missing numeric field 'score' for id '\(id)'")
        }
        let score = number.doubleValue
        guard score.isFinite, score >= 0, score <= 1 else {
            throw TaskError.scorerMalformedOutput(command: command, line: line, reason: "score \(score) for id '\(id)' is outside [0, 1]")
        }
        return (id, score)
    }

    private static func excerpt(_ text: String) -> String {
        QuotedInput.escaped(text, limit: 80, escapingQuotes: false)
    }

    private static func stderrTail(_ data: Data) -> String {
        let text = PythonText.strip(String(decoding: data, as: UTF8.self))
        guard !text.isEmpty else { return "" }
        let lastLines = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(3).joined(separator: " | ")
        let clipped = lastLines.count > 400 ? "…" + String(lastLines.suffix(400)) : lastLines
        return "; stderr: \(clipped)"
    }
}
