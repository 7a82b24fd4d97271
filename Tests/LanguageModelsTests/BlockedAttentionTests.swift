import Foundation
import LanguageModels
import Tensors
import WeightFiles
import XCTest

/// Prefill attention runs in blocks of query rows through the matrix kernels; decode and short chunks run
/// row by row. Sequences of 128 and 150 tokens (several blocks, many Gemma-2 sliding windows) against
/// transformers (scripts/fixtures/kernels_long_attention.py), prefilled whole, in chunks that continue
/// from the cache (blocked with cached keys), and in chunks short enough for the row-by-row path.
final class BlockedAttentionTests: XCTestCase {
    func testLongSequencesMatchTransformersWhateverTheChunking() throws {
        let file = try SafeTensorsFile(url: Fixtures.packageRoot.appendingPathComponent("Tests/Fixtures/kernels/long_attention.safetensors"))
        for (name, tolerance) in [("gemma2-tiny-bf16", Float(1e-3)), ("llama3-tiny-f32", Float(1e-4))] {
            let model = try Fixtures.model(name)
            let tokens = try file.int64s("\(name).tokens").map { Int($0) }
            let expected = try file.tensor("\(name).logits").floats()
            for rowsPerPass in [1024, 40, 10] {
                let logits = try Generator(model: model, maxRowsPerPass: rowsPerPass)
                    .forward(tokens: [tokens], logits: .allPositions)[0].floats()
                let error = maxRelativeError(logits, expected)
                print("long attention \(name), \(rowsPerPass) rows per pass: max rel error \(error)")
                XCTAssertLessThanOrEqual(error, tolerance, "\(name), \(rowsPerPass) rows per pass")
            }
        }
    }
}
