import CKernels
#if canImport(COpenBLAS)
import COpenBLAS
#elseif canImport(Accelerate)
import Accelerate
#endif

/// Matrix products on f32 activations.
public enum MatMul {
    /// `y[M, N] = x[M, K] · wᵀ` with `w` stored `[N, K]` in any dtype (the nn.Linear layout).
    /// Work is split over output columns so each core streams its own slice of the weight once.
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, weight w: Tensor,
        into y: UnsafeMutablePointer<Float>
    ) {
        precondition(w.rank == 2, "linear weight must be rank 2, got \(w.shape)")
        let n = w.shape[0], k = w.shape[1]
        linear(x, ldx: k, rows: m, weight: w, columns: 0..<n, into: y, ldy: n)
    }

    /// Strided form of `linear`, restricted to output columns `columns`.
    public static func linear(
        _ x: UnsafePointer<Float>, ldx: Int, rows m: Int, weight w: Tensor, columns: Range<Int>,
        into y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        guard m > 0, !columns.isEmpty else { return }
        let k = w.shape[1]
        let base = w.rawPointer
        let grain = 16
        Parallel.forEachChunk(columns.count, grain: grain) { chunk in
            let n0 = columns.lowerBound + chunk.lowerBound
            let n1 = columns.lowerBound + chunk.upperBound
            switch w.dtype {
            case .f32:
                ck_linear_f32w(x, ldx, base.assumingMemoryBound(to: Float.self), k, y, ldy, m, k, n0, n1)
            case .bf16:
                ck_linear_bf16w(x, ldx, base.assumingMemoryBound(to: UInt16.self), k, y, ldy, m, k, n0, n1)
            case .f16:
                ck_linear_f16w(x, ldx, base.assumingMemoryBound(to: UInt16.self), k, y, ldy, m, k, n0, n1)
            }
        }
    }

    /// `c[M, N] = a[M, K] · b[K, N]`, all f32 and row-major (for example SAE encoding `x · W_enc`).
    public static func gemm(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int
    ) {
        guard m > 0, n > 0 else { return }
        #if canImport(COpenBLAS) || canImport(Accelerate)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, c, Int32(n))
        #else
        for i in 0..<m {
            for j in 0..<n { c[i * n + j] = 0 }
            for p in 0..<k {
                let av = a[i * k + p]
                for j in 0..<n { c[i * n + j] += av * b[p * n + j] }
            }
        }
        #endif
    }

    /// Which SIMD path the linear kernels use on this CPU.
    public static var kernelPath: String { String(cString: ck_kernel_path()) }
}
