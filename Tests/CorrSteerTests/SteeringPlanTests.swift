import CorrSteer
import Foundation
import WeightFiles
import XCTest

final class SteeringPlanTests: XCTestCase {
    /// A fake decoder: row i of layer L is [L, i, 1, -1] · 0.5; bias of layer L is [0.1·L, 0, 0, 1].
    static func rows(_ layer: Int, _ features: [Int]) throws -> [[Float]] {
        features.map { [Float(layer) * 0.5, Float($0) * 0.5, 0.5, -0.5] }
    }

    static func bias(_ layer: Int) throws -> [Float] { [0.1 * Float(layer), 0, 0, 1] }

    let choices = [
        SteeringChoice(layer: 3, site: "blocks.3.hook_resid_post", feature: 10, coefficient: 2, correlation: 0.3),
        SteeringChoice(layer: 5, site: "blocks.5.hook_resid_post", feature: 4, coefficient: -1.5, correlation: -0.2),
        SteeringChoice(layer: 5, site: "blocks.5.hook_resid_post", feature: 6, coefficient: 1),
    ]

    func testVectorsAreCoefficientTimesDecoderRow() throws {
        var asked: [Int: [Int]] = [:]
        let plan = try SteeringPlan.build(name: "A", strategy: .allLayers, choices: choices) { layer, features in
            asked[layer] = features
            return try Self.rows(layer, features)
        }
        XCTAssertEqual(asked, [3: [10], 5: [4, 6]], "one call per layer with its features")
        XCTAssertEqual(plan.entries.map(\.vector), [[3, 10, 1, -1], [-3.75, -3, -0.75, 0.75], [2.5, 3, 0.5, -0.5]])
        XCTAssertEqual(plan.entries.map(\.decoderBias), [false, false, false])
        XCTAssertEqual(plan.dimension, 4)
        XCTAssertEqual(plan.entries[0].correlation, 0.3)
    }

    func testDecoderBiasModes() throws {
        let every = try SteeringPlan.build(name: "x", choices: choices, decoderBiasMode: .every, decoderRows: Self.rows, decoderBias: Self.bias)
        XCTAssertEqual(every.entries[0].vector, [3 + 0.3, 10, 1, 0])
        XCTAssertEqual(every.entries[1].vector, [-3.75 + 0.5, -3, -0.75, 1.75])
        // --paper-compat: only the lowest layer's vector carries b_dec (reference bug 17).
        let first = try SteeringPlan.build(name: "x", choices: choices, decoderBiasMode: .firstLayerOnly, decoderRows: Self.rows, decoderBias: Self.bias)
        XCTAssertEqual(first.entries.map(\.decoderBias), [true, false, false])
        XCTAssertEqual(first.entries[1].vector, [-3.75, -3, -0.75, 0.75])
        let error = thrownError { try SteeringPlan.build(name: "x", choices: self.choices, decoderBiasMode: .every, decoderRows: Self.rows) }
        XCTAssertEqual("\(error!)", "steering plan: plan 'x': decoder bias requested but no decoder bias was provided")
    }

    func testBadDecoderRowsAreReported() {
        let short = thrownError { try SteeringPlan.build(name: "x", choices: self.choices) { _, _ in [[1, 2]] } }
        XCTAssertEqual("\(short!)", "steering plan: decoder rows for layer 5: asked for 2 features, got 1 rows")
        let ragged = thrownError {
            try SteeringPlan.build(name: "x", choices: self.choices) { layer, features in features.map { _ in layer == 3 ? [1, 2, 3] : [1, 2] } }
        }
        XCTAssertTrue("\(ragged!)".contains("decoder row has 2 values, other layers 3"), "\(ragged!)")
    }

    func testSaveLoadRoundTrip() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plan = try SteeringPlan.build(name: "A", strategy: .allLayers, source: "features.json", model: "gemma-2-2b-it",
                                          sae: "gemma-scope", choices: choices, decoderBiasMode: .firstLayerOnly,
                                          decoderRows: Self.rows, decoderBias: Self.bias)
        let url = directory.appendingPathComponent("plans/A.json")
        try plan.save(to: url)
        XCTAssertEqual(try SteeringPlan.load(from: url), plan)
        let tensors = try SafeTensorsFile(url: directory.appendingPathComponent("plans/A.safetensors"))
        XCTAssertEqual(tensors.names, ["vector.0", "vector.1", "vector.2"])
        XCTAssertEqual(try tensors.info("vector.1").dtype, "F32")
        let text = try String(contentsOf: url, encoding: .utf8)
        for key in ["\"decoder_bias\" : \"first-layer-only\"", "\"vector\" : \"vector.2\"", "\"strategy\" : \"A\"", "\"norm\""] {
            XCTAssertTrue(text.contains(key), "plan JSON lacks \(key)")
        }
        // An empty plan (P with no layer kept) round-trips too.
        let empty = SteeringPlan(name: "P", strategy: .pruned, entries: [])
        try empty.save(to: directory.appendingPathComponent("plans/P.json"))
        XCTAssertEqual(try SteeringPlan.load(from: directory.appendingPathComponent("plans/P.json")), empty)
    }

    func testLoadReportsMissingOrWrongVectors() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plan = try SteeringPlan.build(name: "S", choices: Array(choices.prefix(1)), decoderRows: Self.rows)
        let url = directory.appendingPathComponent("S.json")
        try plan.save(to: url)
        let vectors = directory.appendingPathComponent("S.safetensors")
        try SafeTensorsWriter.write([SafeTensorsWriter.Entry(name: "vector.0", shape: [3], floats: [1, 2, 3])], to: vectors)
        let wrongShape = thrownError { try SteeringPlan.load(from: url) }
        XCTAssertEqual("\(wrongShape!)", "\(vectors.path): tensor 'vector.0' is F32 [3], expected F32 [4]")
        try FileManager.default.removeItem(at: vectors)
        let missing = thrownError { try SteeringPlan.load(from: url) }
        XCTAssertEqual("\(missing!)", "\(vectors.path): cannot read: the plan's vector file is missing")
    }

    /// Cross-task transfer: another run's features.json gives the choices.
    func testChoicesFromAnotherRunsFeatures() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let features = makeFeatures([makeLayer(2, r: 0.2), makeLayer(4, r: 0.5)])
        let url = directory.appendingPathComponent("features.json")
        try features.save(to: url)
        let choices = try FeatureCandidates.load(from: url).choices(for: .single)
        let plan = try SteeringPlan.build(name: "S", strategy: .single, source: url.path, choices: choices, decoderRows: Self.rows)
        XCTAssertEqual(plan.entries.map(\.layer), [4])
        XCTAssertEqual(plan.entries[0].coefficient, 41)
    }
}
