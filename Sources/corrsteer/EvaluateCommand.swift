import ArgumentParser
import CorrSteer

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Stage 3: baseline and steered accuracy on the test split, SER, intervals, and the report.",
        discussion: "Example: corrsteer evaluate runs/mmlu --strategies S,A,P --test-limit 1000")

    @Argument(help: "Run directory with features.json (after `corrsteer select`).")
    var directory: String

    @OptionGroup var evaluation: EvaluationArguments
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(name: .customLong("batch-size"), help: "Prompts generated together (default: the collection's).")
    var batchSize: Int?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "Print the results as one JSON object on stdout (schema in docs/run-directory.md).")
    var json = false

    func run() throws {
        let run = RunDirectory(path: directory)
        var stage = EvaluationRun(run: run, options: try evaluation.options(batchSize: batchSize))
        stage.quiet = quiet
        let results = try stage.execute()
        try RunReport.write(try RunReport.load(runDirectory: run), to: run)
        if json {
            return try printResultsJSON(results, run: run, candidates: try FeatureCandidates.load(from: run.features))
        }
        printResults(results)
        print("report: \(run.reportHTML.path)")
    }
}
