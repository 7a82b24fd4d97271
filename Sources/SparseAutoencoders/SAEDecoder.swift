import Tensors
import WeightFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where decoder rows come from, and the factors that turn a stored row into the vector that a
/// code of 1 adds to the reconstruction (so `c · row` is what decoding feature i at value c adds).
struct SAEDecoder {
    enum Source {
        /// `[d_sae, d_in]` (SAELens and Gemma Scope `W_dec`), mapped or in memory.
        case rows(Tensor)
        /// `[d_in, d_sae]` (Llama Scope `decoder.weight`, nn.Linear layout), mapped.
        case columns(Tensor)
        /// A deflated `.npz` member that is not held in memory: rows are streamed out on request.
        case npzMember(NpzArchive, name: String)
    }

    let source: Source
    let dIn: Int
    let dSAE: Int
    /// 1/s for folded dataset normalisation, else 1.
    let scale: Float
    /// 1/‖W_dec,i‖ per feature for TopK SAEs that rank by decoder-scaled values, else nil.
    let featureScales: [Float]?
    /// b_dec in the same units as the rows.
    let bias: [Float]
    /// Whether the whole decoder is resident (a full load), rather than read on demand.
    let isLoaded: Bool

    func rows(_ features: [Int], path: String) throws -> [[Float]] {
        if let bad = features.first(where: { $0 < 0 || $0 >= dSAE }) {
            throw SAEError.featureOutOfRange(path: path, feature: bad, count: dSAE)
        }
        var rows: [[Float]]
        switch source {
        case let .rows(tensor):
            rows = features.map { tensor.row($0) }
        case let .columns(tensor):
            rows = features.map { feature in (0..<dIn).map { tensor.element(at: $0 * dSAE + feature) } }
        case let .npzMember(archive, name):
            rows = try archive.rows(name, features)
        }
        for (slot, feature) in features.enumerated() {
            let factor = scale * (featureScales?[feature] ?? 1)
            if factor != 1 { rows[slot] = rows[slot].map { $0 * factor } }
        }
        return rows
    }
}

/// Euclidean norms of decoder rows, accumulated in f64.
enum DecoderNorms {
    /// Norms of the rows of a `[d_sae, d_in]` tensor.
    static func ofRows(_ w: Tensor) -> [Float] {
        let (count, width) = (w.shape[0], w.shape[1])
        var norms = [Float](repeating: 0, count: count)
        norms.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            Parallel.forEachChunk(count, grain: 64) { range in
                var buffer = [Float](repeating: 0, count: width)
                buffer.withUnsafeMutableBufferPointer { b in
                    for r in range {
                        w.copyFloats(range: r * width..<(r + 1) * width, into: b.baseAddress!)
                        var sum = 0.0
                        for v in b { sum += Double(v) * Double(v) }
                        out[r] = Float(sum.squareRoot())
                    }
                }
            }
        }
        return norms
    }

    /// Norms of the columns of a `[d_in, d_sae]` tensor (the rows of its transpose).
    static func ofColumns(_ w: Tensor) -> [Float] {
        let (height, count) = (w.shape[0], w.shape[1])
        var sums = [Double](repeating: 0, count: count)
        sums.withUnsafeMutableBufferPointer { sums in
            let sums = sums.baseAddress!
            Parallel.forEachChunk(count, grain: 256) { columns in
                var buffer = [Float](repeating: 0, count: columns.count)
                buffer.withUnsafeMutableBufferPointer { b in
                    for r in 0..<height {
                        w.copyFloats(range: r * count + columns.lowerBound..<r * count + columns.upperBound, into: b.baseAddress!)
                        for (i, v) in b.enumerated() { sums[columns.lowerBound + i] += Double(v) * Double(v) }
                    }
                }
            }
        }
        return sums.map { Float($0.squareRoot()) }
    }
}

/// Drops the pages of a memory-mapped tensor from this process's resident set once it has been
/// read through (decoder norms), so an encoder-only SAE does not keep its decoder in memory.
/// Only for file-backed, never-written mappings: their pages are simply re-read if touched again.
enum MappedPages {
    static func release(_ tensor: Tensor) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: tensor.rawPointer)
        let first = (start + page - 1) / page * page
        let last = (start + tensor.byteCount) / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, Int32(MADV_DONTNEED))
    }
}

extension Tensor {
    /// One element widened to f32.
    func element(at index: Int) -> Float {
        var value: Float = 0
        copyFloats(range: index..<index + 1, into: &value)
        return value
    }
}
