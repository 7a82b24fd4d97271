import Foundation
import Tokenization
import XCTest

/// The facts listed in ../shared/tokenizers/README.md, and the public vocabulary API.
final class TokenizerFactsTests: XCTestCase {
    func testLlama31Facts() throws {
        let tokenizer = try LoadedTokenizers.llama31.get()
        XCTAssertEqual(tokenizer.vocabularySize, 128_256)
        XCTAssertEqual(tokenizer.tokenID(for: "!"), 0)
        XCTAssertEqual(tokenizer.tokenID(for: "<|begin_of_text|>"), 128_000)
        XCTAssertEqual(tokenizer.tokenID(for: "<|end_of_text|>"), 128_001)
        XCTAssertEqual(tokenizer.tokenID(for: "<|start_header_id|>"), 128_006)
        XCTAssertEqual(tokenizer.tokenID(for: "<|end_header_id|>"), 128_007)
        XCTAssertEqual(tokenizer.tokenID(for: "<|eom_id|>"), 128_008)
        XCTAssertEqual(tokenizer.tokenID(for: "<|eot_id|>"), 128_009)
        XCTAssertEqual(tokenizer.bosTokenID, 128_000)
        XCTAssertEqual(tokenizer.eosTokenID, 128_009)
        XCTAssertNil(tokenizer.padTokenID)
        XCTAssertEqual(tokenizer.token(for: 128_009), "<|eot_id|>")
        XCTAssertNil(tokenizer.token(for: 128_256))
        XCTAssertTrue(tokenizer.isSpecialToken(128_000))
        XCTAssertFalse(tokenizer.isSpecialToken(0))
        XCTAssertEqual(tokenizer.specialTokenIDs.count, 256)
        XCTAssertEqual(tokenizer.encode("abc<|eot_id|>def", addSpecialTokens: false), [13997, 128_009, 755])
        XCTAssertEqual(tokenizer.encode("abc<|eot_id|>def"), [128_000, 13997, 128_009, 755])
        XCTAssertEqual(tokenizer.encode("", addSpecialTokens: true), [128_000])
        XCTAssertEqual(tokenizer.encode("", addSpecialTokens: false), [])
        XCTAssertEqual(tokenizer.chatFormat, .llama31)
    }

    func testGemmaFactsOnTheGemmaConfiguredTokenizer() throws {
        let tokenizer = try LoadedTokenizers.gemmaLike.get()
        XCTAssertEqual(tokenizer.tokenID(for: "<pad>"), 0)
        XCTAssertEqual(tokenizer.tokenID(for: "<eos>"), 1)
        XCTAssertEqual(tokenizer.tokenID(for: "<bos>"), 2)
        XCTAssertEqual(tokenizer.tokenID(for: "<unk>"), 3)
        XCTAssertEqual(tokenizer.tokenID(for: "<start_of_turn>"), 106)
        XCTAssertEqual(tokenizer.tokenID(for: "<end_of_turn>"), 107)
        XCTAssertEqual(tokenizer.tokenID(for: "\n"), 108)
        XCTAssertEqual(tokenizer.tokenID(for: "<0x00>"), 217)
        XCTAssertEqual(tokenizer.padTokenID, 0)
        XCTAssertEqual(tokenizer.eosTokenID, 1)
        XCTAssertEqual(tokenizer.bosTokenID, 2)
        XCTAssertEqual(tokenizer.unknownTokenID, 3)
        // <bos> prepended (add_bos_token), nothing appended (add_eos_token false).
        let hello = tokenizer.encode("Hello world!")
        XCTAssertEqual(hello.first, 2)
        XCTAssertEqual(Array(hello.dropFirst()), tokenizer.encode("Hello world!", addSpecialTokens: false))
        // The normalizer turns " " into "▁" and adds no prefix space before the first word.
        let space = tokenizer.tokenID(for: "▁")!
        XCTAssertEqual(tokenizer.encode(" ", addSpecialTokens: false), [space])
        XCTAssertNotEqual(tokenizer.encode("Hello", addSpecialTokens: false).first, tokenizer.encode(" Hello", addSpecialTokens: false).first)
        XCTAssertFalse(tokenizer.token(for: tokenizer.encode("Hello", addSpecialTokens: false)[0])!.hasPrefix("▁"))
        // "\n" is its own token; turn markers are recognised in text.
        XCTAssertEqual(tokenizer.encode("a\nb", addSpecialTokens: false)[1], 108)
        XCTAssertEqual(tokenizer.encode("<start_of_turn>user\n", addSpecialTokens: false).prefix(1), [106])
        // Byte fallback for characters outside the vocabulary, decoded back losslessly.
        let emoji = tokenizer.encode("\u{1F600}", addSpecialTokens: false)
        XCTAssertEqual(emoji, [0xF0, 0x9F, 0x98, 0x80].map { 217 + $0 })
        assertSameText(tokenizer.decode(emoji), "\u{1F600}")
        // The whole text is one BPE word: merges cross what would be word boundaries elsewhere.
        let long = String(repeating: "the answer is ", count: 2000)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(long, addSpecialTokens: false)), long)
        XCTAssertNil(tokenizer.chatFormat, "the fixture's config carries no chat template")
    }

    func testBatchEncodingEqualsOneByOne() throws {
        let tokenizer = try LoadedTokenizers.llama31.get()
        let texts = (0..<200).map { "Sample \($0): " + String(repeating: "word\($0 % 7) ", count: $0 % 13) + "\u{1F600}\n" }
        let single = texts.map { tokenizer.encode($0) }
        XCTAssertEqual(tokenizer.encodeBatch(texts), single)
        XCTAssertEqual(tokenizer.encodeBatch(texts, maxConcurrency: 1), single)
        XCTAssertEqual(tokenizer.encodeBatch(texts, addSpecialTokens: false, maxConcurrency: 3),
                       texts.map { tokenizer.encode($0, addSpecialTokens: false) })
        XCTAssertEqual(tokenizer.encodeBatch([]), [])
    }

    func testDecodeIgnoresUnknownIDsAndSkipsOnlySpecialTokens() throws {
        let tokenizer = try LoadedTokenizers.llama31.get()
        let ids = tokenizer.encode("Hi<|eot_id|>there")
        XCTAssertEqual(tokenizer.decode(ids + [-1, 500_000]), "<|begin_of_text|>Hi<|eot_id|>there")
        XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), "Hithere")
        let gemma = try LoadedTokenizers.gemmaLike.get()
        // User-defined pieces (like "<table>") are added tokens but not special: they stay.
        let table = gemma.encode("a<table>b", addSpecialTokens: false)
        XCTAssertTrue(table.contains(gemma.tokenID(for: "<table>")!))
        XCTAssertEqual(gemma.decode(gemma.encode("a<table>b<eos>"), skipSpecialTokens: true), "a<table>b")
    }

    func testLoadingFromAFileOrAFolderGivesTheSameTokenizer() throws {
        let fromFile = try Tokenizer(contentsOf: TestPaths.gemmaLike.appendingPathComponent("tokenizer.json"))
        let fromFolder = try LoadedTokenizers.gemmaLike.get()
        XCTAssertEqual(fromFile.vocabularySize, fromFolder.vocabularySize)
        XCTAssertEqual(fromFile.encode("Same text."), fromFolder.encode("Same text."))
    }
}
