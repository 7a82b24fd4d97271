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
            Example:
              corrsteer sae-encode --sae ~/gemma-scope-2b-pt-res --layer 12 --in x.safetensors --out z.safetensors
            """)

    @OptionGroup var sae: SAEOptions

    @Option(name: .customLong("in"), help: "safetensors file holding the rows to encode.")
    var input: String?

    @Option(help: "Name of the input tensor.")
    var tensor: String = "x"

    @Option(help: "safetensors file to write (tensor z).")
    var out: String?

    @Flag(help: ArgumentHelp("Benchmark: encode vs a plain f32 GEMM of the Gemma Scope 16k shape, random weights.", visibility: .hidden))
    var bench = false

    @Option(help: ArgumentHelp("Benchmark rows per call.", visibility: .hidden))
    var benchRows: Int = 64

    @Flag(help: ArgumentHelp("Benchmark output as JSON.", visibility: .hidden))
    var json = false

    func run() throws {
        if bench {
            let result = SAEBenchmark.encodeVersusGEMM(rows: benchRows)
            if json { return try SAEOptions.printJSON(result) }
            print(String(format: "%d × %d encoder, %d rows, %d threads: GEMM %.1f GFLOP/s (%.2f ms); encode %.1f GFLOP/s (%.2f ms) = %.1f%% of GEMM; unaligned (npz-like) encoder %.1f GFLOP/s = %.1f%%",
                         result.dIn, result.dSAE, result.rows, result.threads, result.gemmGFLOPS, result.gemmSeconds * 1e3,
                         result.encodeGFLOPS, result.encodeSeconds * 1e3, 100 * result.ratio,
                         result.encodeUnalignedGFLOPS, 100 * result.unalignedRatio))
            return
        }
        guard let input, let out else { throw ValidationError("--in and --out are required") }
        let model = try sae.load(encoderOnly: true)
        let rows = try model.encodeFile(input: URL(fileURLWithPath: input), tensor: tensor, output: URL(fileURLWithPath: out))
        print("encoded \(rows) rows with \(model.path) (layer \(model.layer), \(model.dSAE) features) → \(out)")
    }
}

/// How to find and read the SAE (shared by `sae-encode` and `sae-info`).
struct SAEOptions: ParsableArguments {
    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(help: "SAE file or folder.")
    var sae: String?

    @Option(help: "Layer whose SAE to use when --sae holds several.")
    var layer: Int?

    @Option(help: "Gemma Scope width folder to use (16k by default when present).")
    var width: String?

    @Option(help: "Scaling factor for a SAELens expected_average_only_in SAE that does not carry one.")
    var normScalingFactor: Float?

    @Flag(help: "Llama Scope: the SAELens 5.x threshold (not rescaled by the dataset norm), as the CorrSteer reference used.")
    var saelens5Threshold = false

    var options: SAELoadOptions {
        SAELoadOptions(normScalingFactor: normScalingFactor, llamaScopeUsesSAELens5Threshold: saelens5Threshold)
    }

    func path() throws -> URL {
        guard let sae else { throw ValidationError("--sae is required") }
        return URL(fileURLWithPath: sae)
    }

    /// One JSON object on stdout, snake_case keys.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    func load(encoderOnly: Bool) throws -> SparseAutoencoder {
        try SparseAutoencoder.load(path: path(), layer: layer, width: width, encoderOnly: encoderOnly, options: options)
    }
}
