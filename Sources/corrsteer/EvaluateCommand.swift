import ArgumentParser
import CorrSteer

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Stage 3: baseline and steered accuracy on the test split, SER, intervals, and the report.",
        discussion: HelpText.discussion(
            "Each variant generates the test split; P first generates --val-limit validation samples per layer.",
            examples: ["corrsteer evaluate RUN --strategies S,A,P --test-limit 100",
                       "corrsteer evaluate RUN --strategies S --val-limit 20 --json"],
            extra: [HelpText.environment]))

    @Argument(help: "Run directory with features.json (after `corrsteer select`).")
    var directory: String

    @OptionGroup var evaluation: EvaluationArguments
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(name: .customLong("batch-size"), help: "Prompts generated together (default: the collection's).")
    var batchSize: Int?

    @OptionGroup var precision: PrecisionOption
    @OptionGroup var output: QuietOption

    @Flag(help: "Print the results as one JSON object on stdout (schema in docs/run-directory.md).")
    var json = false

    func validate() throws {
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        precision.apply(output)
        let run = RunDirectory(path: directory)
        var stage = EvaluationRun(run: run, options: try evaluation.options(batchSize: batchSize))
        stage.output = .standardError(quiet: output.quiet)
        let results = try stage.execute()
        try RunReport.write(try RunReport.load(runDirectory: run), to: run)
        if json {
            return try printResultsJSON(results, run: run, candidates: try FeatureCandidates.load(from: run.features))
        }
        printResults(results)
        print("report: \(run.reportHTML.path)")
    }
}
