import Foundation
import Tensors
import WeightFiles

/// A sparse autoencoder read from a released file: what it is (site, sizes, architecture), a batched
/// encoder, and its decoder rows on demand.
///
/// Encoding takes f32 rows and gives f32 codes whatever the storage dtype, through one GEMM with
/// f32 accumulation. An encoder-only load keeps W_enc (memory-mapped where the file stores it
/// uncompressed) and the small vectors; decoder rows are then read from the file when asked for.
public final class SparseAutoencoder: @unchecked Sendable {
    /// The file or folder the SAE was read from.
    public let path: String
    public let format: SAEFormat
    public let architecture: SAEArchitecture
    /// TransformerLens hook name of the site the SAE was trained on (`blocks.12.hook_resid_post`).
    public let hookName: String
    public let layer: Int
    public let dIn: Int
    public let dSAE: Int
    /// Storage dtype of the encoder weight in the file.
    public let dtype: DType
    public let normalization: SAEInputNormalization
    public let appliesDecoderBiasToInput: Bool
    /// Facts only this SAE's format has, as `summary` shows them (e.g. `llama_scope_semantics`).
    public let formatFacts: [(key: String, value: String)]
    /// How codes are computed, in words, for manifests and `sae-info`.
    public let semantics: String
    public let neuronpediaID: String?
    /// True when the encoder weight is viewed in the mapped file rather than held in memory.
    public let isEncoderMemoryMapped: Bool

    let encoder: SAEEncoder
    let decoder: SAEDecoder

    init(_ parts: SAEParts) {
        path = parts.path
        format = parts.format
        architecture = parts.architecture
        hookName = parts.hookName
        layer = parts.layer
        dIn = parts.encoder.dIn
        dSAE = parts.encoder.dSAE
        dtype = parts.dtype
        normalization = parts.normalization
        appliesDecoderBiasToInput = parts.appliesDecoderBiasToInput
        formatFacts = parts.formatFacts
        semantics = parts.notes.joined(separator: "; ")
        neuronpediaID = parts.neuronpediaID
        isEncoderMemoryMapped = parts.isEncoderMemoryMapped
        encoder = parts.encoder
        decoder = parts.decoder
    }

    /// Loads the SAE at `path`: a Gemma Scope `params.npz`, a SAELens folder, a Llama Scope folder, a
    /// Qwen Scope `layer{L}.sae.pt`,
    /// or a folder holding one SAE per layer (then `layer` chooses; see `SAESet.discover`).
    /// `layer` must agree with the SAE's own layer when the files name one; `width` picks a Gemma
    /// Scope width folder, `l0` a Gemma Scope 2 L0 bucket.
    public static func load(
        path: URL, layer: Int? = nil, width: String? = nil, l0: String? = nil, encoderOnly: Bool = false,
        options: SAELoadOptions = SAELoadOptions()
    ) throws -> SparseAutoencoder {
        let found = try SAESet.discover(path: path, layers: layer.map { [$0] }, width: width, l0: l0)
        guard found.count == 1, let reference = found.values.first else {
            let layers = found.keys.sorted().map(String.init).joined(separator: ", ")
            throw SAEError.ambiguous(path: path.path, reason: "holds SAEs for layers \(layers); choose one with --layer")
        }
        return try load(reference, encoderOnly: encoderOnly, options: options)
    }

    public static func load(
        _ reference: SAEReference, encoderOnly: Bool = false, options: SAELoadOptions = SAELoadOptions()
    ) throws -> SparseAutoencoder {
        let parts: SAEParts
        switch reference.format {
        case .gemmaScope:
            parts = try GemmaScope.load(url: reference.url, layer: reference.layer, encoderOnly: encoderOnly)
        case .gemmaScope2:
            parts = try GemmaScope2.load(folder: reference.url, layer: reference.layer, encoderOnly: encoderOnly)
        case .saeLens:
            parts = try SAELensLoader.load(folder: reference.url, layer: reference.layer, encoderOnly: encoderOnly, options: options)
        case .llamaScope:
            parts = try LlamaScopeLoader.load(folder: reference.url, layer: reference.layer, encoderOnly: encoderOnly, options: options)
        case .qwenScope:
            parts = try QwenScopeLoader.load(file: reference.url, layer: reference.layer, encoderOnly: encoderOnly, options: options)
        }
        try parts.requireFiniteWeights()
        return SparseAutoencoder(parts)
    }

    // MARK: - Encoding

    /// Codes for `rows` input rows: `x` is `[rows, dIn]`, `z` receives `[rows, dSAE]`, both f32 row-major.
    public func encode(_ x: UnsafePointer<Float>, rows: Int, into z: UnsafeMutablePointer<Float>) {
        encoder.encode(x, rows: rows, into: z)
    }

    public func encode(_ x: [Float], rows: Int) -> [Float] {
        precondition(x.count == rows * dIn, "encode: \(x.count) values are not \(rows) rows of \(dIn)")
        var z = [Float](repeating: 0, count: rows * dSAE)
        x.withUnsafeBufferPointer { xp in
            z.withUnsafeMutableBufferPointer { encoder.encode(xp.baseAddress!, rows: rows, into: $0.baseAddress!) }
        }
        return z
    }

    // MARK: - Decoder

    /// Whether the whole decoder is resident (a full load) rather than read from the file on demand.
    public var isDecoderLoaded: Bool { decoder.isLoaded }

    /// The decoder rows of `features`: for each, the vector that a code of 1 adds to the
    /// reconstruction (W_dec row, with any folded scaling and TopK norm rescaling applied).
    /// Only those rows are read.
    public func decoderRows(_ features: [Int]) throws -> [[Float]] {
        let rows = try decoder.rows(features, path: path)
        // A lazily read decoder was not scanned at load; the rows asked for are checked here.
        for (feature, row) in zip(features, rows) {
            try WeightValueCheck.requireFinite(row, name: "W_dec row \(feature)", path: path)
        }
        return rows
    }

    /// b_dec in the units of `decoderRows` (what `decode` adds on top of the rows).
    public var decoderBias: [Float] { decoder.bias }

    /// Bytes of encoder weight this SAE references (mapped or owned).
    public var encoderByteCount: Int { encoder.byteCount }

    // MARK: - Checks

    /// Fails when the SAE cannot read this model's residual stream.
    public func validate(modelHiddenSize: Int, layerCount: Int) throws {
        guard dIn == modelHiddenSize else {
            throw SAEError.modelMismatch(path: path, reason: "d_in \(dIn) but the model's hidden size is \(modelHiddenSize)")
        }
        guard layer >= 0, layer < layerCount else {
            throw SAEError.modelMismatch(path: path, reason: "trained on layer \(layer) but the model has \(layerCount) layers (0…\(layerCount - 1))")
        }
    }

    /// Labelled facts for `sae-info` and run manifests, in display order (snake_case keys).
    public var summary: [(key: String, value: String)] {
        var fields: [(String, String)] = [
            ("path", path),
            ("format", format.rawValue),
            ("architecture", architecture.description),
            ("hook_name", hookName),
            ("layer", String(layer)),
            ("d_in", String(dIn)),
            ("d_sae", String(dSAE)),
            ("dtype", dtype.rawValue),
            ("normalization", normalization.description),
            ("apply_b_dec_to_input", String(appliesDecoderBiasToInput)),
            ("encoder", isEncoderMemoryMapped ? "memory-mapped" : "in memory"),
        ]
        fields += formatFacts.map { ($0.key, $0.value) }
        fields.append(("semantics", semantics))
        if let neuronpediaID { fields.append(("neuronpedia_id", neuronpediaID)) }
        return fields
    }
}
