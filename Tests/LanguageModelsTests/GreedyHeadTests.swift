import Foundation
import LanguageModels
import Tensors
import WeightFiles
import XCTest

/// Greedy generation finds each next token through the greedy screen (`GreedyScreen`) for batches of up
/// to four rows and through every logit above that; both must pick what the argmax of every logit picks.
/// The reference is the same request constrained to the whole vocabulary, which takes the logits path.
final class GreedyHeadTests: XCTestCase {
    private func assertGreedyMatchesArgmax(_ model: LanguageModel, prompts: [[Int]], label: String,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertGreaterThan(model.prepareGreedyScreen(), 0)
        let generator = Generator(model: model)
        let everyToken = Array(0..<model.config.vocabularySize)
        let saved = MatMul.defaultPrecision
        defer { MatMul.defaultPrecision = saved }
        for precision in MatMulPrecision.allCases {
            MatMul.defaultPrecision = precision
            for count in [1, 3, prompts.count] {
                let batch = Array(prompts.prefix(count))
                let screened = try generator.generate(GenerationRequest(prompts: batch, maxNewTokens: 24, stopTokenIDs: []))
                let reference = try generator.generate(
                    GenerationRequest(prompts: batch, maxNewTokens: 24, stopTokenIDs: [], allowedTokenIDs: everyToken))
                XCTAssertEqual(screened.map(\.tokens), reference.map(\.tokens), "\(label) \(precision) batch \(count)",
                               file: file, line: line)
            }
        }
    }

    func testGreedyTokensAreTheArgmaxOfEveryLogit() throws {
        let prompts = [[2, 17, 250, 33], [2, 401, 9], [2, 5, 6, 7, 8, 9, 10], [2, 88], [2, 600, 601, 602, 603], [2, 1000]]
        for name in ["gemma2-tiny-f32", "gemma2-tiny-bf16", "llama3-tiny-bf16", "qwen3-tiny-bf16"] {
            try assertGreedyMatchesArgmax(try Fixtures.model(name), prompts: prompts.map { $0.map { $0 % 500 } }, label: name)
        }
    }

    /// Head rows made identical (a tie the first must win) and large, so that Gemma's soft-capping
    /// squeezes the top logits together: the screen must step aside where it cannot tell them apart.
    func testTiesAndSoftCappedNearTiesPickTheFirstToken() throws {
        let folder = Fixtures.modelDirectory("gemma2-tiny-bf16")
        let config = try ModelConfiguration.load(directory: folder)
        let file = try SafeTensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        var tensors: [String: Tensor] = [:]
        for name in file.names { tensors[name] = try file.tensor(name) }
        let embedding = try XCTUnwrap(tensors["model.embed_tokens.weight"])
        let (vocabulary, d) = (embedding.shape[0], embedding.shape[1])
        var values = embedding.floats()
        // Tokens 40 and 700 share one large row; 41 is 41's row scaled to land within soft-capping's rounding.
        let big = (0..<d).map { values[40 * d + $0] * 60 }
        values.replaceSubrange(40 * d..<41 * d, with: big)
        values.replaceSubrange(700 * d..<701 * d, with: big)
        values.replaceSubrange(41 * d..<42 * d, with: big.map { $0 * 0.9999 })
        tensors["model.embed_tokens.weight"] = Tensor(shape: [vocabulary, d], values: values, dtype: embedding.dtype)
        let model = try LanguageModel(config: config, weights: tensors)
        let prompts = [[2, 40], [2, 700, 41], [2, 41, 40, 3], [2, 9, 10, 11]]
        try assertGreedyMatchesArgmax(model, prompts: prompts, label: "edited gemma2-tiny-bf16")
        let tokens = try Generator(model: model).generate(GenerationRequest(prompts: prompts, maxNewTokens: 24, stopTokenIDs: []))
        let all = tokens.flatMap(\.tokens)
        XCTAssertFalse(all.contains(700), "token 700 ties with 40 and must never win")
        XCTAssertTrue(all.contains(40) || all.contains(41), "the edited rows never won: the test would not test ties")
    }
}
