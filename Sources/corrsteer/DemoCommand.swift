import ArgumentParser
import CorrSteer
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole method on the bundled tiny model, SAEs and task (under 3 s on 2 cores).",
        discussion: HelpText.discussion(
            "A tiny Gemma-2 model ships with corrsteer together with one SAE per layer and a task. One "
                + "SAE feature was planted so that its decoder direction makes the model give the answer the "
                + "task scores as correct; the demo collects, selects and evaluates (S, A, P) without knowing "
                + "which, prints the results table and the selected features, and writes the report.",
            examples: ["corrsteer demo", "corrsteer demo -o demo-run --json -q"]))

    @Option(name: [.customShort("o"), .long], help: "Run directory to write: a new or empty folder, or a previous demo run (replaced if the folder holds nothing else).")
    var out: String = "runs/demo"

    @OptionGroup var precision: PrecisionOption
    @OptionGroup var output: QuietOption

    @Flag(help: "Print the results as one JSON object on stdout (schema in docs/run-directory.md).")
    var json = false

    func run() throws {
        precision.apply(output)
        let quiet = output.quiet
        let bundle = try DemoBundle.installed()
        let directory = RunDirectory(path: out)
        if !quiet { FileHandle.standardError.write(Data("corrsteer demo: \(bundle.manifest.description)\n".utf8)) }
        let started = Date()
        let result = try bundle.execute(into: directory, output: .standardError(quiet: quiet))
        if json { return try printResultsJSON(result.variants, run: directory, candidates: result.candidates) }
        print("Results on the held-out test split:\n")
        printResults(result.variants)
        print("\nSelected feature per layer (Pearson r with the reward over \(result.candidates.samples) training samples):\n")
        print(FeatureListing.render(result.candidates, layer: nil))
        print("\nFinished in \(String(format: "%.1f", Date().timeIntervalSince(started))) s. Report: \(directory.reportHTML.path)")
    }
}
