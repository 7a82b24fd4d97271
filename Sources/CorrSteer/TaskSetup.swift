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
            throw RunError.invalidOption("--shuffle '\(configuration.shuffle)': expected one of \(ShuffleMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        options.shuffle = shuffle
        options.fewShot = fewShot
        options.chainOfThought = chainOfThought
        if let filter = configuration.bbqFilter {
            guard let condition = BBQCondition(rawValue: filter) else {
                throw RunError.invalidOption("--bbq-filter '\(filter)': expected \(BBQCondition.allCases.map(\.rawValue).joined(separator: " or "))")
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
                throw RunError.invalidOption("--custom-kind '\(kind)': expected one of \(CustomAnswerKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.customKind = parsed
        }
        options.lenientNumbers = configuration.lenientNumbers
        options.scorerCommand = configuration.scorerCommand
        let data = URL(fileURLWithPath: configuration.data ?? ".")
        return try TaskCatalog.load(task: configuration.task, dataDirectory: data, options: options)
    }
}
