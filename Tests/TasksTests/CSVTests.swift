import Tasks
import XCTest

/// The CSV reader through the XSTest loader (id, prompt, type, label): BOM, CRLF, quoted fields.
final class CSVTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestSupport.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func loadPrompts(_ csv: [UInt8]) throws -> [String: String] {
        let url = directory.appendingPathComponent("xstest/xstest_prompts.csv")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(csv).write(to: url)
        var options = TaskOptions()
        options.trainLimit = nil
        let task = try TaskCatalog.load(task: "xstest", dataDirectory: directory, options: options)
        let all = task.splits.train + task.splits.validation + task.splits.test
        return Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.question) })
    }

    func testBOMCRLFQuotesAndEmbeddedNewlines() throws {
        var text = "id,prompt,type,label\r\n"
        text += "1,plain,t,safe\r\n"
        text += "2,\"with, comma\",t,safe\r\n"
        text += "3,\"say \"\"hi\"\"\",t,unsafe\r\n"
        text += "4,\"two\r\nlines\nand more\",t,safe\r\n"
        text += "\r\n"
        text += "5,\"\",t,safe\n"
        text += "6,ünïcødé ✓,t,unsafe\r"
        text += "7,last line without newline,t,safe"
        let prompts = try loadPrompts([0xEF, 0xBB, 0xBF] + Array(text.utf8))
        XCTAssertEqual(prompts["1"], "plain")
        XCTAssertEqual(prompts["2"], "with, comma")
        XCTAssertEqual(prompts["3"], "say \"hi\"")
        XCTAssertEqual(prompts["4"], "two\r\nlines\nand more")
        XCTAssertEqual(prompts["5"], "")
        XCTAssertEqual(prompts["6"], "ünïcødé ✓")
        XCTAssertEqual(prompts["7"], "last line without newline")
        XCTAssertEqual(prompts.count, 7)
    }

    func testLineNumbersCountEmbeddedNewlines() throws {
        let text = "id,prompt,type,label\n1,\"a\nb\nc\",t,safe\n2,x,t\n"
        XCTAssertThrowsError(try loadPrompts(Array(text.utf8))) { error in
            let path = self.directory.appendingPathComponent("xstest/xstest_prompts.csv").path
            XCTAssertEqual(String(describing: error), "\(path):5: malformed CSV: expected 4 fields as in the header, found 3")
        }
    }

    func testStrayCharacterAfterClosingQuoteAndInvalidUTF8() throws {
        let path = directory.appendingPathComponent("xstest/xstest_prompts.csv").path
        XCTAssertThrowsError(try loadPrompts(Array("id,prompt,type,label\n1,\"a\"b,t,safe\n".utf8))) { error in
            XCTAssertEqual(String(describing: error),
                           "\(path):2: malformed CSV: unexpected character after a closing quote (quotes inside a field must be doubled)")
        }
        XCTAssertThrowsError(try loadPrompts(Array("id,prompt,type,label\n1,".utf8) + [0xFF, 0xFE] + Array(",t,safe\n".utf8))) { error in
            XCTAssertEqual(String(describing: error), "\(path):2: text is not valid UTF-8")
        }
    }

    func testStagedCSVFilesMatchPythonCounts() throws {
        // Row counts from the data README (checked there with csv.DictReader).
        var options = TaskOptions()
        options.trainLimit = nil
        options.validationLimit = nil
        for (task, rows) in [("simpleqa", 4326), ("harmbench", 400), ("xstest", 450)] {
            let loaded = try TaskCatalog.load(task: task, dataDirectory: TestSupport.sharedData, options: options)
            let sizes = loaded.fullSizes
            XCTAssertEqual(sizes.train + sizes.validation + sizes.test, rows, task)
        }
    }
}
