import Foundation
import LanguageModels
import Tensors
import XCTest

/// Ragged batches, chunked prefill and KV-cache decoding give the numbers of a single full pass.
final class BatchingTests: XCTestCase {
    func testRaggedBatchMatchesEachSequenceAlone() throws {
        for name in ["gemma2-tiny-f32", "llama3-tiny-bf16"] {
            let model = try Fixtures.model(name)
            let sequences = try Fixtures.reference(name).sequences
            let batched = try model.forward(tokens: sequences, logits: .allPositions)
            var worst: Float = 0
            for (b, sequence) in sequences.enumerated() {
                let alone = try model.forward(tokens: [sequence], logits: .allPositions)[0]
                let error = maxRelativeError(batched[b].floats(), alone.floats())
                XCTAssertLessThanOrEqual(error, 1e-5, "\(name) sequence \(b)")
                worst = max(worst, error)
            }
            print("ragged batch \(name): max rel error against each sequence alone \(worst)")
        }
    }

    /// One row per pass is exactly a decode step: every position reads the earlier ones from the KV cache
    /// (including the sliding-window ring). Compared with transformers' single full pass.
    func testTokenByTokenDecodeMatchesFullSequenceLogits() throws {
        for name in ["gemma2-tiny-f32", "llama3-tiny-f32"] {
            let model = try Fixtures.model(name)
            let reference = try Fixtures.reference(name)
            for rowsPerPass in [1, 3, 7] {
                let generator = Generator(model: model, maxRowsPerPass: rowsPerPass)
                let logits = try generator.forward(tokens: reference.sequences, logits: .allPositions)
                for b in reference.sequences.indices {
                    let error = maxRelativeError(logits[b].floats(), try reference.floats("logits.\(b)"))
                    XCTAssertLessThanOrEqual(error, 1e-4, "\(name) sequence \(b), \(rowsPerPass) rows per pass")
                }
            }
        }
    }

    func testLastPositionLogitsAreTheLastRowOfAllPositions() throws {
        let model = try Fixtures.model("gemma2-tiny-f32")
        let sequences = try Fixtures.reference("gemma2-tiny-f32").sequences
        let last = try model.forward(tokens: sequences)
        let all = try model.forward(tokens: sequences, logits: .allPositions)
        let v = model.config.vocabularySize
        for b in sequences.indices {
            XCTAssertEqual(last[b].shape, [1, v])
            // Same row, but the LM-head product runs with a different row count (kernel blocking may differ).
            XCTAssertLessThanOrEqual(maxRelativeError(last[b].floats(), Array(all[b].floats().suffix(v))), 1e-5)
        }
    }
}

func maxAbsoluteError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
