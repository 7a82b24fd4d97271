import CorrSteer
import Foundation
import XCTest

/// Stage 3 reuses stored partial results only when they were made with the same options and plan; it
/// applies `--reverse` to every reward; and it builds P's plans with the recorded `--decode`.
final class EvaluationFidelityTests: XCTestCase {
    private var small: SmallRun!
    private let base = ["--strategies", "A,P", "--val-limit", "4"]

    override func setUpWithError() throws { small = try SmallRun() }
    override func tearDownWithError() throws { small.remove() }

    private var ledgerPath: String { "eval/P/validation.json" }

    /// Plants results nobody would compute: every test prediction of baseline and A as an interrupted
    /// run that produced "STALE", and a P validation baseline of 2 (no layer can beat it).
    private func plantStaleResults() throws {
        for variant in ["baseline", "A"] {
            let stale = try small.predictions(variant).map {
                PredictionRecord(id: $0.id, prompt: $0.prompt, output: "STALE", predicted: "STALE", gold: $0.gold, reward: 0)
            }
            let url = small.out.appendingPathComponent("eval/\(variant)/predictions.partial.jsonl")
            try stale.reduce(into: Data()) { $0.append(try PredictionsFile.line($1)) }.write(to: url)
        }
        var ledger = try small.json(ledgerPath)
        ledger["baseline"] = 2.0
        try small.writeJSON(ledger, to: ledgerPath)
    }

    private struct Reuse: Equatable {
        var baseline: Bool
        var steered: Bool
        var validation: Bool
    }

    private func reuse() throws -> Reuse {
        let plan = try SteeringPlan.load(from: small.directory.plan("P"))
        return Reuse(baseline: try small.predictions("baseline").contains { $0.output == "STALE" },
                     steered: try small.predictions("A").contains { $0.output == "STALE" },
                     validation: (try small.json(ledgerPath)["baseline"] as? Double) == 2.0 && plan.entries.isEmpty)
    }

    private func evaluate(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try plantStaleResults()
        let result = try small.evaluate(arguments)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        return result.stderr
    }

    func testStoredResultsAreReusedOnlyWithTheSameOptionsAndPlan() throws {
        XCTAssertSucceeded(try small.collect())
        XCTAssertSucceeded(try small.select())
        XCTAssertSucceeded(try small.evaluate(base))
        XCTAssertNotNil(try? small.json("eval/A/evaluation.json"), "the options of every variant are recorded")

        // The same options: an interrupted run continues from what it stored.
        _ = try evaluate(base)
        XCTAssertEqual(try reuse(), Reuse(baseline: true, steered: true, validation: true))

        // --val-limit changes only P's validation.
        var stderr = try evaluate(["--strategies", "A,P", "--val-limit", "3"])
        XCTAssertEqual(try reuse(), Reuse(baseline: true, steered: true, validation: false))
        XCTAssertTrue(stderr.contains("validation_limit 4 → 3"), stderr)

        // --steer-positions changes every steered result, not the unsteered baseline.
        stderr = try evaluate(base + ["--steer-positions", "all"])
        XCTAssertEqual(try reuse(), Reuse(baseline: true, steered: false, validation: false))
        XCTAssertTrue(stderr.contains("starting this variant again"), stderr)

        // Prompts and decoding change everything.
        for option in [["--steer-positions", "all", "--few", "1"], ["--steer-positions", "all", "--cot"],
                       ["--steer-positions", "all", "--constrain-options"]] {
            _ = try evaluate(base + option)
            XCTAssertEqual(try reuse(), Reuse(baseline: false, steered: false, validation: false), "\(option)")
        }

        // A new selection changes the plans: steered results and the validation start again.
        XCTAssertSucceeded(try small.evaluate(base))
        XCTAssertSucceeded(try small.select(["--scale", "2"]))
        stderr = try evaluate(base)
        XCTAssertEqual(try reuse(), Reuse(baseline: true, steered: false, validation: false))
        XCTAssertTrue(stderr.contains("the plan or selected features changed"), stderr)
    }

    func testReverseFlipsEvaluationRewardsToo() throws {
        let reversed = small.scratch.appendingPathComponent("reversed")
        XCTAssertSucceeded(try small.collect())
        XCTAssertSucceeded(try small.collect(["--reverse"], out: reversed))
        for run in [small.out, reversed] {
            XCTAssertSucceeded(try small.select(run: run))
            XCTAssertSucceeded(try small.evaluate(base, run: run))
        }
        let plain = try small.predictions("baseline")
        let flipped = try small.predictions("baseline", run: reversed)
        XCTAssertEqual(flipped.map(\.output), plain.map(\.output), "the same unsteered generations")
        XCTAssertEqual(flipped.map(\.reward), plain.map { 1 - $0.reward }, "test rewards are reversed")

        let plainBaseline = try XCTUnwrap(try small.json(ledgerPath)["baseline"] as? Double)
        let flippedBaseline = try XCTUnwrap(try small.json(ledgerPath, run: reversed)["baseline"] as? Double)
        XCTAssertEqual(flippedBaseline, 1 - plainBaseline, accuracy: 1e-12, "P validation accuracies are reversed")

        let metrics = try VariantMetrics.load(from: RunDirectory(reversed).metrics(variant: "A"))
        XCTAssertTrue(metrics.notes.contains { $0.contains("--reverse") }, "\(metrics.notes)")
        let record = try small.json("eval/A/evaluation.json", run: reversed)
        XCTAssertEqual(record["reverse_rewards"] as? Bool, true)
    }

    func testDecodeUnderPaperCompatReachesPAndRebuiltPlans() throws {
        XCTAssertSucceeded(try small.collect(["--paper-compat"]))
        XCTAssertSucceeded(try small.select(["--decode"]))
        XCTAssertEqual(try small.json("features.json")["decode"] as? Bool, true, "features.json records --decode")
        XCTAssertSucceeded(try small.evaluate(base))
        let all = try SteeringPlan.load(from: small.directory.plan("A"))
        try XCTSkipIf(all.entries.count < 2, "needs two layers with a selected feature")

        // Keep every layer except A's lowest: P's lowest kept layer must carry b_dec (reference eval.py).
        var ledger = try small.json(ledgerPath)
        ledger["baseline"] = 0.5
        ledger["layers"] = Dictionary(uniqueKeysWithValues: all.entries.map { ("\($0.layer)", $0.layer == all.entries[0].layer ? 0.0 : 1.0) })
        try small.writeJSON(ledger, to: ledgerPath)
        XCTAssertSucceeded(try small.evaluate(base))
        let pruned = try SteeringPlan.load(from: small.directory.plan("P"))
        XCTAssertEqual(pruned.entries.map(\.layer), all.entries.dropFirst().map(\.layer))
        XCTAssertEqual(pruned.entries.map(\.decoderBias), [true] + Array(repeating: false, count: pruned.entries.count - 1))
        XCTAssertEqual(pruned.decoderBiasMode, .firstLayerOnly)

        // A plan rebuilt from features.json keeps the recorded --decode.
        for file in ["A.json", "A.safetensors"] {
            try FileManager.default.removeItem(at: small.directory.plansDirectory.appendingPathComponent(file))
        }
        XCTAssertSucceeded(try small.evaluate(["--strategies", "A"]))
        let rebuilt = try SteeringPlan.load(from: small.directory.plan("A"))
        XCTAssertEqual(rebuilt.decoderBiasMode, .firstLayerOnly)
        XCTAssertEqual(rebuilt.entries.map(\.decoderBias), all.entries.map(\.decoderBias))
        XCTAssertEqual(rebuilt.entries.first?.decoderBias, true)
    }
}
