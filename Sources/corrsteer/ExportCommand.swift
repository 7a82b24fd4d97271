import ArgumentParser
import CorrSteer
import Foundation

extension ControlVectorExport.Format: ExpressibleByArgument {}

/// `corrsteer export`: a plan as a llama.cpp control vector (GGUF) or as safetensors.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a steering plan as a llama.cpp control vector (GGUF) or safetensors.",
        discussion: """
            direction.N is added by llama.cpp to the output of layer N: blocks.L.hook_resid_post becomes \
            direction.L and blocks.L.hook_resid_pre becomes direction.(L-1); layer-0 outputs cannot be exported (--drop-unexportable \
            leaves them out). \
            llama.cpp adds the vectors at every position, prompt included, while corrsteer steers only the \
            generation positions, so results differ. Use with: llama-cli -m MODEL.gguf --control-vector FILE.gguf

            Examples:
              corrsteer export RUN --plan A --drop-unexportable
              corrsteer export RUN --plan S --format safetensors -o S.safetensors
            """)

    @Argument(help: "Run directory.")
    var directory: String

    @Option(help: "Plan name (plans/NAME.json): S, A, P or another.")
    var plan: String = "A"

    @Option(help: "gguf (llama.cpp control vector) or safetensors (the same direction.N tensors).")
    var format: ControlVectorExport.Format = .gguf

    @Option(name: [.customShort("o"), .long], help: "Output file (default: RUN/export/PLAN.gguf or .safetensors).")
    var out: String?

    /// The option's name before 0.x: still accepted, so that scripts keep working, but not shown.
    @Option(name: .customLong("output"), help: ArgumentHelp("Deprecated spelling of --out.", visibility: .hidden))
    var deprecatedOutput: String?

    @OptionGroup var output: QuietOption

    @Option(name: .customLong("model-hint"), help: "controlvector.model_hint (default: the run's model_type).")
    var modelHint: String?

    @Flag(name: .customLong("drop-unexportable"), help: "Leave out vectors llama.cpp cannot hold (the output of layer 0) instead of stopping; they are named on stderr.")
    var dropUnexportable = false

    mutating func validate() throws {
        if let deprecatedOutput {
            guard out == nil else { throw ValidationError("give --out only (--output is its old name)") }
            out = deprecatedOutput
            FileHandle.standardError.write(Data("warning: --output is deprecated; use --out (-o)\n".utf8))
        }
    }

    func run() throws {
        let run = RunDirectory(path: directory)
        let planURL = run.plan(try RunDirectory.plainName(plan, field: "--plan"))
        guard FileManager.default.fileExists(atPath: planURL.path) else {
            let available = ((try? FileManager.default.contentsOfDirectory(atPath: run.plansDirectory.path)) ?? [])
                .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
            throw RunError.invalidSetting(RunMessage("--plan \(plan): \(planURL.path) does not exist"
                + (available.isEmpty ? " (the run has no plans yet: run `corrsteer select` first)" : " (available: \(available.joined(separator: ", ")))")))
        }
        let steering = try SteeringPlan.load(from: planURL)
        let hint = modelHint ?? (try? RunManifest.load(from: run))?.model.modelType ?? steering.model ?? "unknown"
        let url: URL
        var lock: RunLock?
        if let out {
            url = URL(fileURLWithPath: out)
        } else {
            // Written inside the run: one writer at a time, and no link may carry the file elsewhere.
            lock = try RunLock.acquire(run)
            try run.refuseLinks()
            url = run.exportDirectory.appendingPathComponent("\(plan).\(format.rawValue)")
        }
        defer { withExtendedLifetime(lock) {} }
        let unexportable = ControlVectorExport.unexportableSites(in: steering)
        if !unexportable.isEmpty && !dropUnexportable {
            throw RunError.invalidSetting(RunMessage("plan \(plan) has vectors at \(unexportable.joined(separator: ", ")), which llama.cpp cannot hold "
                + "(control vectors act only on the outputs of layers 1 and up; direction.0 is rejected); "
                + "pass --drop-unexportable to export the other vectors without them"))
        }
        let dropped = try ControlVectorExport.write(steering, format: format, modelHint: hint, to: url,
                                                     droppingUnexportable: dropUnexportable)
        let directions = try ControlVectorExport.directions(for: steering, droppingUnexportable: dropUnexportable)
        let layers = directions.map { "direction.\($0.layer)" }
        let exported = steering.entries.filter { !dropped.contains($0.site) }.count
        output.note("exported plan \(plan) (\(exported) vectors) as \(layers.joined(separator: ", ")); llama.cpp applies them at every position")
        // What was left out changes what the file does, so --quiet does not hide it.
        if !dropped.isEmpty {
            FileHandle.standardError.write(Data("dropped (llama.cpp cannot hold them): \(dropped.joined(separator: ", "))\n".utf8))
        }
        print(url.path)
    }
}
