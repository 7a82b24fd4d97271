import CorrSteer
import XCTest

final class RunDirectoryTests: XCTestCase {
    func testPlainNamesStayInsideTheRun() throws {
        for name in ["A", "P-layer-3", "my plan", "plan.v2"] {
            XCTAssertEqual(try RunDirectory.plainName(name, field: "--plan"), name)
        }
        for name in ["", ".", "..", "../x", "a/b", "/etc", "a\\b", "x\u{0}y", "x\ny", String(repeating: "a", count: 201)] {
            XCTAssertThrowsError(try RunDirectory.plainName(name, field: "--plan"), name)
        }
    }

    func testOccupancyTellsRunsFromOtherFolders() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("occupancy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = RunDirectory(root)
        XCTAssertEqual(try run.occupancy(), .missing)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data().write(to: run.lockFile)
        XCTAssertEqual(try run.occupancy(), .empty)
        try Data("{}".utf8).write(to: root.appendingPathComponent("thesis.tex"))
        XCTAssertEqual(try run.occupancy(), .foreign(entries: ["thesis.tex"]))
        XCTAssertThrowsError(try run.requireWritable())
        try Data("{}".utf8).write(to: run.manifest)
        XCTAssertEqual(try run.occupancy(), .run)
        XCTAssertNoThrow(try run.requireWritable(replacingRun: true))
        XCTAssertThrowsError(try run.removeRunEntries())
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.manifest.path))
        try FileManager.default.removeItem(at: root.appendingPathComponent("thesis.tex"))
        try run.removeRunEntries()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), [".lock"])
    }
}
