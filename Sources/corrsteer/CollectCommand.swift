import ArgumentParser
import CorrSteer
import Foundation

struct CollectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Stage 1: generate on the train split and correlate every SAE feature with the reward.",
        discussion: """
            Writes manifest.json, collection.jsonl and stats/ into --out. A killed run continues with \
            --resume; --shard i/N collects one slice for a cluster (combine with `corrsteer merge`).
            Example:
              corrsteer collect --model google/gemma-2-2b-it --sae ~/gemma-scope-2b-pt-res \\
                --task mmlu --data ~/data --samples 4000 --out runs/mmlu
            """)

    @OptionGroup var collection: CollectionArguments
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(help: "Run directory to create (or to continue with --resume).")
    var out: String

    @Option(help: "Collect only slice i of N of the train split, for example 0/8.")
    var shard: String?

    @Flag(help: "Continue a run that was interrupted.")
    var resume = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Option(name: .customLong("dump-pooled"), help: ArgumentHelp("Also write every sample's pooled activations and reward to this safetensors file, for checking the statistics with numpy (grows with the samples: for small runs; format in docs/run-directory.md)."))
    var dumpPooled: String?

    func run() throws {
        var configuration = try collection.configuration()
        configuration.shard = try shard.map { try ShardSpec(parsing: $0) }
        var stage = CollectionRun(configuration: configuration, run: RunDirectory(path: out))
        stage.resume = resume
        stage.quiet = quiet
        stage.dumpPooled = dumpPooled.map { URL(fileURLWithPath: $0) }
        let summary = try stage.execute()
        for warning in summary.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let accuracy = String(format: "%.1f", 100 * summary.successes / Double(max(summary.samples, 1)))
        print("collected \(summary.samples) samples (\(accuracy)% correct) in \(String(format: "%.1f", summary.seconds)) s → \(out)")
    }
}
