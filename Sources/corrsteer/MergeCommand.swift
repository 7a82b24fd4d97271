import ArgumentParser
import CorrSteer
import Foundation

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Sum the statistics of shard runs (`collect --shard i/N`) into one run.",
        discussion: "Example: corrsteer merge runs/mmlu-shard0 runs/mmlu-shard1 --out runs/mmlu")

    @Argument(help: "Finished shard run directories.")
    var runs: [String]

    @Option(help: "Run directory to create.")
    var out: String

    func run() throws {
        let warnings = try MergeRun.execute(shards: runs.map { RunDirectory(path: $0) }, into: RunDirectory(path: out))
        for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        print("merged \(runs.count) runs → \(out)")
    }
}
