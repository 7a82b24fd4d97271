import ArgumentParser
import CorrSteer
import Foundation

/// `corrsteer report`: report.md and a self-contained report.html from whatever a run directory holds.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write report.md and report.html (self-contained, inline SVG) into a run directory.",
        discussion: """
            Reads manifest.json, features.json, plans/*.json and eval/*/{metrics.json,predictions.jsonl}. \
            Variants without metrics.json get their metrics computed from predictions.jsonl against eval/baseline.
            Example: corrsteer report runs/mmlu
            """)

    @Argument(help: "Run directory.")
    var directory: String

    @Option(help: "Bootstrap resamples for variants whose metrics are computed here.")
    var resamples: Int = 10_000

    @Option(help: "Bootstrap seed for variants whose metrics are computed here.")
    var seed: UInt64 = 42

    @Option(help: "Improved and broken example answers shown per variant.")
    var examples: Int = 5

    func run() throws {
        guard resamples > 0 else { throw RunError.invalidOption("--resamples must be at least 1") }
        guard examples >= 0 else { throw RunError.invalidOption("--examples must not be negative") }
        let run = RunDirectory(path: directory)
        let input = try RunReport.load(runDirectory: run, bootstrap: BootstrapOptions(resamples: resamples, seed: seed),
                                       exampleLimit: examples)
        try RunReport.write(input, to: run)
        print(run.reportMarkdown.path)
        print(run.reportHTML.path)
    }
}
