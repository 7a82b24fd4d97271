import CorrSteer
import Foundation
import XCTest

/// `--json`: stdout is exactly one JSON object with every variant's metrics and the selected features;
/// progress stays on stderr.
final class JSONOutputTests: XCTestCase {
    private var small: SmallRun!

    override func setUpWithError() throws { small = try SmallRun() }
    override func tearDownWithError() throws { small.remove() }

    private func object(_ stdout: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let trimmed = stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(trimmed.split(separator: "\n").count, 1, "one line on stdout:\n\(stdout)", file: file, line: line)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any], file: file, line: line)
    }

    private func close(_ value: Any?, _ expected: Double, file: StaticString, line: UInt) {
        guard let value = value as? Double else { return XCTFail("\(String(describing: value)) is not a number", file: file, line: line) }
        XCTAssertEqual(value, expected, accuracy: 1e-12 * max(abs(expected), 1e-300), file: file, line: line)
    }

    private func checkSchema(_ json: [String: Any], variants expected: [String], run: URL,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(json["version"] as? Int, 1, file: file, line: line)
        XCTAssertEqual(json["run"] as? String, run.path, file: file, line: line)
        XCTAssertEqual(json["report"] as? String, RunDirectory(run).reportHTML.path, file: file, line: line)
        let variants = try XCTUnwrap(json["variants"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(variants.compactMap { $0["variant"] as? String }, expected, file: file, line: line)
        for variant in variants {
            let name = variant["variant"] as? String ?? "?"
            let metrics = try VariantMetrics.load(from: RunDirectory(run).metrics(variant: name))
            // JSONSerialization on Linux may round a double by an ulp, so doubles compare within 1e-12 (relative).
            close(variant["accuracy"], metrics.accuracy, file: file, line: line)
            XCTAssertEqual(variant["count"] as? Int, metrics.count, file: file, line: line)
            let interval = try XCTUnwrap(variant["accuracy_interval"] as? [String: Double], file: file, line: line)
            close(interval["lower"], metrics.accuracyInterval.lower, file: file, line: line)
            for key in ["delta", "delta_interval", "ser", "mcnemar_p", "pos", "neg", "changed", "baseline_accuracy", "notes"] {
                XCTAssertTrue(variant.keys.contains(key), "\(name) has \(key)", file: file, line: line)
            }
            if name == "baseline" {
                XCTAssertTrue(variant["delta"] is NSNull, file: file, line: line)
            } else {
                close(variant["delta"], try XCTUnwrap(metrics.comparison?.delta), file: file, line: line)
                close(variant["mcnemar_p"], try XCTUnwrap(metrics.comparison?.mcnemarP), file: file, line: line)
            }
        }
        let features = try XCTUnwrap(json["selected_features"] as? [[String: Any]], file: file, line: line)
        let candidates = try FeatureCandidates.load(from: RunDirectory(run).features)
        XCTAssertEqual(features.compactMap { $0["feature"] as? Int }, candidates.layers.compactMap { $0.selected?.feature },
                       file: file, line: line)
        for feature in features {
            for key in ["layer", "site", "feature", "r", "coefficient", "neuronpedia_url"] {
                XCTAssertTrue(feature.keys.contains(key), "selected feature has \(key)", file: file, line: line)
            }
        }
    }

    func testEvaluateAndRunPrintOneJSONObject() throws {
        XCTAssertSucceeded(try small.collect())
        XCTAssertSucceeded(try small.select())
        // Progress (not --quiet) must stay on stderr.
        let evaluate = try CorrSteerBinary.run(["evaluate", small.out.path, "--strategies", "S,A", "--json"])
        XCTAssertSucceeded(evaluate)
        XCTAssertFalse(evaluate.stderr.isEmpty, "progress goes to stderr")
        try checkSchema(try object(evaluate.stdout), variants: ["baseline", "S", "A"], run: small.out)

        let runOut = small.scratch.appendingPathComponent("whole")
        let run = try CorrSteerBinary.run(["run", "--model", SmallRun.demo.appendingPathComponent("model").path,
                                           "--sae", SmallRun.demo.appendingPathComponent("sae").path, "--task", "custom",
                                           "--task-file", small.taskFile.path, "--custom-kind", "exact",
                                           "--strategies", "A,P", "--val-limit", "4", "--out", runOut.path, "--json"])
        XCTAssertSucceeded(run)
        try checkSchema(try object(run.stdout), variants: ["baseline", "A", "P"], run: runOut)
    }

    func testDemoPrintsOneJSONObject() throws {
        let out = small.scratch.appendingPathComponent("demo")
        let demo = try CorrSteerBinary.run(["demo", "--out", out.path, "--json"])
        XCTAssertSucceeded(demo)
        try checkSchema(try object(demo.stdout), variants: ["baseline", "S", "A", "P"] + ComparisonMethod.allCases.map(\.rawValue), run: out)
    }
}
