/// Root-mean-square layer normalisation over the rows of a matrix.
public enum RMSNorm {
    /// `y[r] = x[r] / √(mean(x[r]²) + ε) · scale`, in f32. `scale` is the effective per-channel factor:
    /// Gemma-2 stores w and multiplies by (1 + w), Llama multiplies by w; callers fold that in once.
    /// `x` and `y` may be the same buffer.
    public static func apply(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, scale: UnsafePointer<Float>, epsilon: Float,
        into y: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachChunk(rows, grain: max(1, 4096 / max(width, 1))) { range in
            for r in range {
                let src = x + r * width
                let dst = y + r * width
                let meanSquare = VectorMath.sumOfSquares(src, count: width) / Float(width)
                let inverse = 1 / (meanSquare + epsilon).squareRoot()
                for i in 0..<width { dst[i] = src[i] * inverse * scale[i] }
            }
        }
    }
}
