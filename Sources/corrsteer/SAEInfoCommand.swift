import ArgumentParser
import Foundation
import SparseAutoencoders

/// `corrsteer sae-info`: what an SAE is (architecture, site, sizes, dtype, semantics).
struct SAEInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sae-info",
        abstract: "Describe an SAE: architecture, site, sizes, dtype and how codes are computed.",
        discussion: """
            For a folder with one SAE per layer, lists which SAE each layer resolves to; add --layer for details.

            Examples:
              corrsteer sae-info --sae SAE
              corrsteer sae-info --sae SAE --layer 2 --json
            """)

    @OptionGroup var sae: SAEOptions

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var output: QuietOption

    @Flag(help: ArgumentHelp("Load every SAE found encoder-only, encode a few rows, and report resident memory.", visibility: .hidden))
    var measureMemory = false

    func run() throws {
        let path = try sae.path()
        if measureMemory {
            let result = try SAEBenchmark.encoderMemory(path: path, layers: sae.layer.map { [$0] }, width: sae.width)
            if json { return try SAEOptions.printJSON(result) }
            let gb = { (bytes: Int) in String(format: "%.2f GB", Double(bytes) / 1e9) }
            print("\(result.saes) SAEs (layers \(result.layers.map(String.init).joined(separator: ","))): encoders \(gb(result.encoderBytes)), decoders in files \(gb(result.decoderBytes))")
            for (label, memory) in [("before", result.before), ("after loading", result.afterLoad), ("after encoding", result.afterEncode)] {
                print("RSS \(label): \(gb(memory.total)) (anonymous \(gb(memory.anonymous)), file-backed \(gb(memory.file)))")
            }
            print(String(format: "load %.2f s, encode %.2f s", result.loadSeconds, result.encodeSeconds))
            return
        }
        let found = try SAESet.discover(path: path, layers: sae.layer.map { [$0] }, width: sae.width, l0: sae.l0)
        if found.count > 1 {
            for (layer, reference) in found.sorted(by: { $0.key < $1.key }) {
                print("layer \(layer): \(reference.format.rawValue) \(reference.url.path)\(reference.note.map { " (\($0))" } ?? "")")
            }
            return
        }
        let model = try sae.load(encoderOnly: true)
        // How the SAE was chosen among several (canonical L0, preferred width, …).
        let chosen = found.values.first?.note
        if json {
            var fields = Dictionary(uniqueKeysWithValues: model.summary.map { ($0.key, $0.value) })
            if let chosen { fields["chosen"] = chosen }
            return try SAEOptions.printJSON(fields)
        }
        for field in model.summary { print("\(field.key): \(field.value)") }
        if let chosen { print("chosen: \(chosen)") }
    }
}
