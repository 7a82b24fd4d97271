import Tensors
import WeightFiles

/// Everything a loader resolves from a release's files, before it becomes a `SparseAutoencoder`.
struct SAEParts {
    var path: String
    var format: SAEFormat
    var architecture: SAEArchitecture
    var hookName: String
    var layer: Int
    var dtype: DType
    var normalization: SAEInputNormalization
    var appliesDecoderBiasToInput: Bool
    /// Facts only one format has (which threshold rule a Llama Scope release follows), shown by
    /// `sae-info`; what the encoder computes is already in `encoder`.
    var formatFacts: [(key: String, value: String)] = []
    var notes: [String]
    var neuronpediaID: String?
    var isEncoderMemoryMapped: Bool
    var encoder: SAEEncoder
    var decoder: SAEDecoder
}

extension SAEParts {
    /// Every weight the SAE holds in memory or maps, scanned for NaN/±Inf (see `WeightValueCheck`).
    /// Decoder rows read lazily from the file are checked when they are read.
    func requireFiniteWeights() throws {
        guard !WeightValueCheck.allowsNonFinite else { return }
        try WeightValueCheck.requireFinite(encoder.weight.tensor, name: "W_enc", path: path)
        var vectors: [(String, [Float])] = []
        switch encoder.activation {
        case let .relu(bias): vectors.append(("b_enc", bias))
        case let .jumpReLU(bias, thresholds): vectors += [("b_enc", bias), ("threshold", thresholds)]
        case let .topK(bias, _, scales): vectors += [("b_enc", bias), ("decoder norms", scales ?? [])]
        case let .gated(gateBias, magnitudeScale, magnitudeBias):
            vectors += [("b_gate", gateBias), ("r_mag", magnitudeScale), ("b_mag", magnitudeBias)]
        }
        vectors += [("b_dec (input shift)", encoder.inputShift ?? []), ("b_dec", decoder.bias),
                    ("decoder scales", decoder.featureScales ?? [])]
        for (name, values) in vectors { try WeightValueCheck.requireFinite(values, name: name, path: path) }
        switch decoder.source {
        case let .rows(tensor), let .columns(tensor):
            if decoder.isLoaded { try WeightValueCheck.requireFinite(tensor, name: "W_dec", path: path) }
        case .npzMember:
            break
        }
    }
}

/// Shape checks and layout conversions the loaders share.
enum SAEWeights {
    static func check(_ tensor: Tensor, _ name: String, is expected: [Int], path: String) throws {
        guard tensor.shape == expected else {
            throw SAEError.shapeMismatch(path: path, tensor: name, expected: expected, actual: tensor.shape)
        }
    }

    static func checkFinite(_ values: [Float], _ name: String, path: String) throws {
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw SAEError.invalidConfig(path: path, field: name, reason: "element \(bad) is \(values[bad])")
        }
    }

    /// An input-major `[d_in, d_sae]` encoder in the layout the product wants: f32 is used as it is
    /// (one GEMM, possibly straight from the mapped file); f16/bf16 is transposed once into the
    /// `[d_sae, d_in]` layout that the half-precision kernels read, keeping its dtype and size.
    static func encoderWeight(inputMajor w: Tensor) -> EncoderWeight {
        if w.dtype == .f32 { return .inputMajor(w) }
        return .featureMajor(transposed(w))
    }

    /// A copy of a rank-2 tensor with its axes swapped, same dtype.
    static func transposed(_ w: Tensor) -> Tensor {
        let (rows, columns) = (w.shape[0], w.shape[1])
        let out = Tensor(zeros: [columns, rows], dtype: w.dtype)
        let size = w.dtype.byteSize
        let src = w.rawPointer, dst = out.rawPointer
        let block = 64
        Parallel.forEachChunk(columns, grain: block) { range in
            var c0 = range.lowerBound
            while c0 < range.upperBound {
                let c1 = min(c0 + block, range.upperBound)
                var r0 = 0
                while r0 < rows {
                    let r1 = min(r0 + block, rows)
                    for r in r0..<r1 {
                        for c in c0..<c1 {
                            let from = (r * columns + c) * size, to = (c * rows + r) * size
                            if size == 2 {
                                dst.storeBytes(of: src.loadUnaligned(fromByteOffset: from, as: UInt16.self), toByteOffset: to, as: UInt16.self)
                            } else {
                                dst.storeBytes(of: src.loadUnaligned(fromByteOffset: from, as: UInt32.self), toByteOffset: to, as: UInt32.self)
                            }
                        }
                    }
                    r0 = r1
                }
                c0 = c1
            }
        }
        return out
    }
}

/// The layer number in a TransformerLens hook name such as `blocks.12.hook_resid_post`.
func layerOfHookName(_ hook: String) -> Int? {
    let parts = hook.split(separator: ".")
    guard parts.count >= 3, parts[0] == "blocks" else { return nil }
    return Int(parts[1])
}

/// The layer of the SAE at `path`: the one its files name (`found`), which must be the one asked for
/// when one is; else the one asked for.
func resolvedLayer(found: Int?, requested: Int?, path: String) throws -> Int {
    switch (found, requested) {
    case let (found?, wanted?) where found != wanted:
        throw SAEError.layerMismatch(path: path, found: found, requested: wanted)
    case let (found?, _): return found
    case let (nil, wanted?): return wanted
    case (nil, nil): throw SAEError.unknownLayer(path: path)
    }
}
