import Foundation
import LanguageModels
import Tensors
import XCTest

/// Logits and every block's input and output against transformers (eager attention, f32 compute).
final class ParityTests: XCTestCase {
    func testGemma2F32MatchesTransformers() throws {
        try checkParity("gemma2-tiny-f32", tolerance: 1e-4)
    }

    func testLlama3F32MatchesTransformers() throws {
        try checkParity("llama3-tiny-f32", tolerance: 1e-4)
    }

    func testGemma2BF16MatchesTransformersOnTheSameWeights() throws {
        try checkParity("gemma2-tiny-bf16", tolerance: 1e-3)
        try checkGreedyAgreementWithBF16Run("gemma2-tiny-bf16")
    }

    func testLlama3BF16MatchesTransformersOnTheSameWeights() throws {
        try checkParity("llama3-tiny-bf16", tolerance: 1e-3)
        try checkGreedyAgreementWithBF16Run("llama3-tiny-bf16")
    }

    func testGemma3F32MatchesTransformers() throws {
        try checkParity("gemma3-tiny-f32", tolerance: 1e-4)
    }

    /// Gemma3ForConditionalGeneration's text model, weights under `language_model.model.` as published.
    func testGemma3MultimodalBF16MatchesTransformersOnTheSameWeights() throws {
        try checkParity("gemma3-mm-tiny-bf16", tolerance: 1e-3)
        try checkGreedyAgreementWithBF16Run("gemma3-mm-tiny-bf16")
    }

    /// Qwen2: biases on q/k/v, untied head. Qwen3: per-head q/k norms, head_dim ≠ hidden / heads.
    func testQwen2F32MatchesTransformers() throws {
        try checkParity("qwen2-tiny-f32", tolerance: 1e-4)
    }

    func testQwen3F32MatchesTransformers() throws {
        try checkParity("qwen3-tiny-f32", tolerance: 1e-4)
    }

    func testQwen3BF16MatchesTransformersOnTheSameWeights() throws {
        try checkParity("qwen3-tiny-bf16", tolerance: 1e-3)
        try checkGreedyAgreementWithBF16Run("qwen3-tiny-bf16")
    }

    func testBF16WeightsStayBF16InMemory() throws {
        XCTAssertEqual(try Fixtures.model("gemma2-tiny-bf16").weightDType, .bf16)
        XCTAssertEqual(try Fixtures.model("llama3-tiny-f32").weightDType, .f32)
    }

    private func checkParity(_ name: String, tolerance: Float) throws {
        let model = try Fixtures.model(name)
        let reference = try Fixtures.reference(name)
        let layers = model.config.layerCount
        let sites = (0..<layers).flatMap { [HookSite.residPre(layer: $0), .residPost(layer: $0)] }
        let recorder = ResidualRecorder(sites: sites, positions: .all)
        let sequences = reference.sequences
        let logits = try model.forward(tokens: sequences, hooks: [recorder], logits: .allPositions)
        var worstLogit: Float = 0, worstResidual: Float = 0
        for b in sequences.indices {
            XCTAssertEqual(logits[b].shape, [sequences[b].count, model.config.vocabularySize])
            worstLogit = max(worstLogit, maxRelativeError(logits[b].floats(), try reference.floats("logits.\(b)")))
            for l in 0..<layers {
                for (site, key) in [(HookSite.residPre(layer: l), "resid_pre"), (.residPost(layer: l), "resid_post")] {
                    let recorded = try XCTUnwrap(recorder.matrix(site: site, sequence: b))
                    XCTAssertEqual(recorded.rows, sequences[b].count)
                    let positions = recorder.tags[site]![b]!.map(\.position)
                    XCTAssertEqual(positions, Array(0..<sequences[b].count))
                    worstResidual = max(worstResidual, maxRelativeError(recorded.values, try reference.floats("\(key).\(l).\(b)")))
                }
            }
        }
        print("parity \(name): max rel error logits \(worstLogit), residuals \(worstResidual)")
        XCTAssertLessThanOrEqual(worstLogit, tolerance, "\(name) logits")
        XCTAssertLessThanOrEqual(worstResidual, tolerance, "\(name) residuals")
    }

    private func checkGreedyAgreementWithBF16Run(_ name: String) throws {
        let model = try Fixtures.model(name)
        let reference = try Fixtures.reference(name)
        let sequences = reference.sequences
        let logits = try model.forward(tokens: sequences, logits: .allPositions)
        let vocabulary = model.config.vocabularySize
        var agree = 0, total = 0
        for b in sequences.indices {
            let values = logits[b].floats()
            let expected = reference.ints("argmax_bf16.\(b)")
            for t in 0..<sequences[b].count {
                let row = values[(t * vocabulary)..<((t + 1) * vocabulary)]
                let best = row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! - t * vocabulary
                agree += best == expected[t] ? 1 : 0
                total += 1
            }
        }
        print("parity \(name): greedy token agrees with transformers-bf16 on \(agree)/\(total)")
        XCTAssertGreaterThanOrEqual(Double(agree), 0.98 * Double(total))
    }
}
