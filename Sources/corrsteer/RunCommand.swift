import ArgumentParser
import CorrSteer
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Collect, select and evaluate in one command.",
        discussion: """
            Example:
              corrsteer run --model google/gemma-2-2b-it --sae ~/gemma-scope-2b-pt-res \\
                --task mmlu --data ~/data --samples 4000 --out runs/mmlu
            """)

    @OptionGroup var collection: CollectionArguments
    @OptionGroup var selection: SelectionArguments
    @OptionGroup var evaluation: EvaluationArguments
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(help: "Run directory to create (or to continue with --resume).")
    var out: String

    @Flag(help: "Continue a run that was interrupted.")
    var resume = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "Print the results as one JSON object on stdout (schema in docs/run-directory.md).")
    var json = false

    func run() throws {
        let directory = RunDirectory(path: out)
        var pipeline = Pipeline(
            run: directory, collection: try collection.configuration(), selection: selection.options,
            decoderBias: selection.decode, evaluation: try evaluation.options())
        pipeline.resume = resume
        pipeline.quiet = quiet
        if !quiet {
            pipeline.onSelection = { FileHandle.standardError.write(Data((FeatureListing.render($0, layer: nil) + "\n").utf8)) }
        }
        let result = try pipeline.execute()
        if json { return try printResultsJSON(result.variants, run: directory, candidates: result.candidates) }
        printResults(result.variants)
        print("report: \(directory.reportHTML.path)")
    }
}
