/// Small f32 vector primitives used by the model ops. Eight lanes at a time so that the reductions
/// vectorise (Swift does not reassociate scalar float sums on its own).
public enum VectorMath {
    public typealias Lanes = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }

    /// Σ a[i]·b[i].
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
        var acc0 = Lanes(), acc1 = Lanes()
        var i = 0
        while i + 16 <= n {
            acc0 += load(a + i) * load(b + i)
            acc1 += load(a + i + 8) * load(b + i + 8)
            i += 16
        }
        if i + 8 <= n {
            acc0 += load(a + i) * load(b + i)
            i += 8
        }
        var sum = (acc0 + acc1).sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// y[i] += alpha·x[i].
    @inline(__always)
    public static func addScaled(_ x: UnsafePointer<Float>, _ alpha: Float, into y: UnsafeMutablePointer<Float>, count n: Int) {
        let a = Lanes(repeating: alpha)
        var i = 0
        while i + 8 <= n {
            store(load(y + i) + a * load(x + i), y + i)
            i += 8
        }
        while i < n {
            y[i] += alpha * x[i]
            i += 1
        }
    }

    /// y[i] += x[i].
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + 8 <= n {
            store(load(y + i) + load(x + i), y + i)
            i += 8
        }
        while i < n {
            y[i] += x[i]
            i += 1
        }
    }

    /// x[i] *= alpha.
    @inline(__always)
    public static func scale(_ x: UnsafeMutablePointer<Float>, by alpha: Float, count n: Int) {
        let a = Lanes(repeating: alpha)
        var i = 0
        while i + 8 <= n {
            store(load(x + i) * a, x + i)
            i += 8
        }
        while i < n {
            x[i] *= alpha
            i += 1
        }
    }

    /// Σ x[i]².
    @inline(__always)
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        dot(x, x, count: n)
    }

    /// max x[i] (−∞ when empty).
    @inline(__always)
    public static func maximum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        var m = -Float.infinity
        var i = 0
        if n >= 8 {
            var lanes = load(x)
            i = 8
            while i + 8 <= n {
                let next = load(x + i)
                lanes = lanes.replacing(with: next, where: next .> lanes)
                i += 8
            }
            m = lanes.max()
        }
        while i < n {
            m = Swift.max(m, x[i])
            i += 1
        }
        return m
    }
}
