import Foundation
import LanguageModels
import Tasks

/// Which positions a capture or steering hook touches (method §3.1).
public enum PositionMode: String, Codable, Sendable, CaseIterable {
    /// The last position of every forward pass: the last prompt token, then each fed-back token.
    case generation
    /// Every position of every forward pass.
    case all

    /// The rows a hook asks the model for.
    public var hookPositions: HookPositions { self == .all ? .all : .generation }
}

/// One part of a collection split across machines: shard `index` of `count` (`--shard i/N`).
public struct ShardSpec: Codable, Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw RunError.invalidSetting("\(RunSetting.shard) \(index)/\(count): expected i/N with 0 ≤ i < N")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/N`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw RunError.invalidSetting("\(RunSetting.shard) '\(text)': expected i/N, for example 0/8")
        }
        try self.init(index: i, count: n)
    }

    /// The contiguous slice of `0..<total` this shard processes; slices of all shards tile the range.
    public func range(of total: Int) -> Range<Int> {
        (total * index / count)..<(total * (index + 1) / count)
    }

    public var description: String { "\(index)/\(count)" }
}

/// Everything that decides what a collection computes. Stored in the manifest so that `--resume`,
/// `merge` and later stages can check they are continuing the same experiment.
public struct CollectionConfiguration: Codable, Sendable, Equatable {
    public var model: String
    /// SAE folder or file; nil for `--raw` (statistics over residual dimensions).
    public var sae: String?
    public var task: String
    public var data: String?
    public var customTaskFile: String?
    public var customTaskKind: String?
    public var samples: Int = 4000
    /// Overrides the task's generation length (method §6 lists the per-task defaults).
    public var maxNewTokens: Int?
    /// Layers to read; nil = every layer that has an SAE (or every layer for `--raw`).
    public var layers: [Int]?
    public var positions: PositionMode = .generation
    public var pool: Pooling = .max
    public var steerPool: Pooling = .max
    public var batchSize: Int = 8
    public var checkpointEvery: Int = 100
    public var seed: Int = 42
    public var shuffle: String = "corrsteer"
    public var bbqFilter: String?
    public var category: String?
    public var raw: Bool = false
    public var paperCompat: Bool = false
    public var mutualInformation: Bool = false
    public var reverseRewards: Bool = false
    public var lenientNumbers: Bool = false
    /// SimpleQA's built-in comparison (`--simpleqa-metric`); nil = normalized exact match.
    public var simpleQAMetric: TextMatchMetric?
    public var scorerCommand: String?
    public var scorerTimeout: Double = 600
    public var scorerPersistent = false
    public var shard: ShardSpec?

    public init(model: String, sae: String?, task: String) {
        self.model = model
        self.sae = sae
        self.task = task
    }

    enum CodingKeys: String, CodingKey {
        case model, sae, task, data, samples, layers, positions, pool, seed, shuffle, category, raw, shard
        case customTaskFile = "custom_task_file"
        case maxNewTokens = "max_new_tokens"
        case customTaskKind = "custom_task_kind"
        case steerPool = "steer_pool"
        case batchSize = "batch_size"
        case checkpointEvery = "checkpoint_every"
        case bbqFilter = "bbq_filter"
        case paperCompat = "paper_compat"
        case mutualInformation = "mutual_information"
        case reverseRewards = "reverse_rewards"
        case lenientNumbers = "lenient_numbers"
        case simpleQAMetric = "simpleqa_metric"
        case scorerCommand = "scorer_command"
        case scorerTimeout = "scorer_timeout"
        case scorerPersistent = "scorer_persistent"
    }
}
