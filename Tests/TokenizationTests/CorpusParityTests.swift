import Foundation
import Tokenization
import XCTest

/// Ids and decodes against Hugging Face `tokenizers` on the committed corpus
/// (scripts/fixtures/tokenization_corpus.py, tokenization_reference.py).
final class CorpusParityTests: XCTestCase {
    func testLlama31MatchesReference() throws {
        try checkCorpus("llama-3.1")
    }

    func testLlama2SentencePieceStandInMatchesReference() throws {
        try checkCorpus("llama-2-spm-standin")
    }

    func testGemmaConfiguredTokenizerMatchesReference() throws {
        try checkCorpus("gemma-2-like")
    }

    /// Variants exercising the other normalizers, pre-tokenizers, processors and decoders
    /// (scripts/fixtures/tokenization_variants.py).
    func testByteLevelRobertaVariantMatchesReference() throws {
        try checkCorpus("variant-bytelevel-roberta")
    }

    func testMetaspaceVariantMatchesReference() throws {
        try checkCorpus("variant-metaspace-first")
    }

    func testSplitAndSuffixVariantMatchesReference() throws {
        try checkCorpus("variant-split-suffix")
    }

    func testQwenStyleVariantMatchesReference() throws {
        try checkCorpus("variant-qwen-style")
    }

    /// The layout of Qwen2/2.5/3's own tokenizer.json (NFC, the Qwen-2 split regex with one digit per
    /// piece, byte-level BPE, specials after the vocabulary), trained small on local text.
    func testQwen2TokenizerLayoutMatchesReference() throws {
        try checkCorpus("variant-qwen2")
    }

    func testCorpusCoversWhatTheIssueAsks() throws {
        let corpus = try FixtureFiles.json(TestPaths.fixtures.appendingPathComponent("corpus.json")) as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(corpus.count, 300)
        let texts = corpus.map { $0["text"] as! String }
        XCTAssertGreaterThanOrEqual(texts.filter { $0.count >= 10_000 }.count, 5, "10k-character words")
        XCTAssertTrue(texts.contains { $0.contains("\u{200D}") }, "emoji with ZWJ")
        XCTAssertTrue(texts.contains { $0.contains("abc<|eot_id|>def") }, "special-token text inside words")
        let names = corpus.map { $0["name"] as! String }
        for dataset in ["mmlu_", "mmlu_pro_", "gsm8k_", "bbq_", "harmbench_", "xstest_", "simpleqa_"] {
            XCTAssertTrue(names.contains { $0.hasPrefix(dataset) }, "first prompts of \(dataset)")
        }
    }

    private func checkCorpus(_ name: String) throws {
        let tokenizer = try LoadedTokenizers.named(name).get()
        let corpus = try FixtureFiles.json(TestPaths.fixtures.appendingPathComponent("corpus.json")) as! [[String: Any]]
        let references = try FixtureFiles.jsonLines(TestPaths.fixtures.appendingPathComponent("reference-\(name).jsonl"))
        XCTAssertEqual(corpus.count, references.count)
        var failures = 0
        for (entry, reference) in zip(corpus, references) where failures < 20 {
            let caseName = entry["name"] as! String
            let text = entry["text"] as! String
            XCTAssertEqual(reference["name"] as? String, caseName)
            if reference["skipped"] != nil { continue }
            let expected = FixtureFiles.ints(reference["ids"])!
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            if ids != expected {
                failures += 1
                XCTFail("\(name) \(caseName): \(firstDifference(ids, expected))")
            }
            var decodeIDs = expected
            if let expectedSpecial = FixtureFiles.ints(reference["ids_special"]) {
                let special = tokenizer.encode(text, addSpecialTokens: true)
                if special != expectedSpecial {
                    failures += 1
                    XCTFail("\(name) \(caseName) with special tokens: \(firstDifference(special, expectedSpecial))")
                }
                decodeIDs = expectedSpecial
            }
            let decoded = reference["decoded_is_text"] != nil ? text : reference["decoded"] as! String
            let decodedSkip = reference["decoded_skip_is_text"] != nil ? text : reference["decoded_skip"] as! String
            assertSameText(tokenizer.decode(decodeIDs), decoded, "\(name) \(caseName) decode")
            assertSameText(tokenizer.decode(decodeIDs, skipSpecialTokens: true), decodedSkip,
                           "\(name) \(caseName) decode skipping special tokens")
            if let prefixes = reference["prefix_decodes"] as? [String] {
                for (k, expectedPrefix) in prefixes.enumerated() {
                    assertSameText(tokenizer.decode(Array(expected.prefix(k + 1)), skipSpecialTokens: true), expectedPrefix,
                                   "\(name) \(caseName) decode of the first \(k + 1) ids")
                }
            }
        }
    }
}
