import XCTest
import Tensors

final class TensorTests: XCTestCase {
    func testBF16RoundTripRoundsToNearestEven() {
        // 1 + 2^-8 lies exactly between two bf16 values; ties go to the even mantissa (1.0).
        let values: [Float] = [1.0, 1.0 + 1.0 / 256, 1.0 + 3.0 / 256, -2.5, 0]
        let t = Tensor(shape: [5], values: values, dtype: .bf16)
        XCTAssertEqual(t.floats(), [1.0, 1.0, 1.0 + 4.0 / 256, -2.5, 0])
    }

    func testLinearMatchesNaiveProductForEveryWeightDtype() {
        let m = 3, n = 37, k = 70
        var rng = SystemRandomNumberGenerator()
        let x = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let wValues = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        for dtype in DType.allCases {
            let w = Tensor(shape: [n, k], values: wValues, dtype: dtype)
            let wide = w.floats()
            var y = [Float](repeating: .nan, count: m * n)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { MatMul.linear(xp.baseAddress!, rows: m, weight: w, into: $0.baseAddress!) }
            }
            for i in 0..<m {
                for j in 0..<n {
                    var ref = 0.0
                    for p in 0..<k { ref += Double(x[i * k + p]) * Double(wide[j * k + p]) }
                    XCTAssertEqual(Double(y[i * n + j]), ref, accuracy: 1e-4, "\(dtype) [\(i),\(j)]")
                }
            }
        }
    }

    func testGemmMatchesNaiveProduct() {
        let m = 4, k = 5, n = 6
        let a = (0..<(m * k)).map { Float($0 % 7) - 3 }
        let b = (0..<(k * n)).map { Float($0 % 5) - 2 }
        var c = [Float](repeating: 0, count: m * n)
        MatMul.gemm(a, b, into: &c, m: m, k: k, n: n)
        for i in 0..<m {
            for j in 0..<n {
                var ref: Float = 0
                for p in 0..<k { ref += a[i * k + p] * b[p * n + j] }
                XCTAssertEqual(c[i * n + j], ref)
            }
        }
    }
}
