import InputQuoting

/// A setting of a collection, selection or evaluation that an error message names. The library
/// names it in words; the CLI renders the same message with its flag (`SettingMessage`).
public enum RunSetting: MessageSetting {
    case output
    case resume
    case layers
    case shard
    case batchSize
    case samples
    case checkpointEvery
    case maxNewTokens
    case testLimit
    case validationLimit
    case strategies
    case shuffle
    case bbqFilter
    case customKind
    case comparisons
    case instruction
    case feature
    case memoryPlan
    /// A field of the collection configuration, by its manifest key (`batch_size`).
    case configurationField(String)

    public var description: String {
        switch self {
        case .output: return "output folder"
        case .resume: return "resume"
        case .layers: return "layers"
        case .shard: return "shard"
        case .batchSize: return "batch size"
        case .samples: return "sample count"
        case .checkpointEvery: return "checkpoint interval"
        case .maxNewTokens: return "new-token limit"
        case .testLimit: return "test limit"
        case .validationLimit: return "validation limit"
        case .strategies: return "strategies"
        case .shuffle: return "shuffle mode"
        case .bbqFilter: return "BBQ filter"
        case .customKind: return "custom answer kind"
        case .comparisons: return "comparison"
        case .instruction: return "instruction"
        case .feature: return "feature"
        case .memoryPlan: return "memory plan"
        case let .configurationField(key): return key.replacingOccurrences(of: "_", with: " ")
        }
    }
}

/// A message of the CorrSteer library, naming settings by concept.
public typealias RunMessage = SettingMessage<RunSetting>

/// Errors of the CorrSteer pipeline that are not a parse error of some input file.
public enum RunError: Error, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)
    case invalidRun(path: String, reason: RunMessage)
    case invalidSetting(RunMessage)
    case mismatch(RunMessage)
    case noSamples(RunMessage)
    /// Another process writes this run (`RunLock`).
    case locked(path: String, holder: String)

    public var message: RunMessage {
        switch self {
        case let .cannotWrite(path, reason): return "\(path): cannot write: \(reason)"
        case let .invalidRun(path, reason): return "\(path): \(reason)"
        case let .invalidSetting(message): return message
        case let .mismatch(message): return message
        case let .noSamples(message): return message
        case let .locked(path, holder):
            return "\(path): another corrsteer process is writing this run (\(holder)); wait for it to finish or stop it"
        }
    }

    public var description: String { message.description }
}
