import ArgumentParser
import CorrSteer
import Foundation

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Sum the statistics of shard runs (`collect --shard i/N`) into one run.",
        discussion: HelpText.discussion(
            "The shards must be finished collections of the same experiment (`collect --shard i/N`).",
            examples: ["corrsteer merge SHARD0 SHARD1 -o merged"]))

    @Argument(help: "Finished shard run directories.")
    var runs: [String]

    @Option(name: [.customShort("o"), .long], help: "Run directory to create.")
    var out: String

    @OptionGroup var output: QuietOption

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("give the shard run directories to merge") }
    }

    func run() throws {
        let warnings = try MergeRun.execute(shards: runs.map { RunDirectory(path: $0) }, into: RunDirectory(path: out))
        for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        print("merged \(runs.count) runs → \(out)")
    }
}
