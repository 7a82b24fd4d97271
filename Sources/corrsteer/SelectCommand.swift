import ArgumentParser
import CorrSteer

struct SelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Stage 2: rank features per layer and write features.json and the S and A plans.",
        discussion: HelpText.discussion(
            "Reads the statistics of a finished collection (or merge); prints each layer's selected feature.",
            examples: ["corrsteer select RUN --top-k 20 --score corr",
                       "corrsteer select RUN --polarity both --coefficient diff"]))

    @Argument(help: "Run directory of a finished collection.")
    var directory: String

    @OptionGroup var selection: SelectionArguments
    @OptionGroup var weightChecks: WeightCheckOptions
    @OptionGroup var output: QuietOption

    func run() throws {
        var stage = SelectionRun(run: RunDirectory(path: directory), options: selection.options)
        stage.decoderBias = selection.decode
        let candidates = try stage.execute()
        print(FeatureListing.render(candidates, layer: nil))
    }
}
