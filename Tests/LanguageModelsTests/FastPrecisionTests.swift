import Foundation
import LanguageModels
import Tensors
import WeightFiles
import XCTest

/// `--precision fast` (activations rounded to bf16 before each product, as PyTorch runs a bf16 model)
/// against transformers running the same bf16 checkpoint in bfloat16 (scripts/fixtures/models_bf16_runs.py),
/// with `exact` beside it. The bounds are the measured figures with a margin (docs/precision.md).
final class FastPrecisionTests: XCTestCase {
    func testGemma2FastTracksTheBF16Run() throws {
        let (fast, exact) = try compare("gemma2-tiny-bf16")
        XCTAssertLessThanOrEqual(fast.logitError, 0.03)
        XCTAssertLessThanOrEqual(fast.residualError, 0.03)
        XCTAssertGreaterThanOrEqual(fast.greedyAgreement, 0.95)
        XCTAssertGreaterThanOrEqual(exact.greedyAgreement, 0.95)
    }

    func testLlama3FastTracksTheBF16Run() throws {
        let (fast, exact) = try compare("llama3-tiny-bf16")
        XCTAssertLessThanOrEqual(fast.logitError, 0.03)
        XCTAssertLessThanOrEqual(fast.residualError, 0.03)
        XCTAssertGreaterThanOrEqual(fast.greedyAgreement, 0.95)
        XCTAssertGreaterThanOrEqual(exact.greedyAgreement, 0.95)
    }

    struct Agreement {
        /// Largest |ours − bf16 run| over the largest |bf16 run|, per sequence, worst sequence.
        var logitError: Float = 0
        var residualError: Float = 0
        var greedyAgreement: Double = 0
    }

    private func compare(_ name: String) throws -> (fast: Agreement, exact: Agreement) {
        let model = try Fixtures.model(name)
        let run = try Reference(file: SafeTensorsFile(url: Fixtures.models.appendingPathComponent("reference/\(name)-bf16-run.safetensors")))
        let saved = MatMul.defaultPrecision
        defer { MatMul.defaultPrecision = saved }
        var results: [MatMulPrecision: Agreement] = [:]
        for precision in [MatMulPrecision.fast, .exact] {
            MatMul.defaultPrecision = precision
            results[precision] = try agreement(model, run)
            let a = results[precision]!
            print("\(name) \(precision.rawValue) vs transformers bf16 run: logits \(a.logitError), residuals \(a.residualError), greedy \(a.greedyAgreement)")
        }
        return (results[.fast]!, results[.exact]!)
    }

    private func agreement(_ model: LanguageModel, _ run: Reference) throws -> Agreement {
        let sequences = run.sequences
        let sites = (0..<(model.config.layerCount - 1)).map { HookSite.residPost(layer: $0) }
        let recorder = ResidualRecorder(sites: sites, positions: .all)
        let logits = try model.forward(tokens: sequences, hooks: [recorder], logits: .allPositions)
        let vocabulary = model.config.vocabularySize
        var result = Agreement()
        var agree = 0, total = 0
        for b in sequences.indices {
            let ours = logits[b].floats(), theirs = try run.floats("logits.\(b)")
            result.logitError = max(result.logitError, scaledError(ours, theirs))
            for t in 0..<sequences[b].count {
                let range = (t * vocabulary)..<((t + 1) * vocabulary)
                agree += argmax(ours[range]) == argmax(theirs[range]) ? 1 : 0
                total += 1
            }
            for (layer, site) in sites.enumerated() {
                let recorded = try XCTUnwrap(recorder.matrix(site: site, sequence: b))
                result.residualError = max(result.residualError,
                                           scaledError(recorded.values, try run.floats("resid_post.\(layer).\(b)")))
            }
        }
        result.greedyAgreement = Double(agree) / Double(total)
        return result
    }

    private func scaledError(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        let scale = b.reduce(0) { max($0, abs($1)) }
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } / max(scale, .leastNormalMagnitude)
    }

    private func argmax(_ row: ArraySlice<Float>) -> Int {
        row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!
    }
}
