import ArgumentParser
import CorrSteer
import Foundation

/// `corrsteer features`: the selected feature of every layer, or one layer's candidates, from features.json.
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Show the selected feature of each layer, or one layer's ranked candidates (from features.json).",
        discussion: HelpText.discussion(
            examples: ["corrsteer features RUN", "corrsteer features RUN --layer 2", "corrsteer features RUN --json"]))

    @Argument(help: "Run directory (or a features.json file).")
    var path: String

    @Option(help: "Show this layer's ranked candidates (negative ones too when selected with --polarity negative or both).")
    var layer: Int?

    @OptionGroup var output: QuietOption

    func validate() throws {
        if let layer, layer < 0 { throw ValidationError("--layer must not be negative, got \(layer)") }
    }

    @Flag(help: "Print features.json (or the layer's entry) as JSON instead of a table.")
    var json = false

    func run() throws {
        var url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            url = RunDirectory(url).features
        }
        let candidates = try FeatureCandidates.load(from: url)
        if let layer, candidates.layer(layer) == nil {
            let known = candidates.layers.map { String($0.layer) }.joined(separator: ", ")
            throw RunError.invalidSetting("--layer \(layer): \(url.path) has layers \(known)")
        }
        if json {
            let encoder = RunFileCoding.encoder()
            let data = try layer.flatMap { candidates.layer($0) }.map { try encoder.encode($0) } ?? encoder.encode(candidates)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(FeatureListing.render(candidates, layer: layer))
        }
    }
}
