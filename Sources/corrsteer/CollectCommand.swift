import ArgumentParser
import CorrSteer
import Foundation

struct CollectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Stage 1: generate on the train split and correlate every SAE feature with the reward.",
        discussion: HelpText.discussion(
            "Writes manifest.json, collection.jsonl and stats/ into --out. A killed run continues with "
                + "--resume; --shard i/N collects one slice for a cluster (combine with `corrsteer merge`).",
            examples: [
                "corrsteer collect -m MODEL --sae SAE --task xstest --data DATA -o runs/xs",
                "corrsteer collect -m MODEL --raw --task xstest --data DATA --shard 0/2 -o s0",
            ],
            extra: [HelpText.environment]))

    @OptionGroup var collection: CollectionArguments
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(name: [.customShort("o"), .long], help: "Run directory to create (or to continue with --resume).")
    var out: String

    @Option(help: "Collect only slice i of N of the train split, for example 0/8.")
    var shard: ShardArgument?

    @Flag(help: "Continue a run that was interrupted.")
    var resume = false

    @OptionGroup var precision: PrecisionOption
    @OptionGroup var memory: MemoryPlanOption
    @OptionGroup var output: QuietOption

    @Option(name: .customLong("dump-pooled"), help: ArgumentHelp("Also write every sample's pooled activations and reward to this safetensors file, for checking the statistics with numpy (grows with the samples: for small runs; format in docs/run-directory.md)."))
    var dumpPooled: String?

    func run() throws {
        precision.apply(output)
        var configuration = try collection.configuration()
        configuration.shard = shard?.spec
        var stage = CollectionRun(configuration: configuration, run: RunDirectory(path: out))
        stage.resume = resume
        stage.output = .standardError(quiet: output.quiet)
        stage.dumpPooled = dumpPooled.map { URL(fileURLWithPath: $0) }
        stage.memoryPlan = memory.memoryPlan
        stage.onMemoryPlan = { output.note($0.summary) }
        let summary = try stage.execute()
        // Warnings say the statistics may be meaningless, so --quiet does not silence them.
        for warning in summary.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let accuracy = String(format: "%.1f", 100 * summary.successes / Double(max(summary.samples, 1)))
        print("collected \(summary.samples) samples (\(accuracy)% correct) in \(String(format: "%.1f", summary.seconds)) s → \(out)")
    }
}

/// `--shard i/N`, checked while the command line is parsed.
struct ShardArgument: ExpressibleByArgument {
    let spec: ShardSpec

    init?(argument: String) {
        guard let spec = try? ShardSpec(parsing: argument) else { return nil }
        self.spec = spec
    }

    var defaultValueDescription: String { spec.description }
}
