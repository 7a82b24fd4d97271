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
    var llamaScopeSemantics: LlamaScopeSemantics?
    var notes: [String]
    var neuronpediaID: String?
    var isEncoderMemoryMapped: Bool
    var encoder: SAEEncoder
    var decoder: SAEDecoder
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
