import Foundation
import Tasks

/// Builds the task of a run from its configuration, the same way for every stage.
public enum TaskSetup {
    public static func load(
        _ configuration: CollectionConfiguration, fewShot: Int = 0, chainOfThought: Bool = false,
        validationLimit: Int? = 200, testLimit: Int? = nil
    ) throws -> LoadedTask {
        var options = TaskOptions()
        options.seed = UInt64(configuration.seed)
        guard let shuffle = ShuffleMode(rawValue: configuration.shuffle) else {
            throw RunError.invalidSetting("\(RunSetting.shuffle) '\(configuration.shuffle)': expected one of \(ShuffleMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        options.shuffle = shuffle
        options.fewShot = fewShot
        options.chainOfThought = chainOfThought
        if let filter = configuration.bbqFilter {
            guard let condition = BBQCondition(rawValue: filter) else {
                throw RunError.invalidSetting("\(RunSetting.bbqFilter) '\(filter)': expected \(BBQCondition.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            options.bbqCondition = condition
        }
        options.category = configuration.category
        options.trainLimit = configuration.samples
        options.validationLimit = validationLimit
        options.testLimit = testLimit
        if let file = configuration.customTaskFile { options.customTaskFile = URL(fileURLWithPath: file) }
        if let kind = configuration.customTaskKind {
            guard let parsed = CustomAnswerKind(rawValue: kind) else {
                throw RunError.invalidSetting("\(RunSetting.customKind) '\(kind)': expected one of \(CustomAnswerKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.customKind = parsed
        }
        options.lenientNumbers = configuration.lenientNumbers
        if let metric = configuration.simpleQAMetric { options.simpleQAMetric = metric }
        options.maxNewTokens = configuration.maxNewTokens
        options.scorerCommand = configuration.scorerCommand
        options.scorerTimeout = configuration.scorerTimeout
        options.scorerPersistent = configuration.scorerPersistent
        let data = URL(fileURLWithPath: configuration.data ?? ".")
        let task = try TaskCatalog.load(task: configuration.task, dataDirectory: data, options: options)
        guard let testSeed = configuration.reference.testSplitSeed, configuration.seed != testSeed else { return task }
        // The reference builds test splits with seed 42 whatever the run's seed (method §11 bug 9).
        options.seed = UInt64(testSeed)
        let seed42 = try TaskCatalog.load(task: configuration.task, dataDirectory: data, options: options)
        var adjusted = task
        adjusted.splits.test = seed42.splits.test
        return adjusted
    }
}
