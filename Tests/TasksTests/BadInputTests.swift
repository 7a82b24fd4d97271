import Tasks
import XCTest

/// Each bad input gets one clear error naming the file and line.
final class BadInputTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func load(_ task: String, configure: (inout TaskOptions) -> Void = { _ in }) throws -> LoadedTask {
        var options = TaskOptions()
        configure(&options)
        return try TaskCatalog.load(task: task, dataDirectory: directory, options: options)
    }

    private func assertError(_ task: String, _ message: String, configure: (inout TaskOptions) -> Void = { _ in },
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(task, configure: configure), file: file, line: line) { error in
            XCTAssertEqual(String(describing: error), message, file: file, line: line)
        }
    }

    private func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    private func writeXSTest(_ text: String) throws {
        try TestSupport.write(text, to: directory.appendingPathComponent("xstest/xstest_prompts.csv"))
    }

    func testUnknownTask() {
        assertError("mmlu2", "unknown task 'mmlu2'; known tasks: mmlu, mmlupro, gsm8k, bbq, simpleqa, harmbench, xstest, custom")
    }

    func testMissingFile() {
        assertError("gsm8k", "\(path("gsm8k/train.jsonl")): file not found (needed by task 'gsm8k')")
    }

    func testMissingColumn() throws {
        try writeXSTest("id,text,label\n1,hello,safe\n")
        assertError("xstest", "\(path("xstest/xstest_prompts.csv")):1: missing column 'prompt' (header has: id, text, label)")
    }

    func testMalformedJSONLine() throws {
        let train = (0..<20).map { "{\"question\": \"q\($0)\", \"answer\": \"#### \($0)\"}" }
        try TestSupport.write(train.joined(separator: "\n") + "\n", to: directory.appendingPathComponent("gsm8k/train.jsonl"))
        try TestSupport.write("{\"question\": \"ok\", \"answer\": \"#### 1\"}\n{\"question\": \"broken\", \"answer\": }\n",
                              to: directory.appendingPathComponent("gsm8k/test.jsonl"))
        XCTAssertThrowsError(try load("gsm8k")) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.hasPrefix("\(self.path("gsm8k/test.jsonl")):2: not a valid JSON object line: "), message)
        }
    }

    func testNotAnObjectAndMissingAndMistypedFields() throws {
        let base = (0..<20).map { "{\"question\": \"q\($0)\", \"answer\": \"#### \($0)\"}" }.joined(separator: "\n") + "\n"
        try TestSupport.write(base, to: directory.appendingPathComponent("gsm8k/train.jsonl"))
        let test = directory.appendingPathComponent("gsm8k/test.jsonl")
        try TestSupport.write("[1, 2]\n", to: test)
        assertError("gsm8k", "\(test.path):1: not a valid JSON object line: the line is JSON but not an object")
        try TestSupport.write(#"{"question": "q"}"# + "\n", to: test)
        assertError("gsm8k", "\(test.path):1: missing field 'answer'")
        try TestSupport.write("\n{\"question\": 7, \"answer\": \"#### 1\"}\n", to: test)
        assertError("gsm8k", "\(test.path):2: field 'question' must be a string")
    }

    func testEmptyDataset() throws {
        try writeXSTest("id,prompt,type,label,focus,note\n")
        assertError("xstest", "\(path("xstest/xstest_prompts.csv")): no examples (the file has no rows)")
        try TestSupport.write("", to: directory.appendingPathComponent("gsm8k/train.jsonl"))
        try TestSupport.write("", to: directory.appendingPathComponent("gsm8k/test.jsonl"))
        assertError("gsm8k", "\(path("gsm8k/train.jsonl")): no examples (the file has no rows)")
    }

    func testAnswerOutOfRange() throws {
        let good = #"{"question": "q", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 1}"#
        let bad = #"{"question": "q", "subject": "s", "choices": ["a", "b", "c", "d"], "answer": 4}"#
        for split in ["test", "validation", "auxiliary_train_subset"] {
            try TestSupport.write(good + "\n", to: directory.appendingPathComponent("mmlu/\(split).jsonl"))
        }
        try TestSupport.write(good + "\n" + good + "\n" + bad + "\n", to: directory.appendingPathComponent("mmlu/validation.jsonl"))
        assertError("mmlu", "\(path("mmlu/validation.jsonl")):3: answer '4' is out of range for 4 choices")

        let bbq = #"{"example_id": 0, "context_condition": "ambig", "context": "c", "question": "q", "ans0": "a", "ans1": "b", "ans2": "c", "label": 3}"#
        try TestSupport.write(bbq + "\n", to: directory.appendingPathComponent("bbq/Religion.jsonl"))
        assertError("bbq", "\(path("bbq/Religion.jsonl")):1: answer '3' is out of range for 3 choices")

        let pro = #"{"question_id": 1, "question": "q", "options": ["a","b","c","d","e","f","g","h","i","j"], "answer": "K", "category": "law"}"#
        try TestSupport.write(pro + "\n", to: directory.appendingPathComponent("mmlu_pro/test.jsonl"))
        assertError("mmlupro", "\(path("mmlu_pro/test.jsonl")):1: answer 'K' is out of range for 10 choices")
    }

    func testBadXSTestLabelAndMalformedCSV() throws {
        try writeXSTest("id,prompt,type,label\n1,hi,t,safe\n2,yo,t,maybe\n")
        assertError("xstest", "\(path("xstest/xstest_prompts.csv")):3: field 'label': 'maybe' is neither 'safe' nor 'unsafe'")
        try writeXSTest("id,prompt,type,label\n1,\"unterminated,t,safe\n2,yo,t,safe\n")
        assertError("xstest", "\(path("xstest/xstest_prompts.csv")):2: malformed CSV: a quoted field is never closed")
        try writeXSTest("id,prompt,type,label\n1,hi,t\n")
        assertError("xstest", "\(path("xstest/xstest_prompts.csv")):2: malformed CSV: expected 4 fields as in the header, found 3")
    }

    func testCategoryErrorsAndOptionErrors() throws {
        assertError("gsm8k", "task 'gsm8k' has no category 'x' (this task has no categories)") { $0.category = "x" }
        assertError("bbq", "task 'bbq' has no category 'Gender' (known: Age, Disability_status, Gender_identity, Nationality, Physical_appearance, Race_ethnicity, Race_x_SES, Race_x_gender, Religion, SES, Sexual_orientation)") {
            $0.category = "Gender"
        }
        assertError("xstest", "option BBQ filter: only applies to task bbq, not 'xstest'") { $0.bbqCondition = .ambig }
        assertError("xstest", "option few-shot count: must be 0 or more, got -1") { $0.fewShot = -1 }
        assertError("xstest", "option validation limit: must be at least 1, got 0") { $0.validationLimit = 0 }
        assertError("custom", "option custom task file: task 'custom' needs a JSONL file")
    }

    func testTooSmallPool() throws {
        try writeXSTest("id,prompt,type,label\n1,a,t,safe\n2,b,t,safe\n3,c,t,unsafe\n")
        assertError("xstest", "task 'xstest' has 3 examples, but the split 70% test / 30% rest → 90% train / 10% validation needs at least 7")
    }
}
