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

            Examples:
              corrsteer report RUN
              corrsteer report RUN --examples 2
            """)

    @Argument(help: "Run directory.")
    var directory: String

    @OptionGroup var output: QuietOption

    @Option(help: "Bootstrap resamples for variants whose metrics are computed here (at least 1).")
    var resamples: Int = 10_000

    @Option(help: "Bootstrap seed for variants whose metrics are computed here.")
    var seed: UInt64 = 42

    @Option(help: "Improved and broken example answers shown per variant.")
    var examples: Int = 5

    func validate() throws {
        guard resamples > 0 else { throw ValidationError("--resamples must be at least 1, got \(resamples)") }
        guard examples >= 0 else { throw ValidationError("--examples must not be negative, got \(examples)") }
    }

    func run() throws {
        let run = RunDirectory(path: directory)
        let input = try RunReport.load(runDirectory: run, bootstrap: BootstrapOptions(resamples: resamples, seed: seed),
                                       exampleLimit: examples)
        try RunReport.write(input, to: run)
        print(run.reportMarkdown.path)
        print(run.reportHTML.path)
    }
}
