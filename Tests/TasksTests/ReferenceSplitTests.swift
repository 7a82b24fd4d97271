import Tasks
import XCTest

/// With `--shuffle hf` every task's splits equal, id for id, what Hugging Face `datasets` gives for the
/// reference's split chain on the staged data (fixture: scripts/fixtures/tasks_reference_splits.py).
final class ReferenceSplitTests: XCTestCase {
    private static let fixture = Result { try TestSupport.fixture("reference_splits.json") }

    static func reference(_ key: String) throws -> [String: Any] {
        try fixture.get().object("tasks").object(key)
    }

    /// The staged task with `--shuffle hf` and no train/validation limits, then `configure`.
    /// Loads are cached by their options: several test classes read the same large files.
    static func load(_ task: String, condition: BBQCondition? = nil, configure: (inout TaskOptions) -> Void = { _ in }) throws -> LoadedTask {
        var options = TaskOptions()
        options.shuffle = .hf
        options.bbqCondition = condition
        options.trainLimit = nil
        options.validationLimit = nil
        configure(&options)
        let key = "\(task) \(String(describing: options))"
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let cached = cache[key] { return cached }
        let loaded = try TaskCatalog.load(task: task, dataDirectory: TestSupport.sharedData, options: options)
        cache[key] = loaded
        return loaded
    }

    private static var cache: [String: LoadedTask] = [:]
    private static let cacheLock = NSLock()

    private func assertSplitsMatch(_ task: String, key: String? = nil, condition: BBQCondition? = nil,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try Self.reference(key ?? task)
        let loaded = try Self.load(task, condition: condition)
        let sizes = reference.ints("sizes")
        XCTAssertEqual([loaded.fullSizes.train, loaded.fullSizes.validation, loaded.fullSizes.test], sizes, "\(task) sizes", file: file, line: line)
        XCTAssertEqual(loaded.splits.train.map(\.id), reference.strings("train"), "\(task) train ids", file: file, line: line)
        XCTAssertEqual(loaded.splits.validation.map(\.id), reference.strings("validation"), "\(task) validation ids", file: file, line: line)
        XCTAssertEqual(loaded.splits.test.map(\.id), reference.strings("test"), "\(task) test ids", file: file, line: line)
    }

    func testMMLU() throws { try assertSplitsMatch("mmlu") }
    func testMMLUPro() throws { try assertSplitsMatch("mmlupro") }
    func testGSM8K() throws { try assertSplitsMatch("gsm8k") }
    func testBBQ() throws { try assertSplitsMatch("bbq") }
    func testBBQAmbig() throws { try assertSplitsMatch("bbq", key: "bbq_ambig", condition: .ambig) }
    func testBBQDisambig() throws { try assertSplitsMatch("bbq", key: "bbq_disambig", condition: .disambig) }
    func testSimpleQA() throws { try assertSplitsMatch("simpleqa") }
    func testHarmBench() throws { try assertSplitsMatch("harmbench") }
    func testXSTest() throws { try assertSplitsMatch("xstest") }

    func testLimitsKeepTheFirstRowsAndFewShotComesFromTheWholeTrainSplit() throws {
        let reference = try Self.reference("gsm8k")
        let task = try Self.load("gsm8k") { options in
            options.trainLimit = 100
            options.validationLimit = 20
            options.testLimit = 5
            options.fewShot = 2
        }
        XCTAssertEqual(task.splits.train.map(\.id), Array(reference.strings("train").prefix(100)))
        XCTAssertEqual(task.splits.validation.map(\.id), Array(reference.strings("validation").prefix(20)))
        XCTAssertEqual(task.splits.test.map(\.id), Array(reference.strings("test").prefix(5)))
        XCTAssertEqual(task.fewShotExamples.map(\.id), Array(reference.strings("train").suffix(2)))
        XCTAssertEqual(task.fullSizes, SplitSizes(train: 6725, validation: 748, test: 1319))
    }

    func testDefaultShuffleGivesTheSameSizesButOtherOrder() throws {
        var options = TaskOptions()
        options.trainLimit = nil
        let own = try TaskCatalog.load(task: "xstest", dataDirectory: TestSupport.sharedData, options: options)
        let hf = try Self.load("xstest")
        XCTAssertEqual(own.fullSizes, hf.fullSizes)
        XCTAssertNotEqual(own.splits.test.map(\.id), hf.splits.test.map(\.id))
        XCTAssertEqual(Set(own.splits.test.map(\.id) + own.splits.train.map(\.id) + own.splits.validation.map(\.id)).count, 450)
    }

    func testSurveyListsEveryTaskWithItsStagedSizes() {
        let entries = TaskCatalog.survey(dataDirectory: TestSupport.sharedData)
        func sizes(_ task: String, _ variant: String? = nil) -> SplitSizes? {
            entries.first { $0.task == task && $0.variant == variant }?.sizes
        }
        XCTAssertEqual(sizes("mmlu"), SplitSizes(train: 1218, validation: 1531, test: 14042))
        XCTAssertEqual(sizes("mmlupro"), SplitSizes(train: 7061, validation: 785, test: 2135))
        XCTAssertEqual(sizes("gsm8k"), SplitSizes(train: 6725, validation: 748, test: 1319))
        XCTAssertEqual(sizes("bbq"), SplitSizes(train: 3227, validation: 359, test: 8370))
        XCTAssertEqual(sizes("bbq", "ambig"), SplitSizes(train: 1613, validation: 180, test: 4185))
        XCTAssertEqual(sizes("bbq", "disambig"), SplitSizes(train: 1613, validation: 180, test: 4185))
        XCTAssertEqual(sizes("simpleqa"), SplitSizes(train: 1167, validation: 130, test: 3029))
        XCTAssertEqual(sizes("harmbench"), SplitSizes(train: 108, validation: 12, test: 280))
        XCTAssertEqual(sizes("xstest"), SplitSizes(train: 121, validation: 14, test: 315))
        XCTAssertTrue(entries.allSatisfy { $0.problem == nil }, entries.compactMap(\.problem).joined(separator: "\n"))
        let table = TaskCatalog.renderSurvey(entries)
        XCTAssertTrue(table.contains("bbq (ambig)"), table)
        XCTAssertTrue(table.contains("auxiliary_train_subset.jsonl"), table)
    }

    func testSurveyReportsMissingData() throws {
        let empty = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        let entries = TaskCatalog.survey(dataDirectory: empty)
        XCTAssertEqual(entries.count, 9)
        XCTAssertTrue(entries.allSatisfy { $0.sizes == nil })
        let gsm8k = try XCTUnwrap(entries.first { $0.task == "gsm8k" })
        XCTAssertEqual(gsm8k.problem, "\(empty.path)/gsm8k/train.jsonl: file not found (needed by task 'gsm8k')")
    }
}
