import Foundation
import WeightFiles
import XCTest

/// Every example in every `--help` is a command that works when pasted: it is one line that the help
/// does not wrap (at most 79 columns; stdout is not a terminal here, so the parser wraps at 80), and it
/// exits 0 when run by a shell with these placeholders replaced (the root help documents them):
///
/// - `MODEL`: the demo bundle's model folder; `SAE`: its SAE folder;
/// - `DATA`: a data folder holding `xstest/xstest_prompts.csv`, made from the demo task's requests with
///   both labels and two types (so rewards vary and the report has categories);
/// - `RUN`: a fresh copy of a finished demo run; `SHARD0`, `SHARD1`: the two shards of a collection.
///
/// Each example runs in its own empty folder that holds `x.safetensors` (rows for `sae-encode`), with the
/// built `corrsteer` first on PATH.
final class HelpExamplesTests: XCTestCase {
    private let demo = CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("help-examples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// The examples of one help text: the indented lines after `Examples:`. A block that does not end
    /// with an empty line (or the end of the text) had an example wrapped onto an unindented line.
    static func examples(inHelp help: String) -> (examples: [String], wrapped: Bool) {
        var examples: [String] = []
        var inside = false, wrapped = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasSuffix("Examples:") { inside = true; continue }
            guard inside else { continue }
            guard line.hasPrefix("  ") else {
                inside = false
                if !line.isEmpty { wrapped = true }
                continue
            }
            examples.append(line.trimmingCharacters(in: .whitespaces))
        }
        return (examples, wrapped)
    }

    /// Subcommand names listed in a help text's SUBCOMMANDS section.
    static func subcommands(inHelp help: String) -> [String] {
        guard let start = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        return help[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
            .prefix { !$0.isEmpty }
            .compactMap { line in line.hasPrefix("  ") && !line.hasPrefix("   ") ? line.split(separator: " ").first.map(String.init) : nil }
    }

    func testExampleExtraction() {
        let help = "OVERVIEW: x\n\nExamples:\n  corrsteer a --b\n  corrsteer c\n\nEnvironment:\n  X  y\n"
        XCTAssertEqual(Self.examples(inHelp: help).examples, ["corrsteer a --b", "corrsteer c"])
        XCTAssertFalse(Self.examples(inHelp: help).wrapped)
        XCTAssertTrue(Self.examples(inHelp: "Examples:\n  corrsteer a --long\nwrapped\n").wrapped)
        XCTAssertEqual(Self.subcommands(inHelp: "SUBCOMMANDS:\n  demo    Run\n  run (default)  x\n      more\n\n  See"), ["demo", "run"])
    }

    func testEveryHelpExampleRuns() throws {
        let root = try CorrSteerBinary.run(["--help"])
        XCTAssertEqual(root.status, 0)
        var commands: [[String]] = [[]]
        for name in Self.subcommands(inHelp: root.stdout) where name != "help" {
            commands.append([name])
            let help = try CorrSteerBinary.run([name, "--help"])
            commands += Self.subcommands(inHelp: help.stdout).filter { $0 != "help" }.map { [name, $0] }
        }
        XCTAssertGreaterThanOrEqual(commands.count, 17, "root, every subcommand and bench's: \(commands)")

        let placeholders = try makePlaceholders()
        var failures: [String] = []
        for command in commands {
            let help = try CorrSteerBinary.run(command + ["--help"])
            let name = (["corrsteer"] + command).joined(separator: " ")
            XCTAssertEqual(help.status, 0, "\(name) --help")
            let (examples, wrapped) = Self.examples(inHelp: help.stdout)
            XCTAssertFalse(examples.isEmpty, "\(name) --help has no example:\n\(help.stdout)")
            if wrapped { failures.append("\(name): an example is wider than 79 columns and was wrapped:\n\(help.stdout)") }
            for example in examples {
                XCTAssertTrue(example.contains("corrsteer "), "\(name): '\(example)' runs corrsteer")
                let result = try runExample(example, placeholders: placeholders)
                if result.status != 0 {
                    failures.append("\(name): '\(example)' exited \(result.status):\n\(result.stderr.suffix(600))")
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n\n"))
    }

    /// Real paths for the placeholders. RUN is copied afresh for each example (see `runExample`).
    private func makePlaceholders() throws -> [String: String] {
        let model = demo.appendingPathComponent("model").path, sae = demo.appendingPathComponent("sae").path
        let demoRun = scratch.appendingPathComponent("demo-run")
        let result = try CorrSteerBinary.run(["demo", "-o", demoRun.path, "-q"])
        XCTAssertEqual(result.status, 0, result.stderr)

        let data = scratch.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("xstest"), withIntermediateDirectories: true)
        let lines = try String(contentsOf: demo.appendingPathComponent("task/demo.jsonl"), encoding: .utf8).split(separator: "\n")
        var csv = "id,prompt,type,label,focus,note\n"
        for (index, line) in lines.prefix(120).enumerated() {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let prompt = try XCTUnwrap(object["prompt"] as? String)
            let request = prompt.replacingOccurrences(of: "Request: ", with: "").replacingOccurrences(of: "\nResponse:", with: "")
            let type = index % 2 == 0 ? "homonyms" : "privacy", label = index % 3 == 0 ? "unsafe" : "safe"
            csv += "\(index + 1),\"\(request.replacingOccurrences(of: "\"", with: "\"\""))\",\(type),\(label),,\n"
        }
        try Data(csv.utf8).write(to: data.appendingPathComponent("xstest/xstest_prompts.csv"))

        var shards: [String] = []
        for index in 0..<2 {
            let shard = scratch.appendingPathComponent("shard\(index)")
            let collect = try CorrSteerBinary.run([
                "collect", "-m", model, "--sae", sae, "--task", "xstest", "--data", data.path,
                "--shard", "\(index)/2", "-o", shard.path, "-q"])
            XCTAssertEqual(collect.status, 0, collect.stderr)
            shards.append(shard.path)
        }
        return ["MODEL": model, "SAE": sae, "DATA": data.path, "RUN": demoRun.path,
                "SHARD0": shards[0], "SHARD1": shards[1]]
    }

    private func runExample(_ example: String, placeholders: [String: String]) throws -> CorrSteerBinary.Result {
        let folder = scratch.appendingPathComponent("example-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // Rows of the demo SAE's width for `sae-encode --in x.safetensors`.
        let rows = (0..<3 * 64).map { Float(($0 % 13) - 6) / 8 }
        try SafeTensorsWriter.write([SafeTensorsWriter.Entry(name: "x", shape: [3, 64], floats: rows)],
                                    to: folder.appendingPathComponent("x.safetensors"))
        var values = placeholders
        // Commands that write into a run get their own copy, so examples do not see each other's changes.
        let run = folder.appendingPathComponent("run")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: placeholders["RUN"]!), to: run)
        values["RUN"] = run.path
        var command = example
        for (placeholder, value) in values.sorted(by: { $0.key.count > $1.key.count }) {
            command = command.replacingOccurrences(
                of: "\\b\(placeholder)\\b", with: "'\(value)'", options: .regularExpression)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = CorrSteerBinary.url.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CorrSteerBinary.Result(status: process.terminationStatus, stdout: "", stderr: String(decoding: stderr, as: UTF8.self))
    }
}
