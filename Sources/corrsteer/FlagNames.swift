import CorrSteer
import Serving
import Tasks

/// The one place that knows which flag sets each library setting. The libraries' errors name settings
/// by concept ("batch size must be at least 1"); the CLI shows them as flags ("--batch-size must be at
/// least 1"), so a renamed flag changes here and nowhere in the libraries.
enum FlagNames {
    static func flag(_ setting: RunSetting) -> String {
        switch setting {
        case .output: return "--out"
        case .resume: return "--resume"
        case .layers: return "--layers"
        case .shard: return "--shard"
        case .batchSize: return "--batch-size"
        case .samples: return "--samples"
        case .checkpointEvery: return "--checkpoint-every"
        case .maxNewTokens: return "--max-new-tokens"
        case .testLimit: return "--test-limit"
        case .validationLimit: return "--val-limit"
        case .strategies: return "--strategies"
        case .shuffle: return "--shuffle"
        case .bbqFilter: return "--bbq-filter"
        case .customKind: return "--custom-kind"
        case .comparisons: return "--compare"
        case .instruction: return "--instruction"
        case .feature: return "--feature"
        case .memoryPlan: return "--memory-plan"
        case let .configurationField(key): return flag(configurationField: key)
        }
    }

    /// A collection configuration field (manifest key) as its flag: `--` plus the key with `-` for `_`,
    /// except where the flag is spelled otherwise.
    static func flag(configurationField key: String) -> String {
        let exceptions = ["custom_task_file": "--task-file", "custom_task_kind": "--custom-kind",
                          "mutual_information": "--mi", "reverse_rewards": "--reverse"]
        return exceptions[key] ?? "--" + key.replacingOccurrences(of: "_", with: "-")
    }

    static func flag(_ setting: TaskSetting) -> String {
        switch setting {
        case .bbqFilter: return "--bbq-filter"
        case .taskFile: return "--task-file"
        case .customKind: return "--custom-kind"
        case .scorerCommand: return "--scorer-command"
        case .fewShot: return "--few"
        case .trainLimit: return "--samples"
        case .validationLimit: return "--val-limit"
        case .testLimit: return "--test-limit"
        case .maxNewTokens: return "--max-new-tokens"
        case .scorerTimeout: return "--scorer-timeout"
        }
    }

    static func flag(_ setting: ServingSetting) -> String {
        switch setting {
        case .plan: return "--plan"
        case .run: return "--run"
        case .maxBatch: return "--max-batch"
        case .maxQueue: return "--max-queue"
        case .contextLength: return "--max-context"
        case .requestTimeout: return "--request-timeout"
        }
    }

    /// `error` as the CLI reports it: a library error reworded with flag names, any other error as it is
    /// (so ArgumentParser's own errors keep their exit codes).
    static func userFacing(_ error: Error) -> Error {
        switch error {
        case let error as RunError: return Reworded(error.message.rendered(naming: flag))
        case let error as SelectionError: return Reworded(error.message.rendered(naming: flag))
        case let error as TaskError: return Reworded(error.message.rendered(naming: flag))
        case let error as ServingError:
            guard let setup = error.setup else { return error }
            return Reworded(setup.rendered(naming: flag))
        default: return error
        }
    }

    /// A library error's message with flag names; like the error itself, it exits with status 1.
    struct Reworded: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
