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
        XCTAssertTrue(help.stdout.contains("values: auto, exact, fast"), help.stdout)
    }

    func testCustomKindHelpListsTheKinds() throws {
        let help = try CorrSteerBinary.run(["collect", "--help"])
        for kind in ["choice", "exact", "numeric", "contains", "refusal", "external"] {
            XCTAssertTrue(help.stdout.contains(kind), "collect --help lists \(kind)")
        }
        XCTAssertTrue(help.stdout.contains("ambig") && help.stdout.contains("disambig"), help.stdout)
    }

    /// Out-of-range numbers are usage errors of the subcommand (its usage line, exit 64), found while the
    /// command line is parsed: the model path does not exist and is never looked at.
    private func assertSubcommandUsageError(_ arguments: [String], command: String, mentions option: String,
                                            file: StaticString = #filePath, line: UInt = #line) throws {
        try assertUsageError(arguments, mentions: option, file: file, line: line)
        let result = try CorrSteerBinary.run(arguments)
        XCTAssertTrue(result.stderr.contains("Usage: corrsteer \(command)"), "subcommand usage expected:\n\(result.stderr)",
                      file: file, line: line)
    }

    func testOutOfRangeNumbersAreUsageErrorsOfTheSubcommand() throws {
        let cases: [(String, [String], String)] = [
            ("run", ["--custom-kind", "exact", "--test-limit=-1"], "--test-limit"),
            ("run", ["--custom-kind", "exact", "--top-k", "0"], "--top-k"),
            ("run", ["--custom-kind", "exact", "--val-limit", "0"], "--val-limit"),
            ("run", ["--custom-kind", "exact", "--samples", "0"], "--samples"),
            ("collect", ["--custom-kind", "exact", "--batch-size", "0"], "--batch-size"),
            ("collect", ["--custom-kind", "exact", "--checkpoint-every", "0"], "--checkpoint-every"),
            ("collect", ["--custom-kind", "exact", "--max-new-tokens", "0"], "--max-new-tokens"),
            ("collect", ["--custom-kind", "exact", "--layers", "1,x"], "--layers"),
            ("collect", ["--custom-kind", "exact", "--shard", "2/2"], "--shard"),
            ("collect", [], "--custom-kind"),
        ]
        for (command, extra, option) in cases {
            try assertSubcommandUsageError(collect(extra, command: command), command: command, mentions: option)
        }
        try assertSubcommandUsageError(["evaluate", "/nonexistent/model", "--test-limit=0"], command: "evaluate", mentions: "--test-limit")
        try assertSubcommandUsageError(["evaluate", "/nonexistent/model", "--batch-size", "0"], command: "evaluate", mentions: "--batch-size")
        try assertSubcommandUsageError(["select", "/nonexistent/model", "--top-k", "0"], command: "select", mentions: "--top-k")
        try assertSubcommandUsageError(["generate", "-m", "/nonexistent/model"], command: "generate", mentions: "--prompt")
        try assertSubcommandUsageError(["generate", "-m", "/nonexistent/model", "--prompt", "x", "--top-p", "1.5"],
                                       command: "generate", mentions: "--top-p")
        try assertSubcommandUsageError(["forward", "-m", "/nonexistent/model", "--tokens", "1,-2", "-o", "x"],
                                       command: "forward", mentions: "-2")
        try assertSubcommandUsageError(["report", "/nonexistent/model", "--resamples", "0"], command: "report", mentions: "--resamples")
        try assertSubcommandUsageError(["sae-encode", "--sae", "/nonexistent/model", "--in", "x"], command: "sae-encode", mentions: "--out")
        try assertSubcommandUsageError(["bench", "collect", "--samples", "0"], command: "bench collect", mentions: "--samples")
    }

    func testExportAcceptsTheDeprecatedOutputSpelling() throws {
        let both = try CorrSteerBinary.run(["export", "/nonexistent/model", "--out", "a", "--output", "b"])
        XCTAssertEqual(both.status, 64, both.stderr)
        let help = try CorrSteerBinary.run(["export", "--help"])
        XCTAssertTrue(help.stdout.contains("-o, --out"), help.stdout)
        XCTAssertFalse(help.stdout.contains("--output"), "the deprecated spelling stays out of the help")
    }

    func testHelpNamesTheEnvironmentAndShortFlags() throws {
        for command in ["run", "collect", "evaluate", "generate", "forward"] {
            let help = try CorrSteerBinary.run([command, "--help"]).stdout
            for variable in ["CORRSTEER_THREADS", "CORRSTEER_PRECISION", "HF_HUB_CACHE", "HF_HOME"] {
                XCTAssertTrue(help.contains(variable), "\(command) --help names \(variable)")
            }
            XCTAssertTrue(help.contains("-q, --quiet"), "\(command) --help has -q")
        }
        let run = try CorrSteerBinary.run(["run", "--help"]).stdout
        XCTAssertTrue(run.contains("-m, --model") && run.contains("-o, --out"), run)
        // Required options are shown as required, defaults once.
        XCTAssertTrue(run.contains("--model <model> --task <task>") || run.contains("-m <model>"), run)
        let encode = try CorrSteerBinary.run(["sae-encode", "--help"]).stdout
        XCTAssertTrue(encode.contains("--in <in>") && !encode.contains("[--in <in>]"), encode)
        XCTAssertFalse(run.contains("default) (default"), run)
    }
}
