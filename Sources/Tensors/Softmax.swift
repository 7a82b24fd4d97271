/// Numerically stable softmax over a vector, in place.
public enum Softmax {
    /// `x[i] = e^(x[i] − max) / Σ e^(x[j] − max)`; returns the normaliser Σ e^(x[j] − max).
    @discardableResult
    public static func apply(_ x: UnsafeMutablePointer<Float>, count n: Int) -> Float {
        guard n > 0 else { return 0 }
        let m = VectorMath.maximum(x, count: n)
        Exponential.exp(x, count: n, shiftedBy: m)
        var total: Float = 0
        var i = 0
        var acc = SIMD8<Float>()
        while i + 8 <= n {
            acc += VectorMath.load(x + i)
            i += 8
        }
        total = acc.sum()
        while i < n {
            total += x[i]
            i += 1
        }
        VectorMath.scale(x, by: 1 / total, count: n)
        return total
    }
}
