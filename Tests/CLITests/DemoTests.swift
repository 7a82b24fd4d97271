import CorrSteer
import Foundation
import XCTest

/// `corrsteer demo` end to end: it must find the feature that `scripts/demo/make_demo.py` planted
/// (recorded only in `scripts/demo/planted.json`, which the pipeline never reads) and steering with
/// it must help on held-out data.
final class DemoTests: XCTestCase {
    private struct Planted: Decodable {
        let layer: Int
        let feature: Int
    }

    func testDemoFindsThePlantedFeatureAndSteeringHelps() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("run")
        let result = try CorrSteerBinary.run(["demo", "--out", out.path, "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("SER"), "the results table reports SER:\n\(result.stdout)")
        XCTAssertTrue(result.stdout.contains("report.html"))

        let plantedURL = CorrSteerBinary.packageRoot.appendingPathComponent("scripts/demo/planted.json")
        let planted = try JSONDecoder().decode(Planted.self, from: Data(contentsOf: plantedURL))
        let run = RunDirectory(out)
        let features = try FeatureCandidates.load(from: run.features)
        let layer = try XCTUnwrap(features.layer(planted.layer))
        XCTAssertEqual(layer.topPositive.first?.feature, planted.feature, "the planted feature ranks first at its layer")

        let baseline = try VariantMetrics.load(from: run.metrics(variant: "baseline"))
        let steered = try VariantMetrics.load(from: run.metrics(variant: "A"))
        XCTAssertGreaterThanOrEqual(steered.accuracy, baseline.accuracy + 0.10,
                                    "CorrSteer-A: \(steered.accuracy) vs baseline \(baseline.accuracy)")
        let comparison = try XCTUnwrap(steered.comparison)
        XCTAssertNotNil(comparison.sideEffectRatio, "SER is reported")
        for variant in ["S", "P"] {
            XCTAssertNotNil(try VariantMetrics.load(from: run.metrics(variant: variant)).comparison)
        }
        let html = try String(contentsOf: run.reportHTML, encoding: .utf8)
        XCTAssertTrue(html.contains("<svg"))
    }

    /// `--precision fast` on the demo (a bf16 model, so fast rounds the activations to bf16) selects the
    /// same feature at every layer as `exact`, with correlations within the measured 0.02 (docs/precision.md).
    func testFastPrecisionSelectsWhatExactSelects() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("demo-precision-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var candidates: [String: FeatureCandidates] = [:]
        for precision in ["exact", "fast"] {
            let out = scratch.appendingPathComponent(precision)
            let result = try CorrSteerBinary.run(["demo", "--out", out.path, "--quiet", "--precision", precision])
            XCTAssertEqual(result.status, 0, result.stderr)
            candidates[precision] = try FeatureCandidates.load(from: RunDirectory(out).features)
        }
        let exact = try XCTUnwrap(candidates["exact"]), fast = try XCTUnwrap(candidates["fast"])
        XCTAssertEqual(exact.layers.map(\.layer), fast.layers.map(\.layer))
        var worst = 0.0
        for (e, f) in zip(exact.layers, fast.layers) {
            XCTAssertEqual(e.selected?.feature, f.selected?.feature, "layer \(e.layer)")
            if let a = e.selected, let b = f.selected { worst = max(worst, abs(a.correlation - b.correlation)) }
        }
        print("demo: fast vs exact, largest difference of a selected feature's r: \(worst)")
        XCTAssertLessThanOrEqual(worst, 0.02)
    }
}
