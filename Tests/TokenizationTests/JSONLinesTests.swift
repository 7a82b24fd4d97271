import Foundation
import Tokenization
import XCTest

/// The JSON-lines streams behind `corrsteer tokenize`.
final class JSONLinesTests: XCTestCase {
    private func run(_ input: String, decode: Bool = false, special: Bool = true) throws -> String {
        let tokenizer = try LoadedTokenizers.llama31.get()
        var output = Data()
        if decode {
            try TokenizationJSONLines.decode(Data(input.utf8), source: "test", tokenizer: tokenizer,
                                             skipSpecialTokens: !special) { output.append($0) }
        } else {
            try TokenizationJSONLines.encode(Data(input.utf8), source: "test", tokenizer: tokenizer,
                                             addSpecialTokens: special, maxConcurrency: 2) { output.append($0) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    func testEncodesEachLine() throws {
        XCTAssertEqual(try run("{\"text\": \"abc<|eot_id|>def\"}\n{\"text\": \"\"}\n"),
                       "{\"ids\":[128000,13997,128009,755]}\n{\"ids\":[128000]}\n")
        XCTAssertEqual(try run("{\"text\": \"abc<|eot_id|>def\", \"other\": 1}", special: false),
                       "{\"ids\":[13997,128009,755]}\n")
        XCTAssertEqual(try run(""), "")
    }

    func testDecodesEachLineAsValidJSON() throws {
        let text = "quote \" backslash \\ newline \n tab \t control \u{01} caf\u{E9} \u{1F600}"
        let ids = try LoadedTokenizers.llama31.get().encode(text)
        let output = try run("{\"ids\": \(ids)}\n", decode: true)
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: String]
        assertSameText(object["text"]!, "<|begin_of_text|>" + text)
        XCTAssertEqual(try run("{\"ids\": \(ids)}\n", decode: true, special: false),
                       try run("{\"ids\": \(Array(ids.dropFirst()))}\n", decode: true))
    }

    func testBadLinesAreErrorsNamingTheLine() throws {
        let cases: [(String, Bool, Int, String)] = [
            ("{\"text\": \"a\"}\n\n{\"text\": \"b\"}\n", false, 2, "empty line"),
            ("{\"text\": \"a\"}\n{\"text\": 3}\n", false, 2, "\"text\""),
            ("{\"text\": \"a\"\n", false, 1, "not valid JSON"),
            ("{\"ids\": [1, \"x\"]}\n", true, 1, "integers"),
            ("{\"ids\": 5}\n", true, 1, "\"ids\""),
        ]
        for (input, decode, line, fragment) in cases {
            XCTAssertThrowsError(try run(input, decode: decode), input) { error in
                guard case let TokenizerError.invalidInputLine(source, number, reason) = error else {
                    return XCTFail("\(input): \(error)")
                }
                XCTAssertEqual(source, "test")
                XCTAssertEqual(number, line, input)
                XCTAssertTrue(reason.contains(fragment), "\(reason)")
            }
        }
    }

    func testNothingIsWrittenWhenAnyLineIsBad() throws {
        var written = 0
        XCTAssertThrowsError(try TokenizationJSONLines.encode(Data("{\"text\": \"a\"}\n{\"x\": 1}\n".utf8), source: "s",
                                                              tokenizer: try LoadedTokenizers.gemmaLike.get()) { _ in written += 1 })
        XCTAssertEqual(written, 0)
    }
}
