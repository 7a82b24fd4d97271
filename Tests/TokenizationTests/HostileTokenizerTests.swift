import Foundation
import Tokenization
import XCTest

/// Minimised hostile tokenizer.json inputs from a fuzzing pass (issue 21): each gives one short,
/// typed error naming the file instead of a huge allocation or a huge message.
final class HostileTokenizerTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private var url: URL { folder.appendingPathComponent("tokenizer.json") }

    private func load(_ text: String) throws -> Tokenizer {
        try text.write(to: url, atomically: true, encoding: .utf8)
        return try Tokenizer(contentsOf: url)
    }

    private func assertError(_ text: String, mentions fragments: [String], maxLength: Int = 600,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(text), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(error is TokenizerError, message, file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message.prefix(300))", file: file, line: line)
            XCTAssertLessThan(message.count, maxLength, "short: \(message.prefix(300))…", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "\(message.prefix(300)) should mention \(fragment)", file: file, line: line)
            }
        }
    }

    private func tokenizer(vocab: String = #""a": 0, "b": 1, "ab": 2"#, merges: String = #""a b""#, added: String = "[]",
                           extra: String = "") -> String {
        #"{"added_tokens": \#(added), \#(extra)"model": {"type": "BPE", "vocab": {\#(vocab)}, "merges": [\#(merges)]}}"#
    }

    /// Crash 4: an id of 10^9 sized the id table at 16 GB (10^8: 1.6 GiB).
    func testHugeTokenIDsAreRejectedBeforeAllocating() throws {
        for id in [1_000_000_000, 100_000_000, 1_999_999_999] {
            assertError(tokenizer(vocab: #""a": 0, "b": 1, "ab": \#(id)"#), mentions: [url.path, "token id \(id)", "3 tokens"])
            assertError(tokenizer(added: #"[{"id": \#(id), "content": "<s>", "special": true}]"#),
                        mentions: [url.path, "token id \(id)", "4 tokens"])
        }
    }

    func testPostProcessorIDsMustExist() throws {
        let template = #""post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [1500000000], "tokens": ["<s>"]}}}, "#
        assertError(tokenizer(extra: template), mentions: [url.path, "post_processor", "1500000000"])
        let roberta = #""post_processor": {"type": "RobertaProcessing", "cls": ["<s>", 9999999999], "sep": ["</s>", 2]}, "#
        assertError(tokenizer(extra: roberta), mentions: [url.path, "post_processor"])
    }

    /// Valid files keep working: sparse but sane ids (a few unused) still load.
    func testSparseButSaneIDsStillLoad() throws {
        let tokenizer = try load(tokenizer(vocab: #""a": 0, "b": 1, "ab": 700"#))
        XCTAssertEqual(tokenizer.encode("ab", addSpecialTokens: false), [700])
        XCTAssertEqual(tokenizer.vocabularySize, 701)
    }

    /// A 1 MB merge string must not make a 1 MB error line; control characters are escaped.
    func testQuotedInputIsClippedAndEscaped() throws {
        let huge = String(repeating: "x", count: 1 << 20)
        assertError(tokenizer(merges: "\"\(huge)\""), mentions: [url.path, "merges[0]", "xxxx", "more bytes"])
        assertError(tokenizer(merges: #""a b", "\#(huge) b""#), mentions: [url.path, "merge #1", "more bytes"])
        assertError(tokenizer(merges: #""a\u0007\n\u001b[31mred b""#), mentions: [#"\u{7}"#, #"\n"#, #"\u{1B}[31m"#])
        let longKey = String(repeating: "k", count: 1 << 20)
        assertError(#"{"model": {"type": "BPE", "vocab": {"\#(longKey)": -1}, "merges": []}}"#, mentions: [url.path, "more bytes"])
        assertError(#"{"model": {"type": "\#(huge)", "vocab": {}}}"#, mentions: [url.path, "more bytes"])
    }
}
