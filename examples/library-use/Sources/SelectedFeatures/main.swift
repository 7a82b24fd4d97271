// Prints the feature CorrSteer selected at each layer of a run: `swift run SelectedFeatures runs/demo`.
import CorrSteer
import Foundation

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: SelectedFeatures RUN_DIRECTORY\n".utf8))
    exit(64)
}
let run = RunDirectory(URL(fileURLWithPath: CommandLine.arguments[1]))
do {
    let candidates = try FeatureCandidates.load(from: run.features)
    print("\(candidates.samples) samples, \(candidates.successes) correct")
    for layer in candidates.layers {
        if let selected = layer.selected {
            print("layer \(layer.layer): feature \(selected.feature), r = \(String(format: "%.3f", selected.correlation)), coefficient \(String(format: "%.3f", selected.coefficient))")
        } else {
            print("layer \(layer.layer): no positively correlated feature")
        }
    }
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
