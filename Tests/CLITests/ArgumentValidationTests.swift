import Foundation
import XCTest

/// Enumerated options are typed arguments: a misspelt value is a usage error (exit 64) found while the
/// command line is parsed, before any model is loaded — here the model path does not even exist.
final class ArgumentValidationTests: XCTestCase {
    private let demo = CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")

    private func collect(_ extra: [String], command: String = "collect") -> [String] {
        [command, "--model", "/nonexistent/model", "--sae", demo.appendingPathComponent("sae").path,
         "--task", "custom", "--task-file", demo.appendingPathComponent("task/demo.jsonl").path,
         "--out", FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UUID().uuidString)").path,
         "--quiet"] + extra
    }

    private func assertUsageError(_ arguments: [String], mentions option: String,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CorrSteerBinary.run(arguments)
        XCTAssertEqual(result.status, 64, "usage error expected for \(arguments):\n\(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(option), "'\(result.stderr)' should name \(option)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("/nonexistent/model"), "the model must not be looked at:\n\(result.stderr)",
                       file: file, line: line)
    }

    func testMisspeltShuffleIsAUsageError() throws {
        try assertUsageError(collect(["--custom-kind", "exact", "--shuffle", "hff"]), mentions: "--shuffle")
        try assertUsageError(collect(["--custom-kind", "exact", "--shuffle", "hff"], command: "run"), mentions: "--shuffle")
    }

    func testMisspeltCustomKindIsAUsageError() throws {
        try assertUsageError(collect(["--custom-kind", "exactly"]), mentions: "--custom-kind")
    }

    func testMisspeltBBQFilterIsAUsageError() throws {
        try assertUsageError(collect(["--custom-kind", "exact", "--bbq-filter", "ambiguous"]), mentions: "--bbq-filter")
    }

    func testMisspeltStrategiesIsAUsageError() throws {
        try assertUsageError(collect(["--custom-kind", "exact", "--strategies", "S,A,Q"], command: "run"), mentions: "--strategies")
        let evaluate = try CorrSteerBinary.run(["evaluate", "/nonexistent/run", "--strategies", "S,X"])
        XCTAssertEqual(evaluate.status, 64, evaluate.stderr)
        XCTAssertFalse(evaluate.stderr.contains("manifest"), evaluate.stderr)
    }

    func testMisspeltBenchShapeAndPrecisionAreUsageErrors() throws {
        try assertUsageError(["bench", "--shape", "gemma-2-2bb"], mentions: "--shape")
        try assertUsageError(["bench", "collect", "--precision", "fastest"], mentions: "--precision")
        // The accepted values are listed in the help, so nobody has to guess them.
        let help = try CorrSteerBinary.run(["bench", "model", "--help"])
        XCTAssertTrue(help.stdout.contains("values: gemma-2-2b, llama-3.1-8b"), help.stdout)
        XCTAssertTrue(help.stdout.contains("values: exact, fast"), help.stdout)
    }

    func testCustomKindHelpListsTheKinds() throws {
        let help = try CorrSteerBinary.run(["collect", "--help"])
        for kind in ["choice", "exact", "numeric", "contains", "refusal", "external"] {
            XCTAssertTrue(help.stdout.contains(kind), "collect --help lists \(kind)")
        }
        XCTAssertTrue(help.stdout.contains("ambig") && help.stdout.contains("disambig"), help.stdout)
    }
}
