import Foundation
import XCTest

/// Bad input on the command line: one clear line on stderr and a non-zero exit, nothing written.
final class CLIErrorTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cli-errors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private var demoModel: String { CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo/model").path }
    private var demoSAE: String { CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo/sae").path }
    private var demoTask: String { CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo/task/demo.jsonl").path }

    private func assertOneLineFailure(_ arguments: [String], mentions fragments: [String],
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CorrSteerBinary.run(arguments, in: scratch)
        XCTAssertNotEqual(result.status, 0, "should fail: \(arguments)", file: file, line: line)
        let lines = result.stderr.split(separator: "\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1, "one line expected, got:\n\(result.stderr)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(result.stderr.contains(fragment), "'\(result.stderr)' should mention '\(fragment)'", file: file, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out/manifest.json").path),
                       "a failed run must not leave a run directory", file: file, line: line)
    }

    func testMissingModelPath() throws {
        try assertOneLineFailure(
            ["collect", "--model", "/nonexistent/model", "--sae", demoSAE, "--task", "custom", "--task-file", demoTask,
             "--custom-kind", "exact", "--out", "out", "--quiet"],
            mentions: ["/nonexistent/model"])
    }

    func testWrongSAEFolder() throws {
        try assertOneLineFailure(
            ["collect", "--model", demoModel, "--sae", scratch.path, "--task", "custom", "--task-file", demoTask,
             "--custom-kind", "exact", "--out", "out", "--quiet"],
            mentions: [scratch.path])
    }

    func testUnknownTask() throws {
        try assertOneLineFailure(
            ["collect", "--model", demoModel, "--sae", demoSAE, "--task", "trivia", "--out", "out", "--quiet"],
            mentions: ["trivia"])
    }

    /// The libraries name settings in words; the CLI names the flag that sets them (`FlagNames`).
    func testLibraryErrorsNameTheFlag() throws {
        try assertOneLineFailure(["serve", "-m", demoModel, "--run", scratch.path, "--check", "--quiet"],
                                 mentions: ["Error: --run \(scratch.path): no plans/S.json"])
        try assertOneLineFailure(
            ["collect", "--model", demoModel, "--sae", demoSAE, "--task", "xstest", "--data", scratch.path,
             "--bbq-filter", "ambig", "--out", "out", "--quiet"],
            mentions: ["Error: option --bbq-filter: only applies to task bbq"])
    }

    func testEveryCommandHasHelp() throws {
        let top = try CorrSteerBinary.run(["--help"])
        XCTAssertEqual(top.status, 0)
        let commands = ["demo", "run", "collect", "select", "evaluate", "merge", "generate", "forward", "features",
                        "report", "export", "tokenize", "tasks", "sae-encode", "sae-info", "bench"]
        for command in commands {
            XCTAssertTrue(top.stdout.contains(command), "top-level help lists \(command)")
            let help = try CorrSteerBinary.run([command, "--help"])
            XCTAssertEqual(help.status, 0, "\(command) --help")
            XCTAssertTrue(help.stdout.contains("USAGE"), "\(command) --help prints a usage")
            XCTAssertTrue(help.stdout.contains("OVERVIEW"), "\(command) --help has an overview")
        }
    }
}
