import CKernels

/// Vectorised exp and tanh in f32. Libm's scalar `tanhf` costs ~20 ns a call, which would dominate a
/// GeGLU layer; these stay within ~2 ulp of libm. Only arithmetic, bit casts and `replacing` are used:
/// the generic SIMD conversions and `clamped`/`rounded` of the standard library are not vectorised.
public enum Exponential {
    public typealias Lanes = SIMD8<Float>
    typealias Bits = SIMD8<UInt32>

    /// eˣ per lane; 0 below −87.34 (where f32 results turn subnormal), +∞ above 88.72, NaN stays NaN.
    @inline(__always)
    public static func exp(_ x: Lanes) -> Lanes {
        let lo = Lanes(repeating: -87.33654), hi = Lanes(repeating: 88.72283)
        let clamped = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        var result = expCore(clamped)
        result = result.replacing(with: Lanes(repeating: 0), where: x .< lo)
        result = result.replacing(with: Lanes(repeating: .infinity), where: x .> hi)
        return result.replacing(with: x, where: x .!= x)
    }

    /// eˣ for x in [−87.34, 88.72]: x = n·ln2 + r with |r| ≤ ln2/2, a degree-7 polynomial for eʳ, then 2ⁿ
    /// from exponent bits. Adding 1.5·2²³ rounds x·log₂e to an integer and leaves it in the low mantissa
    /// bits; 2ⁿ is applied as two factors so that n = −126 and n = 128 stay representable.
    @inline(__always)
    static func expCore(_ x: Lanes) -> Lanes {
        let magic = Lanes(repeating: 12_582_912)
        let shifted = x * 1.44269504088896341 + magic
        let n = shifted - magic
        // ln2 split into a high part exact in f32 and a low correction (Cody–Waite).
        var r = x - n * 0.693145751953125
        r = r - n * 1.428606765330187045e-06
        var p = Lanes(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let k = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let half = k &>> 1
        let s1 = unsafeBitCast((half &+ 127) &<< 23, to: Lanes.self)
        let s2 = unsafeBitCast((k &- half &+ 127) &<< 23, to: Lanes.self)
        return p * s1 * s2
    }

    /// tanh per lane. For |x| < 0.5 an odd Taylor polynomial avoids the cancellation in 1 − 2/(e²ˣ + 1).
    @inline(__always)
    public static func tanh(_ x: Lanes) -> Lanes {
        let bits = unsafeBitCast(x, to: Bits.self)
        let ax = unsafeBitCast(bits & 0x7fff_ffff, to: Lanes.self)
        // Beyond 10, 1 − 2/(e²ˣ + 1) rounds to 1 in f32.
        let ten = Lanes(repeating: 10)
        let e = expCore(2 * ax.replacing(with: ten, where: ax .> ten))
        let large = 1 - 2 / (e + 1)
        let signed = unsafeBitCast(unsafeBitCast(large, to: Bits.self) | (bits & 0x8000_0000), to: Lanes.self)
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
        return signed.replacing(with: small, where: ax .< Lanes(repeating: 0.5)).replacing(with: x, where: x .!= x)
    }

    /// In-place eˣ over `n` floats.
    public static func exp(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        apply(x, count: n) { exp($0) }
    }

    /// In place `x[i] = e^(x[i] − shift)`: `exp(x − shift)`'s bits, at the CPU's full vector width (C).
    public static func exp(_ x: UnsafeMutablePointer<Float>, count n: Int, shiftedBy shift: Float) {
        ck_exp_shifted(x, n, shift)
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
