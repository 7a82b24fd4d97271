import CorrSteer
import Foundation
import XCTest

final class FeatureSelectionTests: XCTestCase {
    /// Top-k lists and the selected feature for several score / polarity / coefficient options, against
    /// the numpy port of train.py's build_topk (scripts/fixtures/corrsteer_statistics.py).
    func testSelectionsMatchReference() throws {
        for name in ["binary", "graded"] {
            let scenario = FeatureStatisticsTests.scenario(name)
            let rewards = FeatureStatisticsTests.inputs.rewards[name]!
            var byBinning: [String: FeatureStatistics] = [:]
            for (key, binning) in [("sorted", MutualInformationBinning.sorted), ("paper-unsorted", .paperUnsorted), ("none", nil)] {
                byBinning[key] = try FeatureStatisticsTests.collect(rewards, binning: binning)
            }
            for selection in scenario["selections"]!.array {
                let o = selection["options"]!
                let options = SelectionOptions(
                    topK: o["top_k"]!.int, score: RankingScore(rawValue: o["score"]!.string!)!,
                    polarity: Polarity(rawValue: o["polarity"]!.string!)!,
                    coefficient: CoefficientKind(rawValue: o["coefficient"]!.string!)!, scale: double(o["scale"]))
                let label = "\(name) \(o["score"]!.string!) \(o["polarity"]!.string!) \(o["coefficient"]!.string!) \(o["binning"]!.string!)"
                let result = try FeatureSelection.candidates(
                    from: byBinning[o["binning"]!.string!]!, layer: 7, site: "blocks.7.hook_resid_post", options: options,
                    neuronpedia: "gemma-2-2b/{L}-gemmascope-res-16k")
                XCTAssertEqual(result.layer, 7)
                XCTAssertEqual(result.site, "blocks.7.hook_resid_post")
                try compare(result.topPositive, selection["top_positive"]!.array, label + " positive")
                try compare(result.topNegative, selection["top_negative"]!.array, label + " negative")
                if let expected = selection["selected"], !expected.isNull {
                    try compare([XCTUnwrap(result.selected)], [expected], label + " selected")
                    XCTAssertEqual(result.selected?.neuronpediaURL,
                                   "https://www.neuronpedia.org/gemma-2-2b/7-gemmascope-res-16k/\(expected["feature"]!.int)")
                } else {
                    XCTAssertNil(result.selected, label)
                }
            }
        }
    }

    private func compare(_ actual: [FeatureCandidate], _ expected: [JSONValue], _ label: String) throws {
        XCTAssertEqual(actual.map(\.feature), expected.map { $0["feature"]!.int }, label)
        guard actual.count == expected.count else { return }
        for (a, e) in zip(actual, expected) {
            assertClose(a.correlation, double(e["r"]), floor: 1e-3, "\(label) r")
            assertClose(a.score, double(e["score"]), floor: 1e-6, "\(label) score")
            assertClose(a.coefficient, double(e["coefficient"]), floor: 1e-6, "\(label) coefficient")
            assertClose(a.frequency, double(e["frequency"]), "\(label) frequency")
            assertClose(a.frequencyCorrect, double(e["freq_correct"]), "\(label) freq_correct")
            assertClose(a.frequencyIncorrect, double(e["freq_incorrect"]), "\(label) freq_incorrect")
            assertClose(a.coefficientSuccess, double(e["coeff_success"]), "\(label) coeff_success")
            assertClose(a.coefficientFailure, double(e["coeff_failure"]), "\(label) coeff_failure")
        }
    }

    func testLayerWithoutCandidateIsFlagged() throws {
        var statistics = FeatureStatistics(featureCount: 2)
        // Feature 0 is higher on failures, feature 1 never active: no positive correlation anywhere.
        try statistics.add(correlationRows: [0, 0, 3, 0], coefficientRows: [0, 0, 3, 0], rewards: [1, 0])
        let layer = try FeatureSelection.candidates(from: statistics, layer: 4, site: "s4", options: SelectionOptions())
        XCTAssertNil(layer.selected)
        XCTAssertTrue(layer.warnings.contains { $0.contains("no feature with positive correlation") })
        let candidates = makeFeatures([layer, makeLayer(5, r: 0.2)])
        let error = thrownError { try candidates.everyLayer() }
        XCTAssertEqual("\(error!)", "layer 4 has no feature with positive correlation")
        XCTAssertEqual(try candidates.everyLayer(skippingEmptyLayers: true).map(\.layer), [5])
        XCTAssertEqual(try candidates.singleBest().layer, 5)

        // Constant rewards: the warning explains why no layer has a candidate.
        var constant = FeatureStatistics(featureCount: 2)
        try constant.add(correlationRows: [1, 0, 2, 1], coefficientRows: [1, 0, 2, 1], rewards: [1, 1])
        let flat = try FeatureSelection.candidates(from: constant, layer: 2, site: "s2", options: SelectionOptions())
        let flatError = thrownError { try makeFeatures([flat]).singleBest() }
        XCTAssertTrue("\(flatError!)".contains("all 2 rewards equal 1.0"), "\(flatError!)")
    }

    func testStrategies() throws {
        let candidates = makeFeatures([makeLayer(9, r: 0.30), makeLayer(3, r: -0.45), makeLayer(5, r: 0.45),
                                   makeLayer(7, r: 0.12)])
        // S: largest |r|; 3 and 5 tie at 0.45, and the lower layer wins (strict >).
        let single = try candidates.choices(for: .single)
        XCTAssertEqual(single.map(\.layer), [3])
        XCTAssertEqual(single[0].coefficient, 3 * 10 + 1)
        XCTAssertEqual(single[0].site, "blocks.3.hook_resid_post")
        XCTAssertEqual(try candidates.choices(for: .allLayers).map(\.layer), [3, 5, 7, 9])
        XCTAssertEqual(try candidates.choices(for: .pruned).map(\.layer), [3, 5, 7, 9])
        XCTAssertEqual(try candidates.choices(for: .allLayers).map(\.feature), [30, 50, 70, 90])
    }

    func testBothPolarityKeepsLargerAbsoluteCorrelationWithNegatedCoefficient() throws {
        var statistics = FeatureStatistics(featureCount: 2)
        // Feature 0 tracks success weakly, feature 1 tracks failure strongly.
        let rows: [[Float]] = [[1, 0], [1, 0], [0, 0], [0.5, 2], [0, 2], [0.9, 2]]
        let rewards: [Double] = [1, 1, 1, 0, 0, 0]
        for (row, y) in zip(rows, rewards) { try statistics.add(correlationRows: row, coefficientRows: row, rewards: [y]) }
        let r = statistics.correlations()
        XCTAssertGreaterThan(r[0], 0)
        XCTAssertLessThan(r[1], 0)
        XCTAssertGreaterThan(abs(r[1]), abs(r[0]))
        let both = try FeatureSelection.candidates(from: statistics, layer: 1, site: "s", options: SelectionOptions(polarity: .both, scale: 2))
        XCTAssertEqual(both.selected?.feature, 1)
        // Mean of feature 1 over correct samples is 0, so −|c| is 0; check the sign rule on feature 0 instead.
        let negativeOnly = try FeatureSelection.candidates(from: statistics, layer: 1, site: "s", options: SelectionOptions(polarity: .negative))
        XCTAssertEqual(negativeOnly.topPositive, [])
        XCTAssertEqual(negativeOnly.selected?.feature, 1)
        let positive = try FeatureSelection.candidates(from: statistics, layer: 1, site: "s", options: SelectionOptions(scale: 2))
        XCTAssertEqual(positive.selected?.coefficient, 2 * (2.0 / 3.0))
        XCTAssertEqual(positive.topNegative, [])
    }

    func testFeatureSpecParser() throws {
        let site = { (layer: Int) in "blocks.\(layer).hook_resid_post" }
        XCTAssertEqual(try SteeringChoice.parse("12:3456:8.5", site: site),
                       SteeringChoice(layer: 12, site: "blocks.12.hook_resid_post", feature: 3456, coefficient: 8.5))
        XCTAssertEqual(try SteeringChoice.parse(" 3 : 7 : -1e-2 ", site: site).coefficient, -0.01)
        let cases = [
            ("12:3456", "expected LAYER:FEATURE:COEFFICIENT, e.g. 12:3456:8.5"),
            ("x:1:2", "layer 'x' is not a non-negative integer"),
            ("-1:1:2", "layer '-1' is not a non-negative integer"),
            ("1:abc:2", "feature index 'abc' is not a non-negative integer"),
            ("1:2:nan", "coefficient 'nan' is not a finite number"),
            ("1:2:", "coefficient '' is not a finite number"),
        ]
        for (text, message) in cases {
            let error = thrownError { try SteeringChoice.parse(text, site: site) }
            XCTAssertEqual("\(error!)", "feature '\(text)': \(message)")
            XCTAssertEqual((error as? SelectionError)?.message.settings, [.feature])
        }
    }

    func testFeaturesFileRoundTripAndErrors() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var candidates = makeFeatures([makeLayer(9, r: 0.3), makeLayer(2, r: 0.1)])
        candidates.layers[0].selected = nil
        candidates.layers[0].warnings = ["no feature with positive correlation: layer has no candidate"]
        let url = directory.appendingPathComponent("features.json")
        try candidates.save(to: url)
        XCTAssertEqual(try FeatureCandidates.load(from: url), candidates)
        let text = try String(contentsOf: url, encoding: .utf8)
        for key in ["\"top_positive\"", "\"top_negative\"", "\"steer_pool\"", "\"top_k\"", "\"freq_correct\"",
                    "\"coeff_success\"", "\"r\"", "\"selected\" : null", "\"neuronpedia_url\""] {
            XCTAssertTrue(text.contains(key), "features.json lacks \(key)")
        }

        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var layers = object["layers"] as! [[String: Any]]
        var top = layers[1]["top_positive"] as! [[String: Any]]
        top[0]["r"] = "high"
        layers[1]["top_positive"] = top
        object["layers"] = layers
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let error = thrownError { try FeatureCandidates.load(from: url) }
        XCTAssertEqual("\(error!)", "\(url.path): field 'layers[1].top_positive[0].r' should be a number")

        object["layers"] = [] as [Any]
        object.removeValue(forKey: "samples")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        XCTAssertEqual("\(thrownError { try FeatureCandidates.load(from: url) }!)", "\(url.path): missing field 'samples'")

        XCTAssertTrue("\(thrownError { try FeatureCandidates.load(from: directory.appendingPathComponent("none.json")) }!)"
            .hasPrefix("\(directory.path)/none.json: cannot read"))
    }

    func testNeuronpediaSources() {
        XCTAssertEqual(NeuronpediaLink.source(forRelease: "gemma-scope-2b-pt-res-canonical", saeID: "layer_20/width_16k/canonical"),
                       "gemma-2-2b/{L}-gemmascope-res-16k")
        XCTAssertEqual(NeuronpediaLink.url(source: "gemma-2-2b/{L}-gemmascope-res-16k", layer: 20, feature: 1234),
                       "https://www.neuronpedia.org/gemma-2-2b/20-gemmascope-res-16k/1234")
        XCTAssertEqual(NeuronpediaLink.source(forRelease: "llama_scope_lxr_8x"), "llama3.1-8b/{L}-llamascope-res-32k")
        XCTAssertNil(NeuronpediaLink.source(forRelease: "my-own-sae"))
    }
}
