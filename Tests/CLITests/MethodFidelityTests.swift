import CorrSteer
import Foundation
import Tasks
import XCTest

/// Issue 13: where corrsteer follows the reference (with `--paper-compat`) and where it deliberately does
/// not, and that every stage sees the same options.
final class MethodFidelityTests: XCTestCase {
    private var small: SmallRun!

    override func setUpWithError() throws { small = try SmallRun() }
    override func tearDownWithError() throws { small.remove() }

    // MARK: 1. stop tokens

    func testManifestRecordsTheStopSet() throws {
        let model = try small.modelCopy(eos: [1, 7])
        XCTAssertSucceeded(try small.collect(model: model))
        let facts = try XCTUnwrap(try small.manifestJSON()["model"] as? [String: Any])
        XCTAssertEqual(facts["stop_token_ids"] as? [Int], [0, 1, 7])

        let compat = small.scratch.appendingPathComponent("compat")
        XCTAssertSucceeded(try small.collect(["--paper-compat"], model: model, out: compat))
        let compatFacts = try XCTUnwrap(try small.manifestJSON(compat)["model"] as? [String: Any])
        XCTAssertEqual(compatFacts["stop_token_ids"] as? [Int], [1], "the reference stops at the tokenizer's EOS only")
    }

    // MARK: 3. --paper-compat implies --shuffle hf

    func testPaperCompatImpliesHuggingFaceShuffle() throws {
        XCTAssertSucceeded(try small.collect(["--paper-compat"]))
        XCTAssertEqual((try small.manifestJSON()["configuration"] as? [String: Any])?["shuffle"] as? String, "hf")

        let explicit = small.scratch.appendingPathComponent("explicit")
        XCTAssertSucceeded(try small.collect(["--paper-compat", "--shuffle", "corrsteer"], out: explicit))
        XCTAssertEqual((try small.manifestJSON(explicit)["configuration"] as? [String: Any])?["shuffle"] as? String, "corrsteer",
                       "an explicit --shuffle wins")

        let plain = small.scratch.appendingPathComponent("plain")
        XCTAssertSucceeded(try small.collect([], out: plain))
        XCTAssertEqual((try small.manifestJSON(plain)["configuration"] as? [String: Any])?["shuffle"] as? String, "corrsteer")
    }

    // MARK: 8. --simpleqa-metric

    func testTokenF1MatchesHandComputedValues() {
        // Sets of lowercased words: {the, eiffel, tower} vs {eiffel, tower, in, paris}: 2 common,
        // P = 2/3, R = 2/4, F1 = 2PR/(P+R) = 4/7.
        XCTAssertEqual(TextMatching.tokenF1("The Eiffel Tower", "Eiffel Tower in Paris"), 4.0 / 7.0, accuracy: 1e-12)
        // Repeated words count once (the reference's sets): {paris} vs {paris, france}: P = 1, R = 1/2, F1 = 2/3.
        XCTAssertEqual(TextMatching.tokenF1("Paris paris", "Paris, France"), 0, accuracy: 1e-12,
                       "punctuation is not stripped: 'paris,' ≠ 'paris'")
        XCTAssertEqual(TextMatching.tokenF1("paris paris", "paris france"), 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(TextMatching.tokenF1("", ""), 1)
        XCTAssertEqual(TextMatching.tokenF1("x", ""), 0)
    }

    func testSimpleQAMetricOption() throws {
        let data = small.scratch.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("simpleqa"), withIntermediateDirectories: true)
        var csv = "metadata,problem,answer\n"
        for i in 0..<40 { csv += "\"{'topic': 'Art'}\",Who painted picture \(i)?,Painter number \(i)\n" }
        try csv.write(to: data.appendingPathComponent("simpleqa/simple_qa_test_set.csv"), atomically: true, encoding: .utf8)
        func collect(_ extra: [String], out: String) throws -> CorrSteerBinary.Result {
            try CorrSteerBinary.run(["collect", "--model", SmallRun.demo.appendingPathComponent("model").path,
                                     "--sae", SmallRun.demo.appendingPathComponent("sae").path, "--task", "simpleqa",
                                     "--data", data.path, "--samples", "4", "--max-new-tokens", "2",
                                     "--out", small.scratch.appendingPathComponent(out).path, "--quiet"] + extra)
        }
        XCTAssertSucceeded(try collect(["--simpleqa-metric", "f1"], out: "f1"))
        let f1 = try small.manifestJSON(small.scratch.appendingPathComponent("f1"))
        XCTAssertEqual((f1["task"] as? [String: Any])?["scorer"] as? String, "token-f1")
        XCTAssertEqual((f1["configuration"] as? [String: Any])?["simpleqa_metric"] as? String, "f1")
        XCTAssertSucceeded(try collect([], out: "exact"))
        let exact = try small.manifestJSON(small.scratch.appendingPathComponent("exact"))
        XCTAssertNotEqual((exact["task"] as? [String: Any])?["scorer"] as? String, "token-f1")

        let misspelt = try collect(["--simpleqa-metric", "bleu"], out: "never")
        XCTAssertEqual(misspelt.status, 64, misspelt.stderr)
        let wrongTask = try small.collect(["--simpleqa-metric", "f1"])
        XCTAssertEqual(wrongTask.status, 64, wrongTask.stderr)
        XCTAssertTrue(wrongTask.stderr.contains("simpleqa"), wrongTask.stderr)
    }
}
