import ArgumentParser
import Foundation
import SparseAutoencoders

/// `corrsteer sae-encode`: codes of an SAE for rows stored in a safetensors file.
struct SAEEncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sae-encode",
        abstract: "Encode rows with an SAE: tensor x [N, d_in] in, z [N, d_sae] (f32) out.",
        discussion: """
            --sae takes a Gemma Scope params.npz, a SAELens folder (cfg.json + sae_weights.safetensors), a \
            Llama Scope folder (hyperparams.json + checkpoints/final.safetensors), or a folder with one SAE \
            per layer (then --layer chooses).

            Examples:
              corrsteer sae-encode --sae SAE --layer 2 --in x.safetensors -o z.safetensors
              corrsteer sae-encode --sae SAE/layer_2 --in x.safetensors -o z.safetensors
            """)

    @OptionGroup var sae: SAEOptions

    @Option(name: .customLong("in"), help: "safetensors file holding the rows to encode.")
    var input: String

    @Option(help: "Name of the input tensor.")
    var tensor: String = "x"

    @Option(name: [.customShort("o"), .long], help: "safetensors file to write (tensor z).")
    var out: String

    @OptionGroup var output: QuietOption

    func run() throws {
        let model = try sae.load(encoderOnly: true)
        let rows = try model.encodeFile(input: URL(fileURLWithPath: input), tensor: tensor, output: URL(fileURLWithPath: out))
        print("encoded \(rows) rows with \(model.path) (layer \(model.layer), \(model.dSAE) features) → \(out)")
    }
}

/// How to find and read the SAE (shared by `sae-encode` and `sae-info`).
struct SAEOptions: ParsableArguments {
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(help: "SAE file or folder.")
    var sae: String

    @Option(help: "Layer whose SAE to use when --sae holds several.")
    var layer: Int?

    @Option(help: "Gemma Scope (2) width to use (16k by default when present).")
    var width: String?

    @Option(help: "Gemma Scope 2 L0 bucket to use: small, medium or big (medium by default when present).")
    var l0: String?

    @Option(help: "Scaling factor for a SAELens expected_average_only_in SAE that does not carry one.")
    var normScalingFactor: Float?

    @Flag(help: "Llama Scope: the SAELens 5.x threshold (not rescaled by the dataset norm), as the CorrSteer reference used.")
    var saelens5Threshold = false

    @Option(name: .customLong("sae-k"), help: "Qwen Scope: k of the TopK (the files do not store it; by default the L0_K in the repository folder's name).")
    var topK: Int?

    var options: SAELoadOptions {
        SAELoadOptions(normScalingFactor: normScalingFactor, llamaScopeUsesSAELens5Threshold: saelens5Threshold, topK: topK)
    }

    func path() throws -> URL { URL(fileURLWithPath: sae) }

    func validate() throws {
        if let layer, layer < 0 { throw ValidationError("--layer must not be negative, got \(layer)") }
        if let topK, topK < 1 { throw ValidationError("--sae-k must be at least 1, got \(topK)") }
    }

    /// One JSON object on stdout, snake_case keys.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    func load(encoderOnly: Bool) throws -> SparseAutoencoder {
        try SparseAutoencoder.load(path: path(), layer: layer, width: width, l0: l0, encoderOnly: encoderOnly, options: options)
    }
}
