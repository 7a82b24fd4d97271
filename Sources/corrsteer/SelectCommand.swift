import ArgumentParser
import CorrSteer

struct SelectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Stage 2: rank features per layer and write features.json and the S and A plans.",
        discussion: "Example: corrsteer select runs/mmlu --top-k 20 --score corr")

    @Argument(help: "Run directory of a finished collection.")
    var directory: String

    @OptionGroup var selection: SelectionArguments
    @OptionGroup var weightChecks: WeightCheckOptions

    func run() throws {
        var stage = SelectionRun(run: RunDirectory(path: directory), options: selection.options)
        stage.decoderBias = selection.decode
        let candidates = try stage.execute()
        print(FeatureListing.render(candidates, layer: nil))
    }
}
