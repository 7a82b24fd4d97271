import ArgumentParser
import CorrSteer
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Collect, select and evaluate in one command.",
        discussion: HelpText.discussion(
            "Writes manifest.json, collection.jsonl, stats/, features.json, plans/, eval/ and report.html into "
                + "--out, and first prints how many generations the run needs. A killed run continues with --resume.",
            examples: [
                "corrsteer run -m MODEL --sae SAE --task xstest --data DATA -o runs/xs",
                "corrsteer run -m MODEL --sae SAE --task xstest --data DATA --samples 50 -o x",
                "corrsteer run -m MODEL --raw --task xstest --data DATA --test-limit 40 -o r",
            ],
            extra: [HelpText.environment]))

    @OptionGroup var collection: CollectionArguments
    @OptionGroup var selection: SelectionArguments
    @OptionGroup var evaluation: EvaluationArguments
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(name: [.customShort("o"), .long], help: "Run directory to create (or to continue with --resume).")
    var out: String

    @Flag(help: "Continue a run that was interrupted.")
    var resume = false

    @OptionGroup var precision: PrecisionOption
    @OptionGroup var memory: MemoryPlanOption
    @OptionGroup var output: QuietOption

    @Flag(help: "Print the results as one JSON object on stdout (schema in docs/run-directory.md).")
    var json = false

    func run() throws {
        precision.apply(output)
        let quiet = output.quiet
        let directory = RunDirectory(path: out)
        var pipeline = Pipeline(
            run: directory, collection: try collection.configuration(), selection: selection.options,
            decoderBias: selection.decode, evaluation: try evaluation.options())
        pipeline.resume = resume
        pipeline.output = .standardError(quiet: quiet)
        pipeline.memoryPlan = memory.memoryPlan
        pipeline.onMemoryPlan = { output.note($0.summary) }
        if !quiet, !resume, let plan = try? RunPlan.estimate(collection: pipeline.collection, evaluation: pipeline.evaluation) {
            output.note(plan.summary.rendered(naming: FlagNames.flag))
        }
        if !quiet {
            pipeline.onSelection = { FileHandle.standardError.write(Data((FeatureListing.render($0, layer: nil) + "\n").utf8)) }
        }
        let result = try pipeline.execute()
        if json { return try printResultsJSON(result.variants, run: directory, candidates: result.candidates) }
        printResults(result.variants)
        print("report: \(directory.reportHTML.path)")
    }
}
