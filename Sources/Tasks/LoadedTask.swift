import Foundation

/// A task ready to run: descriptor, prompts in their splits, and how outputs are read and scored.
public struct LoadedTask: Sendable {
    public let descriptor: TaskDescriptor
    /// Shuffled, split and limited.
    public var splits: TaskSplits
    /// Split sizes before the limits.
    public let fullSizes: SplitSizes
    /// The few-shot examples prefixed to every `prompt` (last k rows of the unlimited training split).
    public let fewShotExamples: [TaskExample]
    public let extractor: AnswerExtractor
    public let scorer: any Scorer
    /// Describes `scorer` for manifests: a built-in rule name, or `external: COMMAND`.
    public let scorerDescription: String
    /// The files the examples came from.
    public let sourceFiles: [String]
    /// How the data differ from the reference's (subsets, derived splits, missing files).
    public let notes: [String]

    /// The label the reference compares (stripped text, or the GSM8K number).
    public func extractAnswer(from output: String) -> String {
        extractor.extractAnswer(from: output)
    }

    /// Rewards for generations of `examples` (one output per example, same order).
    public func score(_ examples: [TaskExample], outputs: [String]) throws -> [Double] {
        precondition(examples.count == outputs.count, "one output per example")
        let items = zip(examples, outputs).map { ScoringItem(id: $0.id, prompt: $0.prompt, output: $1, gold: $0.gold) }
        return try scorer.score(items)
    }
}
