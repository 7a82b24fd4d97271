import CKernels

/// Gated feed-forward activations and logit soft-capping, in place on f32 buffers. The loops are C
/// (CKernels/activations.c) at the CPU's full vector width, with the arithmetic of the lane functions
/// below, bit for bit; Swift's own SIMD8 code runs as SSE pairs on baseline x86-64 and cost 3 % of a
/// Gemma-2 prefill.
public enum Activations {
    /// `gate[i] = gelu_tanh(gate[i]) · up[i]` (GeGLU, as `gelu_pytorch_tanh`):
    /// gelu_tanh(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    public static func geluTanhGated(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        Parallel.forEachChunk(n, grain: 4096) { range in
            ck_gelu_tanh_gated(gate + range.lowerBound, up + range.lowerBound, range.count)
        }
    }

    /// `gate[i] = silu(gate[i]) · up[i]` (SwiGLU): silu(x) = x / (1 + e⁻ˣ).
    public static func siluGated(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        Parallel.forEachChunk(n, grain: 4096) { range in
            ck_silu_gated(gate + range.lowerBound, up + range.lowerBound, range.count)
        }
    }

    /// `x[i] = cap · tanh(x[i] / cap)`.
    public static func softcap(_ x: UnsafeMutablePointer<Float>, count n: Int, cap: Float) {
        ck_softcap(x, n, cap)
    }

    /// One lane of each activation in Swift: the definition the C loops reproduce (tests hold them equal).
    public static func geluTanh(_ x: Exponential.Lanes) -> Exponential.Lanes {
        // 0.5·x·(1 + tanh u) written as x / (1 + e^(−2u)) (see activations.c).
        let inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        return x / (1 + Exponential.exp(-2 * inner))
    }

    public static func silu(_ x: Exponential.Lanes) -> Exponential.Lanes { x / (1 + Exponential.exp(-x)) }

    public static func softcap(_ x: Exponential.Lanes, cap: Float) -> Exponential.Lanes {
        cap * Exponential.tanh(x * (1 / cap))
    }
}
