/// The reference's split rules (`utils.py` `load_dataloaders`), with fractions 0.7 (test) and 0.1 (validation).
public enum SplitPlan {
    public static let testFraction = 0.7
    public static let validationFraction = 0.1

    /// Sizes for a single pool of `count` rows: 70% test / 30% rest → 90% train / 10% validation.
    public static func onePoolSizes(_ count: Int) -> SplitSizes {
        let test = Shuffler.testCount(count, testFraction: testFraction)
        let rest = count - test
        let validation = Shuffler.testCount(rest, testFraction: validationFraction)
        return SplitSizes(train: rest - validation, validation: validation, test: test)
    }

    /// Sizes when train is cut 90% train / 10% validation and test is official.
    public static func trainAndTestSizes(train: Int, test: Int) -> SplitSizes {
        let validation = Shuffler.testCount(train, testFraction: validationFraction)
        return SplitSizes(train: train - validation, validation: validation, test: test)
    }

    /// The smallest pool whose splits are all non-empty (as `datasets` requires of each cut).
    static var minimumOnePool: Int {
        var count = 1
        while true {
            let sizes = onePoolSizes(count)
            if sizes.train > 0 && sizes.validation > 0 && sizes.test > 0 { return count }
            count += 1
        }
    }

    static var minimumTrainForValidationCut: Int {
        var count = 1
        while true {
            let sizes = trainAndTestSizes(train: count, test: 0)
            if sizes.train > 0 && sizes.validation > 0 { return count }
            count += 1
        }
    }

    /// Applies the rule of `layout` with `shuffler`; returns rows in iteration order.
    static func split(_ layout: DatasetLayout, shuffler: Shuffler, task: String) throws
        -> (train: [TaskRow], validation: [TaskRow], test: [TaskRow])
    {
        switch layout {
        case let .official(train, validation, test):
            return (shuffler.shuffled(train), shuffler.shuffled(validation), shuffler.shuffled(test))
        case let .trainAndTest(train, test):
            guard train.count >= minimumTrainForValidationCut else {
                throw TaskError.tooFewExamples(
                    task: task, count: train.count, minimum: minimumTrainForValidationCut,
                    rule: "of the training rows into 90% train / 10% validation")
            }
            let cut = shuffler.trainTestSplit(shuffler.shuffled(train), testFraction: validationFraction)
            return (cut.train, cut.test, shuffler.shuffled(test))
        case let .onePool(pool):
            guard pool.count >= minimumOnePool else {
                throw TaskError.tooFewExamples(
                    task: task, count: pool.count, minimum: minimumOnePool,
                    rule: "70% test / 30% rest → 90% train / 10% validation")
            }
            let first = shuffler.trainTestSplit(shuffler.shuffled(pool), testFraction: testFraction)
            let second = shuffler.trainTestSplit(first.train, testFraction: validationFraction)
            return (second.train, second.test, first.test)
        }
    }
}
