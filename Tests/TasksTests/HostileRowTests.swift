import Foundation
import Tasks
import XCTest

/// Dataset rows outside their task's shape, and scorer output too large to hold (issue 21): each is
/// one error naming the file (or command) and line, never a silent gold or a huge allocation.
final class HostileRowTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ lines: [String], to relative: String) throws {
        try TestSupport.write(lines.joined(separator: "\n") + "\n", to: directory.appendingPathComponent(relative))
    }

    private func assertLoadFails(_ task: String, mentioning parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TaskCatalog.load(task: task, dataDirectory: directory, options: TaskOptions()), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is TaskError, text, file: file, line: line)
            XCTAssertLessThan(text.count, 1000, file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "\"\(text)\" should mention \(part)", file: file, line: line) }
        }
    }

    private let goodMMLU = #"{"question": "q", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 1}"#

    func testMMLURowWithMoreThan26Choices() throws {
        let choices = (0..<27).map { "\"c\($0)\"" }.joined(separator: ", ")
        try write([goodMMLU, #"{"question": "q", "subject": "s", "choices": [\#(choices)], "answer": 26}"#], to: "mmlu/test.jsonl")
        assertLoadFails("mmlu", mentioning: ["mmlu/test.jsonl:2", "choices", "27 choices", "26"])
        let many = (0..<300).map { "\"c\($0)\"" }.joined(separator: ", ")
        try write([#"{"question": "q", "subject": "s", "choices": [\#(many)], "answer": 299}"#], to: "mmlu/test.jsonl")
        assertLoadFails("mmlu", mentioning: ["mmlu/test.jsonl:1", "300 choices"])
        try write([#"{"question": "q", "subject": "s", "choices": [], "answer": 0}"#], to: "mmlu/test.jsonl")
        assertLoadFails("mmlu", mentioning: ["mmlu/test.jsonl:1", "no choices"])
        try write([#"{"question": "q", "subject": "s", "choices": ["a", "b"], "answer": 2}"#], to: "mmlu/test.jsonl")
        assertLoadFails("mmlu", mentioning: ["mmlu/test.jsonl:1", "out of range"])
    }

    private let goodPro = #"{"question_id": 1, "question": "q", "options": ["a", "b"], "answer": "A", "category": "biology"}"#

    func testMMLUProRowWithMoreThan26Options() throws {
        let options = (0..<300).map { "\"o\($0)\"" }.joined(separator: ", ")
        try write([goodPro, #"{"question_id": 2, "question": "q", "options": [\#(options)], "answer": "A", "category": "law"}"#],
                  to: "mmlu_pro/train.jsonl")
        try write([goodPro], to: "mmlu_pro/test.jsonl")
        assertLoadFails("mmlupro", mentioning: ["mmlu_pro/train.jsonl:2", "options", "300 choices"])
    }

    func testGSM8KAnswerWithoutFinalMarker() throws {
        try write([##"{"question": "1+1?", "answer": "1+1=2\n#### 2"}"##, ##"{"question": "2+2?", "answer": "it is 4"}"##], to: "gsm8k/train.jsonl")
        try write(["{\"question\": \"1+1?\", \"answer\": \"#### 2\"}"], to: "gsm8k/test.jsonl")
        assertLoadFails("gsm8k", mentioning: ["gsm8k/train.jsonl:2", "answer", "####"])
    }

    func testQuotedAnswersAreClipped() throws {
        let huge = String(repeating: "Z", count: 1 << 20)
        try write([#"{"question_id": 1, "question": "q", "options": ["a", "b"], "answer": "\#(huge)\u001b", "category": "c"}"#],
                  to: "mmlu_pro/train.jsonl")
        try write([goodPro], to: "mmlu_pro/test.jsonl")
        assertLoadFails("mmlupro", mentioning: ["mmlu_pro/train.jsonl:1", "more bytes"])
    }

    /// A one-shot scorer printing a 3 MB line used to be held whole (a 300 MB line took 2 GB).
    func testScorerOutputLineLengthIsLimited() throws {
        let command = #"cat > /dev/null; printf '{"id": "0", "score": 1}\n'; head -c 3000000 /dev/zero | tr '\0' x; echo"#
        let scorer = ExternalCommandScorer(command: command, timeout: 60)
        let items = [ScoringItem(id: "0", prompt: "p", output: "o", gold: "a"), ScoringItem(id: "1", prompt: "p", output: "o", gold: "a")]
        XCTAssertThrowsError(try scorer.score(items)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("output line 2"), text)
            XCTAssertTrue(text.contains("longer than 1048576 bytes"), text)
            XCTAssertLessThan(text.count, 1000)
        }
    }
}
