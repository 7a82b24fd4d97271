/// Gated feed-forward activations and logit soft-capping, in place on f32 buffers.
public enum Activations {
    /// `gate[i] = gelu_tanh(gate[i]) · up[i]` (GeGLU, as `gelu_pytorch_tanh`):
    /// gelu_tanh(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    public static func geluTanhGated(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        gated(gate, up: up, count: n) { x in
            let inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + Exponential.tanh(inner))
        }
    }

    /// `gate[i] = silu(gate[i]) · up[i]` (SwiGLU): silu(x) = x / (1 + e⁻ˣ).
    public static func siluGated(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        gated(gate, up: up, count: n) { x in x / (1 + Exponential.exp(-x)) }
    }

    /// `x[i] = cap · tanh(x[i] / cap)`.
    public static func softcap(_ x: UnsafeMutablePointer<Float>, count n: Int, cap: Float) {
        let inverse = 1 / cap
        Exponential.apply(x, count: n) { v in cap * Exponential.tanh(v * inverse) }
    }

    @inline(__always)
    static func gated(
        _ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int,
        _ f: (SIMD8<Float>) -> SIMD8<Float>
    ) {
        Parallel.forEachChunk(n, grain: 4096) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                VectorMath.store(f(VectorMath.load(gate + i)) * VectorMath.load(up + i), gate + i)
                i += 8
            }
            while i < range.upperBound {
                var lane = SIMD8<Float>()
                lane[0] = gate[i]
                gate[i] = f(lane)[0] * up[i]
                i += 1
            }
        }
    }
}
