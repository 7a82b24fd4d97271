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
        let configuration = try collection.configuration()
        let context = try ModelContext.load(configuration.model)
        var collect = CollectionRun(configuration: configuration, run: directory)
        collect.resume = resume
        collect.quiet = quiet
        _ = try collect.execute(context: context)
        var select = SelectionRun(run: directory, options: selection.options)
        select.decoderBias = selection.decode
        let candidates = try select.execute()
        if !quiet { FileHandle.standardError.write(Data((FeatureListing.render(candidates, layer: nil) + "\n").utf8)) }
        var evaluate = EvaluationRun(run: directory, options: try evaluation.options())
        evaluate.quiet = quiet
        let results = try evaluate.execute(context: context)
        try RunReport.write(try RunReport.load(runDirectory: directory), to: directory)
        if json { return try printResultsJSON(results, run: directory, candidates: candidates) }
        printResults(results)
        print("report: \(directory.reportHTML.path)")
    }
}
