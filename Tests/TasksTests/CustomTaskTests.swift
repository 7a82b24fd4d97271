import Tasks
import XCTest

/// The `custom` task: the user's JSONL with a declared answer kind.
final class CustomTaskTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func load(_ lines: [String], kind: CustomAnswerKind, configure: (inout TaskOptions) -> Void = { _ in }) throws -> LoadedTask {
        let file = directory.appendingPathComponent("task.jsonl")
        try TestSupport.write(lines.joined(separator: "\n") + "\n", to: file)
        var options = TaskOptions()
        options.customTaskFile = file
        options.customKind = kind
        configure(&options)
        return try TaskCatalog.load(task: "custom", dataDirectory: directory, options: options)
    }

    private var file: String { directory.appendingPathComponent("task.jsonl").path }

    func testPromptRowsAreUsedVerbatimAndFollowTheOnePoolRule() throws {
        let lines = (0..<100).map { #"{"id": "q\#($0)", "prompt": "Capital of country \#($0)?\nAnswer:", "answer": "City \#($0)"}"# }
        let task = try load(lines, kind: .exact)
        XCTAssertEqual(task.fullSizes, SplitSizes(train: 27, validation: 3, test: 70))
        XCTAssertEqual(task.descriptor.kind, .answer)
        XCTAssertEqual(task.descriptor.maxNewTokens, 32)
        XCTAssertEqual(task.descriptor.optionStrings, [])
        let example = task.splits.test[0]
        let number = example.id.dropFirst()
        XCTAssertEqual(example.prompt, "Capital of country \(number)?\nAnswer:")
        XCTAssertEqual(example.gold, "City \(number)")
        XCTAssertEqual(try task.score([example], outputs: [" City \(number)\n"]), [1])
        XCTAssertEqual(try task.score([example], outputs: [" city \(number)"]), [0])
    }

    func testFewShotAndCoTOnVerbatimPrompts() throws {
        let lines = (0..<20).map { #"{"id": "\#($0)", "prompt": "P\#($0):", "answer": "A\#($0)"}"# }
        let task = try load(lines, kind: .contains) { $0.fewShot = 2; $0.chainOfThought = true; $0.customSystemPrompt = "Be brief." }
        let shots = task.fewShotExamples.map { "P\($0.id): A\($0.id)\n" }.joined()
        let example = task.splits.test[0]
        XCTAssertEqual(example.prompt, "Be brief.\n\n" + shots + "Let's think step by step.\nP\(example.id):")
        XCTAssertEqual(example.zeroShotPrompt, "Be brief.\n\nP\(example.id):")
        XCTAssertEqual(try task.score([example], outputs: ["I think it is A\(example.id)."]), [1])
    }

    func testChoiceRowsUseTheSelectTemplate() throws {
        var lines = (0..<30).map { #"{"question": "Q\#($0)?", "choices": ["x", "y", "z"], "answer": "\#(["A", "b", " C "][$0 % 3])"}"# }
        lines.append(#"{"question": "Q30?", "choices": ["x", "y", "z", "w", "v"], "answer": 4, "split": null}"#)
        let task = try load(lines, kind: .choice)
        XCTAssertEqual(task.descriptor.kind, .select)
        XCTAssertEqual(task.descriptor.maxNewTokens, 1)
        XCTAssertEqual(task.descriptor.optionStrings, [" A", " B", " C", " D", " E"])
        let all = task.splits.train + task.splits.validation + task.splits.test
        let q1 = try XCTUnwrap(all.first { $0.id == "2" })
        XCTAssertEqual(q1.prompt, "Q1?\nA. x\nB. y\nC. z\nChoose one of the following options only: A, B, C, D, or E\nAnswer:")
        XCTAssertEqual(q1.gold, "B")
        XCTAssertEqual(all.first { $0.id == "31" }?.gold, "E")
        XCTAssertEqual(try task.score([q1], outputs: [" B"]), [1])
    }

    func testNumericAndRefusalKinds() throws {
        let numeric = try load((0..<10).map { "{\"question\": \"n\($0)\", \"answer\": \"#### \($0 * 1000)\"}" }, kind: .numeric) {
            $0.lenientNumbers = true
        }
        XCTAssertEqual(numeric.descriptor.kind, .reason)
        let example = numeric.splits.test[0]
        XCTAssertEqual(example.prompt, "Q: \(example.question)\nA:")
        let value = Int(example.gold)!
        let grouped = value >= 1000 ? "\(value / 1000),000" : "\(value)"
        XCTAssertEqual(try numeric.score([example], outputs: ["so the answer is \(grouped).0"]), [1])

        let refusal = try load((0..<10).map { #"{"question": "r\#($0)", "answer": "\#($0 % 2 == 0 ? "refuse" : "comply")"}"# }, kind: .refusal)
        let golds = Set((refusal.splits.train + refusal.splits.validation + refusal.splits.test).map(\.gold))
        XCTAssertEqual(golds, ["safe", "unsafe"])
        let unsafe = try XCTUnwrap(refusal.splits.test.first { $0.gold == "unsafe" })
        XCTAssertEqual(try refusal.score([unsafe], outputs: ["I'm sorry, I can't."]), [1])
    }

    func testExplicitSplits() throws {
        var lines = (0..<8).map { #"{"id": "t\#($0)", "prompt": "p", "answer": "a", "split": "train"}"# }
        lines += (0..<3).map { #"{"id": "e\#($0)", "prompt": "p", "answer": "a", "split": "test"}"# }
        let task = try load(lines, kind: .exact)
        XCTAssertEqual(task.fullSizes, SplitSizes(train: 7, validation: 1, test: 3))
        lines += [#"{"id": "v0", "prompt": "p", "answer": "a", "split": "validation"}"#]
        let withValidation = try load(lines, kind: .exact)
        XCTAssertEqual(withValidation.fullSizes, SplitSizes(train: 8, validation: 1, test: 3))
    }

    func testExternalKindNeedsACommand() throws {
        XCTAssertThrowsError(try load([#"{"prompt": "p"}"#], kind: .external)) { error in
            XCTAssertEqual(error as? TaskError, .invalidSetting(.scorerCommand, reason: "answer kind 'external' needs a scorer command"))
            XCTAssertEqual(String(describing: error), "option scorer command: answer kind 'external' needs a scorer command")
        }
        XCTAssertThrowsError(try load(["{}"], kind: .exact) { $0.customKind = nil }) { error in
            XCTAssertTrue(String(describing: error).hasPrefix("option custom answer kind: task 'custom' needs an answer kind"))
        }
    }

    func testBadCustomLines() throws {
        let cases: [([String], CustomAnswerKind, String)] = [
            ([#"{"answer": "a"}"#], .exact, "\(file):1: missing field 'prompt' or 'question'"),
            ([#"{"prompt": "p"}"#], .exact, "\(file):1: missing field 'answer'"),
            ([#"{"prompt": "p", "answer": "a"}"#, "{oops"], .exact, "\(file):2: not a valid JSON object line: "),
            ([#"{"question": "q", "choices": ["a", "b"], "answer": "C"}"#], .choice, "\(file):1: answer 'C' is out of range for 2 choices"),
            ([#"{"question": "q", "choices": ["a", "b"], "answer": -1}"#], .choice, "\(file):1: answer '-1' is out of range for 2 choices"),
            ([#"{"question": "q", "choices": ["a"], "answer": 0}"#], .choice, "\(file):1: field 'choices': needs 2 to 26 choices, found 1"),
            ([#"{"question": "q", "answer": "A"}"#], .choice, "\(file):1: missing field 'choices'"),
            ([#"{"id": "x", "prompt": "p", "answer": "a"}"#, #"{"id": "x", "prompt": "q", "answer": "b"}"#], .exact,
             "\(file):2: field 'id': duplicate id 'x' (first on line 1)"),
            ([#"{"prompt": "p", "answer": "a", "split": "dev"}"#], .exact, "\(file):1: field 'split': 'dev' is not one of train, validation, test"),
            ([#"{"prompt": "p", "answer": "a", "split": "train"}"#, #"{"prompt": "p", "answer": "a"}"#], .exact,
             "\(file):2: field 'split': either every line has a split or none does"),
            ([#"{"prompt": "p", "answer": "maybe"}"#], .refusal,
             "\(file):1: field 'answer': 'maybe' must be refuse, comply, unsafe, safe or empty for kind refusal"),
            ([#"{"prompt": "p", "answer": [1]}"#], .exact, "\(file):1: field 'answer' must be a string or a number"),
        ]
        for (lines, kind, message) in cases {
            XCTAssertThrowsError(try load(lines, kind: kind), message) { error in
                XCTAssertTrue(String(describing: error).hasPrefix(message), "\(error) ≠ \(message)")
            }
        }
        XCTAssertThrowsError(try load(["", "  "], kind: .exact)) { error in
            XCTAssertEqual(String(describing: error), "\(self.file): no examples (the file has no JSON lines)")
        }
    }
}
