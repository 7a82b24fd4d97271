import Tasks
import XCTest

/// `--shuffle hf` against numpy / Hugging Face `datasets`, and our own shuffle against an independent
/// Python implementation of its documented algorithm (fixture: scripts/fixtures/tasks_shuffle.py).
final class ShuffleTests: XCTestCase {
    private var fixture: [String: Any] = [:]

    override func setUpWithError() throws {
        fixture = try TestSupport.fixture("shuffle_reference.json")
    }

    func testHFPermutationsEqualNumpyDefaultRNG() {
        let cases = fixture.objects("numpy")
        XCTAssertEqual(cases.count, 9)
        for entry in cases {
            let seed = entry.int("seed"), n = entry.int("n")
            let permutation = Shuffler(mode: .hf, seed: UInt64(seed)).permutation(n)
            XCTAssertEqual(permutation, entry.ints("permutation"), "np.random.default_rng(\(seed)).permutation(\(n))")
        }
    }

    func testHFTrainTestSplitEqualsDatasets() {
        for entry in fixture.objects("datasets_train_test_split") {
            let n = entry.int("n")
            let split = Shuffler(mode: .hf, seed: UInt64(entry.int("seed"))).trainTestSplit(Array(0..<n), testFraction: 0.7)
            XCTAssertEqual(split.train, entry.ints("train"), "train_test_split(test_size=0.7, seed=42) train, n=\(n)")
            XCTAssertEqual(split.test, entry.ints("test"), "train_test_split(test_size=0.7, seed=42) test, n=\(n)")
        }
    }

    func testHFOnePoolChainEqualsReference() throws {
        for entry in fixture.objects("datasets_one_pool") {
            let n = entry.int("n"), seed = entry.int("seed")
            let dir = try TestSupport.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            // A custom pool whose ids are the row numbers 0..<n reproduces the chain end to end.
            let lines = (0..<n).map { #"{"id": "\#($0)", "prompt": "p", "answer": "a"}"# }
            let file = dir.appendingPathComponent("pool.jsonl")
            try TestSupport.write(lines.joined(separator: "\n") + "\n", to: file)
            var options = TaskOptions()
            options.customTaskFile = file
            options.customKind = .exact
            options.shuffle = .hf
            options.seed = UInt64(seed)
            options.trainLimit = nil
            options.validationLimit = nil
            let task = try TaskCatalog.load(task: "custom", dataDirectory: dir, options: options)
            XCTAssertEqual(task.splits.train.map { Int($0.id)! }, entry.ints("train"), "n=\(n) seed=\(seed)")
            XCTAssertEqual(task.splits.validation.map { Int($0.id)! }, entry.ints("validation"), "n=\(n) seed=\(seed)")
            XCTAssertEqual(task.splits.test.map { Int($0.id)! }, entry.ints("test"), "n=\(n) seed=\(seed)")
        }
    }

    func testOwnShuffleMatchesItsDocumentedAlgorithm() {
        let splitmix = fixture.object("splitmix64")
        for entry in splitmix.objects("permutations") {
            let seed = entry.int("seed"), n = entry.int("n")
            XCTAssertEqual(Shuffler(mode: .corrsteer, seed: UInt64(seed)).permutation(n), entry.ints("permutation"),
                           "SplitMix64 Fisher–Yates, seed \(seed), n \(n)")
        }
    }

    func testShufflesDifferAndAreDeterministic() {
        let a = Shuffler(mode: .corrsteer, seed: 42).permutation(400)
        XCTAssertEqual(a, Shuffler(mode: .corrsteer, seed: 42).permutation(400))
        XCTAssertNotEqual(a, Shuffler(mode: .hf, seed: 42).permutation(400))
        XCTAssertNotEqual(a, Shuffler(mode: .corrsteer, seed: 43).permutation(400))
        XCTAssertEqual(a.sorted(), Array(0..<400))
    }

    func testSplitSizesOnTheFullDatasetsMatchTheSpec() {
        // §7.5: the reference's sizes from the full Hugging Face datasets.
        XCTAssertEqual(SplitPlan.onePoolSizes(400), SplitSizes(train: 108, validation: 12, test: 280), "HarmBench")
        XCTAssertEqual(SplitPlan.onePoolSizes(450), SplitSizes(train: 121, validation: 14, test: 315), "XSTest")
        XCTAssertEqual(SplitPlan.onePoolSizes(4326), SplitSizes(train: 1167, validation: 130, test: 3029), "SimpleQA")
        XCTAssertEqual(SplitPlan.onePoolSizes(58492 / 2), SplitSizes(train: 7895, validation: 878, test: 20473), "BBQ per condition")
        XCTAssertEqual(SplitPlan.onePoolSizes(58492), SplitSizes(train: 15792, validation: 1755, test: 40945), "BBQ unfiltered")
        XCTAssertEqual(SplitPlan.trainAndTestSizes(train: 7473, test: 1319), SplitSizes(train: 6725, validation: 748, test: 1319), "GSM8K")
        XCTAssertEqual(SplitPlan.trainAndTestSizes(train: 7847, test: 2135), SplitSizes(train: 7062, validation: 785, test: 2135), "MMLU-Pro")
    }
}
