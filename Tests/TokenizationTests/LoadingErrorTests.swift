import Foundation
import Tokenization
import XCTest

/// Bad tokenizer files: each gives one clear error naming the file and what is wrong.
final class LoadingErrorTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-errors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private var tokenizerURL: URL { folder.appendingPathComponent("tokenizer.json") }

    private func write(_ text: String, to name: String = "tokenizer.json") throws {
        try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    private func model(_ model: String = #""type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3}, "merges": ["a b"]"#,
                       extra: String = "") -> String {
        #"{"version": "1.0", "added_tokens": [{"id": 3, "content": "<s>", "special": true}], "#
            + extra + #""model": {"# + model + "}}"
    }

    private func assertError(_ expected: TokenizerError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(contentsOf: tokenizerURL), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, file: file, line: line)
        }
    }

    private func assertError(containing fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(contentsOf: tokenizerURL), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is TokenizerError, text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(text.contains(fragment), "\(text) should mention \(fragment)", file: file, line: line)
            }
        }
    }

    func testTheMinimalFileWorks() throws {
        try write(model())
        let tokenizer = try Tokenizer(contentsOf: tokenizerURL)
        XCTAssertEqual(tokenizer.encode("abab<s>a"), [2, 2, 3, 0])
        XCTAssertEqual(tokenizer.decode([2, 3, 0]), "ab <s> a", "no decoder: tokens joined by spaces")
        XCTAssertEqual(tokenizer.vocabularySize, 4)
        // Without an unknown token, characters outside the vocabulary are dropped (as the
        // reference does), also when the word comes from the cache the second time.
        for _ in 0..<2 {
            XCTAssertEqual(tokenizer.encode("xyz", addSpecialTokens: false), [])
            XCTAssertEqual(tokenizer.encode("axb", addSpecialTokens: false), [2])
        }
        try write(model(extra: #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}, "#))
        let byteLevel = try Tokenizer(contentsOf: tokenizerURL)
        for _ in 0..<2 {
            XCTAssertEqual(byteLevel.encode("ab zz ab"), [2, 2])
            XCTAssertEqual(byteLevel.encode("zz"), [])
        }
    }

    func testMissingFileAndFolder() throws {
        assertError(containing: ["tokenizer.json", "cannot be read"])
        XCTAssertThrowsError(try Tokenizer(directory: folder)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingTokenizerFile(directory: folder.path))
        }
    }

    func testTruncatedJSON() throws {
        try write(String(model().dropLast(7)))
        assertError(containing: [tokenizerURL.path, "not valid JSON", "line 1"])
        try write("{\"model\": [1, 2,, 3]}")
        assertError(containing: ["line 1, column 17", "unexpected character"])
    }

    func testMissingOrMistypedFields() throws {
        try write(#"{"version": "1.0"}"#)
        assertError(.missingField(path: tokenizerURL.path, field: "model"))
        try write(model(#""type": "BPE", "vocab": {"a": "zero"}, "merges": []"#))
        assertError(containing: ["model.vocab[\"a\"]", "non-negative integer"])
        try write(model(#""type": "BPE", "vocab": {"a": 0}"#))
        assertError(.missingField(path: tokenizerURL.path, field: "model.merges"))
        try write(model(extra: #""normalizer": {"type": "Replace", "content": "x"}, "#))
        assertError(.missingField(path: tokenizerURL.path, field: "normalizer.pattern"))
    }

    func testUnsupportedModelTypes() throws {
        try write(model(#""type": "Unigram", "vocab": [["a", -1.0]], "unk_id": 0"#))
        assertError(.unsupportedModel(path: tokenizerURL.path, type: "Unigram"))
        try write(model(#""type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]""#))
        assertError(containing: ["\"WordPiece\"", "not supported"])
        try write(model(#""vocab": [["a", -1.0]], "unk_id": 0"#))
        assertError(.unsupportedModel(path: tokenizerURL.path, type: "Unigram"))
    }

    func testBadMerges() throws {
        try write(model(#""type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a c"]"#))
        assertError(.mergeNotInVocabulary(path: tokenizerURL.path, index: 1, token: "c"))
        try write(model(#""type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]"#))
        assertError(.mergeNotInVocabulary(path: tokenizerURL.path, index: 0, token: "ab"))
        try write(model(#""type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b c"]"#))
        assertError(containing: ["model.merges[0]", "two tokens"])
        try write(model(#""type": "BPE", "vocab": {"a": 0}, "merges": [42]"#))
        assertError(containing: ["model.merges[0]"])
    }

    func testUnknownTokenMustBeInTheVocabulary() throws {
        try write(model(#""type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>""#))
        assertError(containing: ["model.unk_token", "<unk>", "not in the vocabulary"])
    }

    func testUnsupportedComponents() throws {
        try write(model(extra: #""normalizer": {"type": "BertNormalizer"}, "#))
        assertError(containing: ["normalizer", "BertNormalizer", "not supported"])
        try write(model(extra: #""pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Isolated", "invert": false}]}, "#))
        assertError(containing: ["pre_tokenizer.pretokenizers[0].pattern", "regex", "not supported"])
        try write(model(extra: #""pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways", "invert": false}, "#))
        assertError(containing: ["pre_tokenizer.behavior", "Sideways"])
        try write(model(extra: ###""decoder": {"type": "WordPiece", "prefix": "##"}, "###))
        assertError(containing: ["decoder", "WordPiece"])
        try write(model(extra: #""post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}}], "special_tokens": {}}, "#))
        assertError(.missingField(path: tokenizerURL.path, field: "post_processor.special_tokens.<x>.ids"))
    }

    func testBadCompanionFiles() throws {
        try write(model())
        try write("{\"bos_token\": ", to: "tokenizer_config.json")
        XCTAssertThrowsError(try Tokenizer(contentsOf: tokenizerURL)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer_config.json"), "\(error)")
        }
        try write(#"{"add_bos_token": true, "bos_token": "<missing>"}"#, to: "tokenizer_config.json")
        XCTAssertThrowsError(try Tokenizer(contentsOf: tokenizerURL)) { error in
            XCTAssertTrue("\(error)".contains("bos_token"), "\(error)")
        }
        try write(#"{"add_bos_token": true, "bos_token": {"content": "<s>"}, "add_eos_token": false}"#, to: "tokenizer_config.json")
        let tokenizer = try Tokenizer(contentsOf: tokenizerURL)
        XCTAssertEqual(tokenizer.encode("ab"), [3, 2], "add_bos_token rebuilds the template")
        XCTAssertEqual(tokenizer.bosTokenID, 3)
        try write(#"{"add_bos_token": "yes"}"#, to: "tokenizer_config.json")
        XCTAssertThrowsError(try Tokenizer(contentsOf: tokenizerURL)) { error in
            XCTAssertTrue("\(error)".contains("add_bos_token"), "\(error)")
        }
    }
}
