import Foundation
import WeightFiles
import XCTest

/// The one typed reader of config JSON: each wrong value is a `Problem` naming the file and the field
/// (nested fields with their parent), and JSON's true/false never pass for numbers or numbers for them.
final class JSONFieldsTests: XCTestCase {
    private func fields(_ json: String) throws -> JSONFields {
        try JSONFields(data: Data(json.utf8), path: "cfg.json") { $0 }
    }

    private func problem(_ body: () throws -> Any?) -> JSONFields.Problem? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? JSONFields.Problem
        }
    }

    func testTypedValues() throws {
        let f = try fields(#"{"n": 3, "x": 0.5, "s": "a", "b": false, "ids": [1, 2], "one": 7, "names": ["p"], "none": null, "big": 1e300}"#)
        XCTAssertEqual(try f.int("n"), 3)
        XCTAssertEqual(try f.double("x"), 0.5)
        XCTAssertEqual(try f.double("n"), 3)
        XCTAssertEqual(try f.string("s"), "a")
        XCTAssertEqual(try f.bool("b", default: true), false)
        XCTAssertEqual(try f.bool("absent", default: true), true)
        XCTAssertEqual(try f.intList("ids"), [1, 2])
        XCTAssertEqual(try f.intList("one"), [7])
        XCTAssertEqual(try f.stringList("names"), ["p"])
        XCTAssertNil(try f.optionalInt("none"), "null is absent")
        XCTAssertNil(try f.optionalString("absent"))
        XCTAssertFalse(f.has("none"))
        XCTAssertEqual(problem { try f.int("big") }?.reason, "expected an integer, got 1e+300")
    }

    func testWrongTypesNameTheFileAndField() throws {
        let f = try fields(#"{"flag": true, "n": 1, "half": 1.5, "s": 4, "inner": {"k": "x"}}"#)
        XCTAssertEqual(problem { try f.int("flag") }, .init(path: "cfg.json", field: "flag", reason: "expected an integer"))
        XCTAssertEqual(problem { try f.double("flag") }?.reason, "expected a number")
        XCTAssertEqual(problem { try f.optionalBool("n") }?.reason, "expected true or false")
        XCTAssertEqual(problem { try f.int("half") }?.reason, "expected an integer, got 1.5")
        XCTAssertEqual(problem { try f.string("s") }?.reason, "expected a string")
        XCTAssertEqual(problem { try f.int("gone") }, .init(path: "cfg.json", field: "gone", reason: "missing"))
        let inner = try XCTUnwrap(f.nested("inner"))
        XCTAssertEqual(problem { try inner.int("k") }, .init(path: "cfg.json", field: "inner.k", reason: "expected an integer"))
        XCTAssertEqual(problem { try f.nested("n") }?.field, "n")
    }

    func testUnreadableFilesAreProblemsOfTheWholeFile() throws {
        XCTAssertEqual(problem { try self.fields("[1, 2]") }, .init(path: "cfg.json", field: nil, reason: "not a JSON object"))
        XCTAssertNil(try XCTUnwrap(problem { try self.fields("{oops") }).field)
        let missing = URL(fileURLWithPath: "/nonexistent/cfg.json")
        let unread = problem { try JSONFields(contentsOf: missing) { $0 } }
        XCTAssertEqual(unread?.path, missing.path)
        XCTAssertTrue(unread?.reason.hasPrefix("cannot read: ") == true, "\(String(describing: unread))")
    }
}
