import Foundation
import LanguageModels
import Tensors
import XCTest

/// Generation against transformers' `generate` (greedy, KV cache), stop rules, sampling and constraints.
final class GenerationTests: XCTestCase {
    private func generateCase(_ reference: Reference, _ k: Int) -> (prompts: [[Int]], expected: [[Int]], maxNew: Int) {
        let count = Int(reference.meta("generate.\(k).prompts")!)!
        let prompts = (0..<count).map { reference.ints("generate.\(k).prompt.\($0)") }
        let expected = (0..<count).map { reference.ints("generate.\(k).tokens.\($0)") }
        return (prompts, expected, Int(reference.meta("generate.\(k).max_new_tokens")!)!)
    }

    func testGreedyGenerationMatchesTransformers() throws {
        for name in ["gemma2-tiny-f32", "llama3-tiny-f32"] {
            let model = try Fixtures.model(name)
            let (prompts, expected, maxNew) = generateCase(try Fixtures.reference(name), 0)
            let results = try Generator(model: model).generate(
                GenerationRequest(prompts: prompts, maxNewTokens: maxNew, stopTokenIDs: []))
            XCTAssertEqual(results.map(\.tokens), expected, name)
            XCTAssertEqual(results.map(\.stoppedOnEOS), Array(repeating: false, count: prompts.count))
        }
    }

    func testSteeredGreedyGenerationMatchesTransformersWithAnAddingHook() throws {
        for name in ["gemma2-tiny-f32", "llama3-tiny-f32"] {
            let model = try Fixtures.model(name)
            let reference = try Fixtures.reference(name)
            let (prompts, expected, maxNew) = generateCase(reference, 1)
            let site = try XCTUnwrap(HookSite(name: reference.meta("generate.1.site")!))
            var vectors: [Int: [Float]] = [:]
            for b in prompts.indices { vectors[b] = try reference.floats("generate.1.vector.\(b)") }
            let hook = AdditionHook(site: site, positions: .generation, vectors: vectors)
            let results = try Generator(model: model).generate(
                GenerationRequest(prompts: prompts, maxNewTokens: maxNew, stopTokenIDs: []), hooks: [hook])
            XCTAssertEqual(results.map(\.tokens), expected, name)
            let unsteered = try Generator(model: model).generate(GenerationRequest(prompts: prompts, maxNewTokens: maxNew, stopTokenIDs: []))
            XCTAssertNotEqual(unsteered.map(\.tokens), expected, "the steering vector must change the output for this test to mean anything")
        }
    }

    func testEachSequenceStopsOnItsOwnStopToken() throws {
        let model = try Fixtures.model("gemma2-tiny-f32")
        let (prompts, expected, maxNew) = generateCase(try Fixtures.reference("gemma2-tiny-f32"), 0)
        // Stop on the 4th token transformers produced for sequence 0 (first occurrence).
        let stop = expected[0][3]
        let results = try Generator(model: model).generate(
            GenerationRequest(prompts: prompts, maxNewTokens: maxNew, stopTokenIDs: [stop]))
        for (b, result) in results.enumerated() {
            if let cut = expected[b].firstIndex(of: stop) {
                XCTAssertEqual(result.tokens, Array(expected[b][...cut]), "sequence \(b)")
                XCTAssertTrue(result.stoppedOnEOS)
            } else {
                XCTAssertEqual(result.tokens, expected[b], "sequence \(b)")
                XCTAssertFalse(result.stoppedOnEOS)
            }
        }
        XCTAssertTrue(results[0].tokens.count <= 4)
    }

    func testMaxNewTokensLimitsEachSequence() throws {
        let model = try Fixtures.model("llama3-tiny-f32")
        let (prompts, expected, _) = generateCase(try Fixtures.reference("llama3-tiny-f32"), 0)
        let results = try Generator(model: model).generate(GenerationRequest(prompts: prompts, maxNewTokens: 3, stopTokenIDs: []))
        XCTAssertEqual(results.map(\.tokens), expected.map { Array($0.prefix(3)) })
        let none = try Generator(model: model).generate(GenerationRequest(prompts: prompts, maxNewTokens: 0))
        XCTAssertEqual(none.map(\.tokens), Array(repeating: [], count: prompts.count))
    }

    func testDefaultStopTokensAreTheModelsEOS() throws {
        let model = try Fixtures.model("llama3-tiny-bf16")
        XCTAssertEqual(model.config.eosTokenIDs, [3, 4])
        // Constrain to {EOS 3, 7}: whichever is picked first, an EOS ends the sequence at once.
        let results = try Generator(model: model).generate(
            GenerationRequest(prompts: [[1, 9, 10], [1, 11]], maxNewTokens: 5, allowedTokenIDs: [3, 7]))
        for result in results {
            XCTAssertTrue(result.tokens.allSatisfy { [3, 7].contains($0) })
            if result.tokens.contains(3) {
                XCTAssertEqual(result.tokens.last, 3)
                XCTAssertTrue(result.stoppedOnEOS)
            } else {
                XCTAssertEqual(result.tokens.count, 5)
            }
        }
    }

    func testConstrainedDecodingPicksTheBestAllowedToken() throws {
        let model = try Fixtures.model("gemma2-tiny-f32")
        let prompts = try Fixtures.reference("gemma2-tiny-f32").sequences
        let allowed = [17, 250, 33, 401]
        let logits = try model.forward(tokens: prompts)
        let results = try Generator(model: model).generate(
            GenerationRequest(prompts: prompts, maxNewTokens: 1, stopTokenIDs: [], allowedTokenIDs: allowed))
        for b in prompts.indices {
            let row = logits[b].floats()
            let best = allowed.max { row[$0] < row[$1] }!
            XCTAssertEqual(results[b].tokens, [best])
        }
    }

    func testSeededSamplingIsReproducibleAndIndependentOfBatching() throws {
        let model = try Fixtures.model("llama3-tiny-bf16")
        let prompts = [[1, 20, 30], [1, 40], [1, 50, 60, 70]]
        let sampling = Sampling.random(temperature: 1.5, topK: 50, topP: 0.95, seed: 7)
        let generator = Generator(model: model)
        let first = try generator.generate(GenerationRequest(prompts: prompts, maxNewTokens: 6, stopTokenIDs: [], sampling: sampling))
        let second = try generator.generate(GenerationRequest(prompts: prompts, maxNewTokens: 6, stopTokenIDs: [], sampling: sampling))
        XCTAssertEqual(first, second)
        let greedy = try generator.generate(GenerationRequest(prompts: prompts, maxNewTokens: 6, stopTokenIDs: []))
        XCTAssertNotEqual(first.map(\.tokens), greedy.map(\.tokens), "temperature 1.5 over a flat model should leave the greedy path")
        let other = try generator.generate(GenerationRequest(prompts: prompts, maxNewTokens: 6, stopTokenIDs: [],
                                                             sampling: .random(temperature: 1.5, topK: 50, topP: 0.95, seed: 8)))
        XCTAssertNotEqual(first, other)
    }

    func testSamplingFiltersReduceToGreedy() throws {
        let model = try Fixtures.model("gemma2-tiny-bf16")
        let prompts = [[2, 20, 30, 40], [2, 41]]
        let generator = Generator(model: model)
        let greedy = try generator.generate(GenerationRequest(prompts: prompts, maxNewTokens: 5, stopTokenIDs: []))
        for sampling in [Sampling.random(temperature: 1, topK: 1, topP: nil, seed: 3),
                         .random(temperature: 1, topK: nil, topP: 1e-6, seed: 3),
                         .random(temperature: 0, topK: nil, topP: nil, seed: 3)] {
            let sampled = try generator.generate(GenerationRequest(prompts: prompts, maxNewTokens: 5, stopTokenIDs: [], sampling: sampling))
            XCTAssertEqual(sampled, greedy, "\(sampling)")
        }
    }

    func testTopKRestrictsSamplesToTheKBestTokens() throws {
        let model = try Fixtures.model("llama3-tiny-f32")
        let prompt = [1, 99, 100, 101]
        let row = try model.forward(tokens: [prompt])[0].floats()
        let topThree = Set(row.indices.sorted { row[$0] > row[$1] }.prefix(3))
        var seen = Set<Int>()
        for seed in 0..<40 {
            let result = try Generator(model: model).generate(GenerationRequest(
                prompts: [prompt], maxNewTokens: 1, stopTokenIDs: [],
                sampling: .random(temperature: 5, topK: 3, topP: nil, seed: UInt64(seed))))
            seen.insert(result[0].tokens[0])
        }
        XCTAssertTrue(seen.isSubset(of: topThree), "\(seen) ⊄ \(topThree)")
        XCTAssertGreaterThan(seen.count, 1)
    }

    func testBadRequestsAreRejected() throws {
        let model = try Fixtures.model("gemma2-tiny-bf16")
        let generator = Generator(model: model)
        let cases: [(GenerationRequest, String)] = [
            (GenerationRequest(prompts: [[2, 3], []], maxNewTokens: 1), "sequence 1 is empty"),
            (GenerationRequest(prompts: [[2, 1024]], maxNewTokens: 1), "token id 1024 is outside the vocabulary"),
            (GenerationRequest(prompts: [[2, -1]], maxNewTokens: 1), "token id -1"),
            (GenerationRequest(prompts: [[2]], maxNewTokens: -1), "max new tokens"),
            (GenerationRequest(prompts: [[2]], maxNewTokens: 1, allowedTokenIDs: []), "allowed token list is empty"),
            (GenerationRequest(prompts: [[2]], maxNewTokens: 1, allowedTokenIDs: [1100]), "allowed token id 1100"),
            (GenerationRequest(prompts: [[2]], maxNewTokens: 1, sampling: .random(temperature: -1, topK: nil, topP: nil, seed: 0)), "temperature"),
            (GenerationRequest(prompts: [[2]], maxNewTokens: 1, sampling: .random(temperature: 1, topK: 0, topP: nil, seed: 0)), "top-k"),
            (GenerationRequest(prompts: [[2]], maxNewTokens: 1, sampling: .random(temperature: 1, topK: nil, topP: 1.5, seed: 0)), "top-p"),
        ]
        for (request, message) in cases {
            XCTAssertThrowsError(try generator.generate(request)) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error) should mention \(message)")
            }
        }
        let hook = AdditionHook(site: .residPost(layer: 4), positions: .all, vector: Array(repeating: 0, count: 64))
        XCTAssertThrowsError(try generator.generate(GenerationRequest(prompts: [[2]], maxNewTokens: 1), hooks: [hook])) { error in
            XCTAssertTrue("\(error)".contains("blocks.4.hook_resid_post does not exist"), "\(error)")
        }
        let short = AdditionHook(site: .residPre(layer: 1), positions: .all, vector: [1, 2, 3])
        XCTAssertThrowsError(try model.forward(tokens: [[2, 5]], hooks: [short])) { error in
            XCTAssertTrue("\(error)".contains("3 values"), "\(error)")
        }
    }
}
