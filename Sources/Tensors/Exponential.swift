/// Vectorised exp and tanh in f32. Libm's scalar `tanhf` costs ~20 ns a call, which would dominate a
/// GeGLU layer; these stay within a few ulp of libm on the inputs models produce.
public enum Exponential {
    public typealias Lanes = SIMD8<Float>

    /// eˣ per lane: x = n·ln2 + r with |r| ≤ ln2/2, a degree-7 polynomial for eʳ, then 2ⁿ by exponent bits.
    @inline(__always)
    public static func exp(_ x: Lanes) -> Lanes {
        // Beyond these bounds the result is 0 or +∞ in f32.
        let clamped = x.clamped(lowerBound: Lanes(repeating: -104), upperBound: Lanes(repeating: 89))
        let log2e: Float = 1.44269504088896341
        let n = (clamped * log2e).rounded(.toNearestOrEven)
        // ln2 split in a high part exact in f32 and a low correction (Cody–Waite).
        var r = clamped - n * 0.693145751953125
        r = r - n * 1.428606765330187045e-06
        var p = Lanes(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2ⁿ as two factors so that n down to −150 (subnormal results) and up to 128 stay representable.
        let ni = SIMD8<Int32>(n)
        let half = ni &>> 1
        let rest = ni &- half
        let s1 = unsafeBitCast((half &+ 127) &<< 23, to: Lanes.self)
        let s2 = unsafeBitCast((rest &+ 127) &<< 23, to: Lanes.self)
        var result = p * s1 * s2
        result.replace(with: Lanes(repeating: 0), where: x .< -104)
        result.replace(with: Lanes(repeating: .infinity), where: x .> 89)
        result.replace(with: x, where: x .!= x)  // NaN stays NaN
        return result
    }

    /// tanh per lane. For |x| < 0.5 an odd Taylor polynomial avoids the cancellation in 1 − 2/(e²ˣ + 1).
    @inline(__always)
    public static func tanh(_ x: Lanes) -> Lanes {
        let ax = magnitude(x)
        let e = exp(2 * ax.clamped(lowerBound: Lanes(repeating: 0), upperBound: Lanes(repeating: 20)))
        var large = 1 - 2 / (e + 1)
        large.replace(with: -large, where: x .< 0)
        // tanh x = x + x³·q(x²), series to x¹⁵: truncation error < 5e-9 for |x| < 0.5.
        let x2 = x * x
        var q = Lanes(repeating: Float(-929569.0 / 638512875.0 as Double))
        q = q * x2 + 21844.0 / 6081075
        q = q * x2 - 1382.0 / 155925
        q = q * x2 + 62.0 / 2835
        q = q * x2 - 17.0 / 315
        q = q * x2 + 2.0 / 15
        q = q * x2 - 1.0 / 3
        let small = x + x * x2 * q
        var result = large
        result.replace(with: small, where: ax .< 0.5)
        result.replace(with: x, where: x .!= x)
        return result
    }

    @inline(__always)
    static func magnitude(_ x: Lanes) -> Lanes {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: Lanes.self)
    }

    /// In-place eˣ over `n` floats.
    public static func exp(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        apply(x, count: n) { exp($0) }
    }

    /// In-place tanh over `n` floats.
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        apply(x, count: n) { tanh($0) }
    }

    /// Applies a lane function to whole groups of 8 and to a zero-padded tail.
    @inline(__always)
    static func apply(_ x: UnsafeMutablePointer<Float>, count n: Int, _ f: (Lanes) -> Lanes) {
        var i = 0
        while i + 8 <= n {
            VectorMath.store(f(VectorMath.load(x + i)), x + i)
            i += 8
        }
        if i < n {
            var tail = Lanes()
            for j in 0..<(n - i) { tail[j] = x[i + j] }
            let y = f(tail)
            for j in 0..<(n - i) { x[i + j] = y[j] }
        }
    }
}
