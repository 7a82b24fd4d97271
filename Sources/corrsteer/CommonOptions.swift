import ArgumentParser
import CorrSteer
import Foundation

/// `-q/--quiet`, accepted by every command so that scripts can pass it uniformly.
struct QuietOption: ParsableArguments {
    @Flag(name: [.customShort("q"), .long], help: "No progress or notes on stderr (warnings and errors still go there).")
    var quiet = false

    /// A note on stderr unless `--quiet`.
    func note(_ line: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

extension CollectionMemoryPlan.Request: ExpressibleByArgument {}

/// `--memory-plan`: how a collection holds its SAE encoders (collect, run).
struct MemoryPlanOption: ParsableArguments {
    @Option(name: .customLong("memory-plan"), help: "How to hold the SAE encoders: auto (resident when model + encoders fit in memory, else streamed), resident, or streamed (one encoder at a time, after each batch). The statistics are the same.")
    var memoryPlan: CollectionMemoryPlan.Request = .auto
}

/// Pieces of help text shared by several commands.
///
/// swift-argument-parser wraps a command's discussion at the terminal width (80 columns when stdout is
/// not a terminal), but never inside a line shorter than that. So every example and table line below is
/// an explicit line of at most 79 characters: it prints, and pastes, as one line. `HelpExamplesTests`
/// runs every example and checks the width.
enum HelpText {
    /// The placeholders of the examples (`HelpExamplesTests` substitutes real paths for them).
    static let placeholders = """
        In examples, MODEL is a model folder (or a Hugging Face id in the local cache),
        SAE an SAE folder, DATA a data folder (docs/tasks.md) and RUN a run directory.
        """

    /// The environment variables a command that runs a model reads.
    static let environment = """
        Environment:
          CORRSTEER_THREADS    threads for matrix products (default: every core)
          CORRSTEER_PRECISION  default of --precision: auto, exact or fast
          HF_HUB_CACHE         Hugging Face cache searched for a model id
          HF_HOME              else HF_HOME/hub, else ~/.cache/huggingface/hub
        """

    /// A discussion: prose (wrapped by the parser), then the examples, then optional extra blocks.
    static func discussion(_ prose: String? = nil, examples: [String], extra: [String] = []) -> String {
        var blocks: [String] = []
        if let prose { blocks.append(prose) }
        blocks.append("Examples:\n" + examples.map { "  " + $0 }.joined(separator: "\n"))
        blocks.append(contentsOf: extra)
        return blocks.joined(separator: "\n\n")
    }
}
