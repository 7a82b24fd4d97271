import Foundation
import Tokenization
import XCTest

/// The published test vectors in ../shared/tokenizers: llama.cpp's 46 strings (ids from Hugging
/// Face, no special tokens) and transformers.js's 37 cases (ids with BOS, transformers decode).
final class PublishedVectorTests: XCTestCase {
    func testLlama31LlamaCppVectors() throws {
        try checkLlamaCpp(try LoadedTokenizers.llama31.get(),
                          TestPaths.llama31.appendingPathComponent("llamacpp/ggml-vocab-llama-bpe.gguf"))
    }

    func testStandInLlamaCppVectors() throws {
        try checkLlamaCpp(try LoadedTokenizers.standIn.get(),
                          TestPaths.standIn.appendingPathComponent("llamacpp/ggml-vocab-llama-spm.gguf"))
    }

    func testLlama31TransformersJSVectors() throws {
        let tokenizer = try LoadedTokenizers.llama31.get()
        XCTAssertTrue(tokenizer.cleansUpTokenizationSpaces, "Llama-3.1's tokenizer_config.json asks for the clean-up")
        try checkTransformersJS(tokenizer, TestPaths.llama31.appendingPathComponent("transformersjs_llama3_vectors.jsonl"))
    }

    func testStandInTransformersJSVectors() throws {
        let tokenizer = try LoadedTokenizers.standIn.get()
        XCTAssertFalse(tokenizer.cleansUpTokenizationSpaces)
        try checkTransformersJS(tokenizer, TestPaths.standIn.appendingPathComponent("transformersjs_llama2_vectors.jsonl"))
    }

    private func checkLlamaCpp(_ tokenizer: Tokenizer, _ base: URL) throws {
        let input = try String(contentsOf: base.appendingPathExtension("inp"), encoding: .utf8)
        var texts = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        XCTAssertEqual(texts.last, "")
        texts.removeLast()
        let output = try String(contentsOf: base.appendingPathExtension("out"), encoding: .utf8)
        let expected = output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map {
            $0.split(separator: " ").map { Int($0)! }
        }
        XCTAssertEqual(texts.count, 46)
        XCTAssertEqual(expected.count, texts.count)
        for (text, ids) in zip(texts, expected) {
            let actual = tokenizer.encode(text, addSpecialTokens: false)
            XCTAssertEqual(actual, ids, "\(text.debugDescription): \(firstDifference(actual, ids))")
        }
        // All of them at once, through the parallel path.
        XCTAssertEqual(tokenizer.encodeBatch(texts, addSpecialTokens: false), expected)
    }

    private func checkTransformersJS(_ tokenizer: Tokenizer, _ url: URL) throws {
        let cases = try FixtureFiles.jsonLines(url)
        XCTAssertEqual(cases.count, 37)
        for entry in cases {
            let name = entry["name"] as! String
            let text = entry["text"] as! String
            let addSpecial = entry["add_special_tokens"] as! Bool
            let expected = FixtureFiles.ints(entry["ids"])!
            let ids = tokenizer.encode(text, addSpecialTokens: addSpecial)
            XCTAssertEqual(ids, expected, "\(name): \(firstDifference(ids, expected))")
            let decoded = tokenizer.decode(expected, skipSpecialTokens: false,
                                           cleanUpTokenizationSpaces: tokenizer.cleansUpTokenizationSpaces)
            assertSameText(decoded, entry["decoded"] as! String, name)
        }
    }
}
