import ArgumentParser
import CorrSteer
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole method on the bundled tiny model, SAEs and task (about a minute).",
        discussion: """
            A tiny Gemma-2 model ships with corrsteer together with one SAE per layer and a task. One \
            SAE feature was planted so that its decoder direction makes the model give the answer the \
            task scores as correct; the demo collects, selects and evaluates (S, A, P) without knowing \
            which, prints the results table and the selected features, and writes the report.
            """)

    @Option(help: "Run directory to write: a new or empty folder, or a previous demo run (replaced if the folder holds nothing else).")
    var out: String = "runs/demo"

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "Print the results as one JSON object on stdout (schema in docs/run-directory.md).")
    var json = false

    func run() throws {
        let bundle = try DemoBundle.installed()
        let directory = RunDirectory(path: out)
        // Only a previous demo run is replaced, and only its own files: a folder holding anything
        // else, or another kind of run, is the user's and is never written into.
        try directory.requireWritable(replacingRun: true)
        let lock = try RunLock.acquire(directory, creating: true)
        defer { withExtendedLifetime(lock) {} }
        if directory.exists {
            let previous = try RunManifest.load(from: directory)
            guard previous.configuration.task == "custom",
                  previous.configuration.customTaskFile.map({ URL(fileURLWithPath: $0).lastPathComponent })
                    == bundle.configuration.customTaskFile.map({ URL(fileURLWithPath: $0).lastPathComponent }) else {
                throw ValidationError("\(out) holds a run that is not a demo run; choose another --out")
            }
            try directory.removeRunEntries()
        }
        if !quiet { FileHandle.standardError.write(Data("corrsteer demo: \(bundle.manifest.description)\n".utf8)) }
        let started = Date()
        let context = try ModelContext.load(bundle.configuration.model)
        var collect = CollectionRun(configuration: bundle.configuration, run: directory)
        collect.quiet = quiet
        try collect.execute(context: context)
        let candidates = try SelectionRun(run: directory).execute()
        var evaluate = EvaluationRun(run: directory, options: bundle.evaluationOptions)
        evaluate.quiet = quiet
        let results = try evaluate.execute(context: context)
        try RunReport.write(try RunReport.load(runDirectory: directory), to: directory)

        if json { return try printResultsJSON(results, run: directory, candidates: candidates) }
        print("Results on the held-out test split:\n")
        printResults(results)
        print("\nSelected feature per layer (Pearson r with the reward over \(candidates.samples) training samples):\n")
        print(FeatureListing.render(candidates, layer: nil))
        print("\nFinished in \(String(format: "%.1f", Date().timeIntervalSince(started))) s. Report: \(directory.reportHTML.path)")
    }
}
