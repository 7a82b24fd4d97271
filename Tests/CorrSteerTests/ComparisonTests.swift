import CorrSteer
import SparseAutoencoders
import Foundation
import Tasks
import WeightFiles
import XCTest

/// The controls of `evaluate --compare`, built from statistics accumulated the way the collection does,
/// against numpy (scripts/fixtures/corrsteer_comparisons.py); and the whole comparison on the demo.
final class ComparisonTests: XCTestCase {
    static let expected = try! CorrSteerFixtures.json("comparisons_expected.json")

    /// Feature and control statistics of the fixture's rows, fed batch by batch through
    /// `ControlStatistics.add` (the collection step's own call).
    static func accumulate() throws -> (features: [Int: FeatureStatistics], controls: ControlStatistics) {
        let file = try SafeTensorsFile(url: CorrSteerFixtures.url("comparisons_inputs.safetensors"))
        let rewards = try file.doubles("rewards")
        let batch = expected["batch"]!.int, seed = expected["collection_seed"]!.int
        var features: [Int: FeatureStatistics] = [:]
        var controls = ControlStatistics(shuffled: Array(repeating: [:], count: ControlStatistics.permutationCount), residual: [:])
        for layer in ints(expected["layers"]) {
            let x = try file.tensor("features_\(layer)"), h = try file.tensor("residual_\(layer)")
            let (d, hidden) = (x.shape[1], h.shape[1])
            let (xs, hs) = (try x.floats(), try h.floats())
            features[layer] = FeatureStatistics(featureCount: d)
            for k in controls.shuffled.indices { controls.shuffled[k][layer] = FeatureStatistics(featureCount: d) }
            controls.residual[layer] = FeatureStatistics(featureCount: hidden)
            var start = 0
            while start < rewards.count {
                let end = min(start + batch, rewards.count)
                let rows = Array(xs[start * d ..< end * d]), residual = Array(hs[start * hidden ..< end * hidden])
                let batchRewards = Array(rewards[start ..< end])
                try features[layer]!.add(correlationRows: rows, coefficientRows: rows, rewards: batchRewards)
                try controls.add(layer: layer, features: (rows, rows), residual: (residual, residual),
                                 rewards: batchRewards,
                                 permuted: ControlStatistics.permutations(batchRewards, batchStart: start, seed: seed))
                start = end
            }
        }
        return (features, controls)
    }

    func testControlsMatchNumpy() throws {
        let (features, controls) = try Self.accumulate()
        let layers = ints(Self.expected["layers"])
        let sites = layers.map { (layer: $0, site: "blocks.\($0).hook_resid_post") }
        let scale = double(Self.expected["scale"])
        let seed = UInt64(Self.expected["control_seed"]!.int)
        let options = SelectionOptions()

        let diffMean = try ComparisonPlans.diffMean(residual: controls.residual, sites: sites,
                                                    scale: double(Self.expected["diffmean_scale"]))
        let shuffled = try controls.shuffled.map {
            try ComparisonPlans.shuffledLabels(shuffled: $0, sites: sites, options: options, scale: scale)
        }
        let norms = Self.expected["norms"]!
        let reference = SteeringPlan(name: "A", entries: sites.map { site in
            // Any vector of the right norm: only the norms and layers of A matter to the controls.
            var vector = [Float](repeating: 0, count: 16)
            vector[0] = Float(double(norms["\(site.layer)"]))
            return SteeringPlanEntry(layer: site.layer, site: site.site, feature: 0, coefficient: 1, vector: vector)
        })
        let random = try ComparisonPlans.randomFeatures(statistics: features, reference: reference, options: options,
                                                        scale: scale, seed: seed)
        let directions = ComparisonPlans.randomDirections(reference: reference, seed: seed)

        for (index, layer) in layers.enumerated() {
            let want = Self.expected["layer"]!["\(layer)"]!
            // Float32 vectors from float64 means: equal to within a float rounding.
            assertClose(diffMean.entries[index].vector.map(Double.init), doubles(want["diffmean"]), relative: 1e-6, floor: 1e-6, "diffmean layer \(layer)")
            XCTAssertEqual(controls.shuffled[0][layer]!.sampleCount, Int64(want["shuffled_samples"]!.int), "the one-sample batch is left out")
            XCTAssertEqual(controls.residual[layer]!.sampleCount, Int64(Self.expected["samples"]!.int))
            XCTAssertEqual(shuffled[0][index].feature, want["shuffled_feature"]!.int, "shuffled-labels feature, layer \(layer)")
            assertClose(shuffled[0][index].correlation ?? .nan, double(want["shuffled_r"]), "shuffled r, layer \(layer)")
            assertClose(shuffled[0][index].coefficient, double(want["shuffled_coefficient"]), "shuffled coefficient, layer \(layer)")
            // Every permutation is its own control: each matches numpy on its own permuted rewards.
            let permutations = try XCTUnwrap(want["shuffled_permutations"]?.array)
            XCTAssertEqual(permutations.count, ControlStatistics.permutationCount)
            for (k, expected) in permutations.enumerated() {
                XCTAssertEqual(shuffled[k][index].feature, expected["feature"]!.int, "permutation \(k), layer \(layer)")
                assertClose(shuffled[k][index].correlation ?? .nan, double(expected["r"]), "permutation \(k) r, layer \(layer)")
                assertClose(shuffled[k][index].coefficient, double(expected["coefficient"]), "permutation \(k) coefficient, layer \(layer)")
            }
            XCTAssertEqual(random[index].feature, want["random_feature"]!.int, "random feature, layer \(layer)")
            assertClose(random[index].coefficient, double(want["random_feature_coefficient"]), "random feature coefficient, layer \(layer)")
            assertClose(directions.entries[index].vector.map(Double.init), doubles(want["random_direction"]), relative: 1e-6, floor: 1e-6,
                        "random direction layer \(layer)")
        }
    }

    func testPermutationMovesEverySampleAndKeepsTheRewards() {
        let rewards = (0 ..< 9).map(Double.init)
        for start in [0, 8, 1000] {
            let permuted = ControlStatistics.permutedRewards(rewards, batchStart: start, seed: 42)!
            XCTAssertEqual(permuted.sorted(), rewards)
            XCTAssertTrue(zip(permuted, rewards).allSatisfy { $0 != $1 }, "a Sattolo cycle has no fixed point")
            XCTAssertEqual(permuted, ControlStatistics.permutedRewards(rewards, batchStart: start, seed: 42), "deterministic")
        }
        XCTAssertNil(ControlStatistics.permutedRewards([1], batchStart: 0, seed: 42))
        let all = ControlStatistics.permutations(rewards, batchStart: 8, seed: 42)!
        XCTAssertEqual(Set(all).count, ControlStatistics.permutationCount, "the permutations differ")
        XCTAssertEqual(all[0], ControlStatistics.permutedRewards(rewards, batchStart: 8, seed: 42))
    }

    func testHeldOutRedealKeepsSizesAndNeverTouchesTrain() {
        func example(_ id: String) -> TaskExample {
            TaskExample(id: id, prompt: id, zeroShotPrompt: id, gold: "", question: id, choices: nil, label: nil, category: nil)
        }
        let splits = TaskSplits(train: (0 ..< 5).map { example("t\($0)") }, validation: (0 ..< 4).map { example("v\($0)") },
                                test: (0 ..< 6).map { example("x\($0)") })
        let dealt = SeedSummary.redealHeldOut(splits, seed: 3)
        XCTAssertEqual(dealt.train, splits.train)
        XCTAssertEqual(dealt.validation.count, 4)
        XCTAssertEqual(dealt.test.count, 6)
        XCTAssertEqual(Set((dealt.validation + dealt.test).map(\.id)), Set((splits.validation + splits.test).map(\.id)))
        XCTAssertNotEqual(dealt.test.map(\.id), splits.test.map(\.id))
    }

    /// A plan whose coefficients are all 0 adds nothing: greedy outputs equal the unsteered ones exactly,
    /// so a comparison's row differs from the baseline only through what its vectors do.
    func testCoefficientZeroReproducesTheBaseline() throws {
        let bundle = try DemoBundle(root: CorrSteerFixtures.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo"))
        let context = try ModelContext.load(bundle.configuration.model)
        let task = try TaskSetup.load(bundle.configuration)
        let prompts = task.splits.test.prefix(48).map(\.prompt)
        let sae = try SparseAutoencoder.load(path: URL(fileURLWithPath: bundle.configuration.sae!), layer: 2)
        let choices = [0, 1, 2, 3].map { SteeringChoice(layer: $0, site: "blocks.\($0).hook_resid_post", feature: 30, coefficient: 0) }
        let zero = try SteeringPlan.build(name: "zero", choices: choices, decoderRows: { _, features in try sae.decoderRows(features) })
        XCTAssertTrue(zero.entries.allSatisfy { $0.vector.allSatisfy { $0 == 0 } })
        let unit = try SteeringPlan.build(name: "one", choices: choices.map { var c = $0; c.coefficient = 8; return c },
                                          decoderRows: { _, features in try sae.decoderRows(features) })
        for positions in [PositionMode.generation, .all] {
            let baseline = try context.complete(Array(prompts), maxNewTokens: 4)
            let steered = try context.complete(Array(prompts), maxNewTokens: 4, hooks: [try SteeringHook(plan: zero, positions: positions)])
            XCTAssertEqual(steered.map(\.tokens), baseline.map(\.tokens), "\(positions)")
            // The same plan with a nonzero coefficient does change answers: the hook is really applied.
            let moved = try context.complete(Array(prompts), maxNewTokens: 4, hooks: [try SteeringHook(plan: unit, positions: positions)])
            XCTAssertNotEqual(moved.map(\.tokens), baseline.map(\.tokens), "\(positions)")
        }
    }

    /// The demo with every comparison over three seeds: each compared row has its interval and SER
    /// fields; DiffMean finds the planted direction; the random-direction and shuffled-labels controls,
    /// which carry no information about the task, stay within noise of the baseline in every seed (their
    /// paired interval holds 0 and they move the mean by less than 3 points, against CorrSteer's +60),
    /// and the report shows all of it.
    func testDemoComparesEveryMethod() throws {
        let scratch = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bundle = try DemoBundle(root: CorrSteerFixtures.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo"))
        let run = RunDirectory(scratch.appendingPathComponent("demo"))
        var pipeline = bundle.pipeline(into: run)
        pipeline.evaluation.seeds = 3
        pipeline.evaluation.scaleSweep = [0.5, 1, 2]
        let result = try pipeline.execute()
        let metrics = Dictionary(uniqueKeysWithValues: result.variants.map { ($0.variant, $0.metrics) })
        for method in ComparisonMethod.allCases {
            let comparison = try XCTUnwrap(metrics[method.rawValue]?.comparison, method.rawValue)
            XCTAssertLessThanOrEqual(comparison.deltaInterval.lower, comparison.delta)
            XCTAssertEqual(comparison.positive + comparison.negative > 0, comparison.sideEffectRatio != nil, method.rawValue)
        }
        let seeds = try SeedSummary.load(from: run.evalDirectory.appendingPathComponent("seeds.json"))
        XCTAssertEqual(seeds.controlSeeds.count, 3)
        func meanDelta(_ name: String) throws -> Double { try XCTUnwrap(seeds.variants.first { $0.variant == name }?.deltaMean, name) }
        let corrSteer = try meanDelta("A")
        XCTAssertGreaterThan(corrSteer, 0.3)
        XCTAssertGreaterThan(try meanDelta("diffmean"), 0.3, "DiffMean finds the planted direction")
        XCTAssertLessThan(abs(try meanDelta("random-features")), corrSteer / 2, "random-features")
        for control in ["random-direction", "shuffled-labels"] {
            XCTAssertLessThan(abs(try meanDelta(control)), 0.03, control)
            let comparison = try XCTUnwrap(metrics[control]?.comparison, control)
            XCTAssertTrue(comparison.deltaInterval.lower <= 0 && 0 <= comparison.deltaInterval.upper, control)
            let perSeed = try XCTUnwrap(seeds.variants.first { $0.variant == control }).delta
            XCTAssertTrue(perSeed.allSatisfy { abs($0 ?? 1) < 0.05 }, "\(control): \(perSeed)")
        }
        // DiffMean's direction at the planted layer points along the planted feature's decoder row.
        let planted = try CorrSteerFixtures.json("../../../scripts/demo/planted.json")
        let layer = planted["layer"]!.int, feature = planted["feature"]!.int
        let diffMean = try SteeringPlan.load(from: run.evalDirectory.appendingPathComponent("diffmean/plan.json"))
        let a = try SteeringPlan.load(from: run.plan("A"))
        let direction = try XCTUnwrap(diffMean.entries.first { $0.layer == layer }?.vector)
        let row = try XCTUnwrap(a.entries.first { $0.layer == layer && $0.feature == feature }?.vector)
        let cosine = zip(direction, row).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            / (Double(diffMean.entries.first { $0.layer == layer }!.norm) * a.entries.first { $0.layer == layer }!.norm)
        XCTAssertGreaterThan(cosine, 0.5)

        let report = try String(contentsOf: run.reportMarkdown, encoding: .utf8)
        for method in ComparisonMethod.allCases { XCTAssertTrue(report.contains("**\(method.rawValue)**: \(method.controlsFor)")) }
        XCTAssertTrue(report.contains("## Across 3 seeds"))
        // A custom task has no built-in instruction: refused before any model loads, naming the option.
        var options = bundle.evaluationOptions
        options.instruction = nil
        options.comparisons = [.prompt]
        XCTAssertThrowsError(try EvaluationRun(run: run, options: options).execute()) { error in
            XCTAssertEqual((error as? RunError)?.message.settings, [.comparisons, .instruction], "\(error)")
        }
        let html = try String(contentsOf: run.reportHTML, encoding: .utf8)
        XCTAssertTrue(html.contains("Δ accuracy vs baseline (pp), paired 95 % interval"))
        XCTAssertTrue(html.contains("Side Effect Ratio NEG / (POS + NEG)"))
    }
}
