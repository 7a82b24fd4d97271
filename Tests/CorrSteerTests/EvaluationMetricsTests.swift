import CorrSteer
import Foundation
import Tensors
import XCTest

/// Parity with numpy / scipy (scripts/fixtures/corrsteer_metrics.py).
final class EvaluationMetricsTests: XCTestCase {
    static let expected = try! CorrSteerFixtures.json("metrics_expected.json")

    static func predictions(_ name: String) throws -> [PredictionRecord] {
        try PredictionsFile.read(from: CorrSteerFixtures.url("metrics_\(name).jsonl"))
    }

    func testSplitMix64MatchesReferenceSequence() {
        var rng = SplitMix64(seed: 42)
        XCTAssertEqual((0 ..< 5).map { _ in String(rng.next()) }, Self.expected["splitmix64_seed42_first5"]!.array.map { $0.string! })
        var zero = SplitMix64(seed: 0)
        XCTAssertEqual((0 ..< 3).map { _ in String(zero.next()) }, Self.expected["splitmix64_seed0_first3"]!.array.map { $0.string! })
    }

    func testBaselineMetrics() throws {
        let metrics = try VariantMetrics.compute(variant: "baseline", predictions: Self.predictions("baseline"))
        let e = Self.expected["baseline"]!
        XCTAssertEqual(metrics.accuracy, double(e["accuracy"]))
        assertInterval(metrics.accuracyInterval, e["accuracy_interval"]!, "baseline accuracy")
        XCTAssertNil(metrics.comparison)
        XCTAssertEqual(metrics.bootstrap, BootstrapOptions(resamples: 10_000, seed: 42, confidence: 0.95))
    }

    func testSteeredMetricsMatchNumpyAndScipy() throws {
        let baseline = try Self.predictions("baseline")
        for (name, options) in [("steered", BootstrapOptions()), ("steered_small_bootstrap", BootstrapOptions(resamples: 500, seed: 7, confidence: 0.9)),
                                ("graded", BootstrapOptions())] {
            let predictions = try Self.predictions(name == "graded" ? "graded" : "steered")
            let metrics = try VariantMetrics.compute(variant: name, predictions: predictions, baseline: baseline, bootstrap: options)
            let e = Self.expected[name]!
            let c = try XCTUnwrap(metrics.comparison)
            XCTAssertEqual(metrics.count, e["count"]!.int)
            assertClose(metrics.accuracy, double(e["accuracy"]), relative: 1e-12, name)
            assertClose(c.baselineAccuracy, double(e["baseline_accuracy"]), relative: 1e-12, name)
            assertClose(c.delta, double(e["delta"]), relative: 1e-12, name)
            XCTAssertEqual(c.changed, e["changed"]!.int, name)
            XCTAssertEqual(c.positive, e["pos"]!.int, name)
            XCTAssertEqual(c.negative, e["neg"]!.int, name)
            XCTAssertEqual(c.sideEffectRatio, double(e["ser"]), name)
            assertInterval(metrics.accuracyInterval, e["accuracy_interval"]!, "\(name) accuracy")
            assertInterval(c.deltaInterval, e["delta_interval"]!, "\(name) delta")
            if e["mcnemar_p"]!.isNull {
                XCTAssertNil(c.mcnemarP, name)
                XCTAssertTrue(metrics.notes.contains { $0.contains("McNemar test is not computed") }, name)
            } else {
                assertClose(try XCTUnwrap(c.mcnemarP), double(e["mcnemar_p"]), name)
                XCTAssertEqual(c.baselineOnlyCorrect, e["baseline_only_correct"]!.int, name)
                XCTAssertEqual(c.steeredOnlyCorrect, e["steered_only_correct"]!.int, name)
            }
        }
    }

    func testExactMcNemarMatchesScipyBinomtest() {
        for case_ in Self.expected["mcnemar"]!.array {
            let (b, c) = (case_["b"]!.int, case_["c"]!.int)
            assertClose(EvaluationStatistics.mcnemarExactP(b: b, c: c), double(case_["p"]), "b=\(b) c=\(c)")
        }
    }

    func testNumpyQuantileInterpolation() {
        let values: [Double] = [1, 2, 4, 8]
        XCTAssertEqual(EvaluationStatistics.quantile(sorted: values, 0), 1)
        XCTAssertEqual(EvaluationStatistics.quantile(sorted: values, 1), 8)
        XCTAssertEqual(EvaluationStatistics.quantile(sorted: values, 0.5), 3)  // numpy.quantile([1,2,4,8], 0.5)
        XCTAssertEqual(EvaluationStatistics.quantile(sorted: values, 0.9), 6.8, accuracy: 1e-15)
    }

    func testMisalignedOrDuplicateIDsAreErrors() throws {
        let baseline = try Self.predictions("baseline")
        var steered = try Self.predictions("steered")
        steered[0].id = "item-999"
        let mismatch = thrownError { try VariantMetrics.compute(variant: "A", predictions: steered, baseline: baseline) }
        XCTAssertEqual("\(mismatch!)", "variant A and the baseline cover different samples: 1 of its IDs are not in the baseline ('item-999'); "
            + "1 baseline IDs are not in it ('\(try Self.predictions("steered")[0].id)'). Evaluate both on the same split, seed and limit.")
        steered[0].id = steered[1].id
        let duplicate = thrownError { try VariantMetrics.compute(variant: "A", predictions: steered, baseline: baseline) }
        XCTAssertEqual("\(duplicate!)", "variant A: sample ID '\(steered[1].id)' appears more than once")
        XCTAssertEqual("\(thrownError { try VariantMetrics.compute(variant: "S", predictions: []) }!)", "variant S: no predictions")
    }

    func testUndefinedSERWhenNothingChanges() throws {
        let baseline = try Self.predictions("baseline")
        let metrics = try VariantMetrics.compute(variant: "same", predictions: baseline, baseline: baseline,
                                                 bootstrap: BootstrapOptions(resamples: 50))
        XCTAssertNil(metrics.comparison?.sideEffectRatio)
        XCTAssertEqual(metrics.comparison?.mcnemarP, 1)
        XCTAssertEqual(metrics.comparison?.deltaInterval, Interval(lower: 0, upper: 0))
        XCTAssertTrue(metrics.notes.contains("no answer change altered a reward: SER is undefined"))
    }

    func testPredictionsAndMetricsFilesRoundTrip() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var records = try Self.predictions("graded")
        records[0].output = "line 1\nline \"2\" \u{1}"
        let url = directory.appendingPathComponent("eval/A/predictions.jsonl")
        try PredictionsFile.write(records, to: url)
        XCTAssertEqual(try PredictionsFile.read(from: url), records)
        let firstLine = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")[0]
        XCTAssertTrue(firstLine.hasPrefix("{\"gold\":"), String(firstLine))

        let metrics = try VariantMetrics.compute(variant: "A", predictions: records, baseline: Self.predictions("baseline"),
                                                 bootstrap: BootstrapOptions(resamples: 100))
        let metricsURL = directory.appendingPathComponent("eval/A/metrics.json")
        try metrics.save(to: metricsURL)
        XCTAssertEqual(try VariantMetrics.load(from: metricsURL), metrics)
        let text = try String(contentsOf: metricsURL, encoding: .utf8)
        for key in ["\"accuracy_interval\"", "\"delta_interval\"", "\"ser\"", "\"mcnemar_p\" : null", "\"pos\"", "\"neg\""] {
            XCTAssertTrue(text.contains(key), "metrics.json lacks \(key)")
        }
    }

    func testMalformedPredictionLineNamesFileAndLine() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("predictions.jsonl")
        let good = #"{"id":"a","prompt":"p","output":"o","predicted":"A","gold":"A","reward":1}"#
        try Data((good + "\n\n" + #"{"id":"b","prompt":"p","output":"o","predicted":"A","gold":"A"}"# + "\n").utf8).write(to: url)
        XCTAssertEqual("\(thrownError { try PredictionsFile.read(from: url) }!)", "\(url.path): line 3: missing field 'reward'")
        try Data((good + "\n" + #"{"id":"b","prompt":"p","output":"o","predicted":"A","gold":"A","reward":"x"}"#).utf8).write(to: url)
        XCTAssertEqual("\(thrownError { try PredictionsFile.read(from: url) }!)", "\(url.path): line 2: field 'reward' should be a number")
        try Data("{not json\n".utf8).write(to: url)
        XCTAssertEqual("\(thrownError { try PredictionsFile.read(from: url) }!)", "\(url.path): line 1: not valid JSON")
    }

    func testExampleChanges() throws {
        let (improved, broken) = try ExampleChange.collect(steered: Self.predictions("steered"), baseline: Self.predictions("baseline"), limit: 3)
        XCTAssertEqual(improved.count, 3)
        XCTAssertEqual(broken.count, 3)
        XCTAssertTrue(improved.allSatisfy { $0.steeredReward > $0.baselineReward && $0.steeredPredicted == $0.gold })
        XCTAssertTrue(broken.allSatisfy { $0.steeredReward < $0.baselineReward && $0.baselinePredicted == $0.gold })
    }

    private func assertInterval(_ interval: Interval, _ expected: JSONValue, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let bounds = doubles(expected)
        // Same indices as numpy; only summation order differs (numpy sums pairwise).
        assertClose([interval.lower, interval.upper], bounds, relative: 1e-12, floor: 1e-3, label, file: file, line: line)
    }
}
