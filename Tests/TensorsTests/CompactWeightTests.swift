import XCTest
import Tensors

/// The `.fast` product reads a compact copy of a bf16 weight (12 bits a weight; lines whose high bytes
/// fall outside their group's table kept whole). With identity activations the product hands back every
/// weight, so any weight decoded wrongly shows, however small: each row of `x` picks one k, and
/// 0 + w·1 + 0·… is w exactly. Weights here mix ordinary small values with rows of exponents spread over
/// 200 binades (far more than a table holds: most of their lines are exception lines), on shapes with
/// ragged groups, odd K, a last block of one to three lines, and two pair blocks in the many-row kernel.
final class CompactWeightTests: KernelPathTestCase {
    private static func weights(n: Int, k: Int, seed: UInt64) -> [Float] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        return (0..<(n * k)).map { i in
            let u = Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1
            if (i / k) % 3 == 0 {
                // Normal numbers from 2⁻¹⁰⁰ to 2¹⁰⁰, either sign: no subnormals, which vdpbf16ps reads as 0.
                let exponent = Int(next() % 201) - 100
                return (u < 0 ? -1 : 1) * (1 + abs(u)) * Float(sign: .plus, exponent: exponent, significand: 1)
            }
            return i % 97 == 0 ? u * 300 : u * 0.05
        }
    }

    func testIdentityActivationsGiveBackEveryWeight() throws {
        guard MatMul.availableKernelPaths.contains("avx512bf16") else {
            throw XCTSkip("this CPU has no bf16 dot product; the compact copy is not used")
        }
        MatMul.useKernelPath("avx512bf16")
        for (n, k) in [(37, 45), (16, 8), (50, 14), (33, 600)] {
            let w = Tensor(shape: [n, k], values: Self.weights(n: n, k: k, seed: UInt64(n * 1000 + k)), dtype: .bf16)
            let wide = w.floats()
            var identity = [Float](repeating: 0, count: k * k)
            for i in 0..<k { identity[i * k + i] = 1 }
            // All rows at once (the many-row kernel once k > 8), then runs of 1 and 5 rows (the streaming one),
            // over every column and over a slice starting inside a group.
            for columns in [0..<n, 5..<n] {
                for rowsPerCall in [k, 1, 5] {
                    var y = [Float](repeating: .nan, count: k * n)
                    for first in stride(from: 0, to: k, by: rowsPerCall) {
                        let rows = min(rowsPerCall, k - first)
                        identity.withUnsafeBufferPointer { x in
                            y.withUnsafeMutableBufferPointer { out in
                                MatMul.linear(x.baseAddress! + first * k, ldx: k, rows: rows, weight: w, columns: columns,
                                              into: out.baseAddress! + first * n, ldy: n, precision: .fast)
                            }
                        }
                    }
                    var wrong = 0
                    for m in 0..<k {
                        for j in columns where y[m * n + j] != wide[j * k + m] {
                            if wrong == 0 {
                                XCTFail("\(n)x\(k), \(rowsPerCall) rows a call, columns \(columns): w[\(j), \(m)] = \(wide[j * k + m]) came back as \(y[m * n + j])")
                            }
                            wrong += 1
                        }
                    }
                    XCTAssertEqual(wrong, 0, "\(n)x\(k), \(rowsPerCall) rows a call, columns \(columns): weights decoded wrongly")
                }
            }
        }
    }
}
