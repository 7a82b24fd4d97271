import XCTest
import Tensors

/// Every kernel path this CPU can run (portable C up to AVX-512 BF16) against a float64 product of the
/// same inputs, on awkward sizes: rows 1…13 and beyond, ragged column counts, K not a multiple of the
/// vector width, strided inputs and outputs, and column sub-ranges.
final class MatMulKernelTests: KernelPathTestCase {
    private struct SplitMix {
        var state: UInt64
        mutating func next() -> Float {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            z ^= z >> 31
            return Float(Double(z >> 11) / Double(1 << 53)) * 2 - 1
        }
        mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
    }

    /// Activations as the `.fast` product sees them (the rounding itself is checked against torch in
    /// BFloat16ConversionTests).
    private static func roundedToBF16(_ values: [Float]) -> [Float] {
        Tensor(shape: [values.count], values: values, dtype: .bf16).floats()
    }

    private let rowCounts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 25, 40]
    private let shapes: [(n: Int, k: Int)] = [(1, 1), (7, 31), (33, 7), (65, 33), (100, 17), (37, 513), (130, 260)]

    /// Checks `got[i, j]` against Σ_k x[i, k]·w[j, k] in float64, relative to Σ|x·w| (the scale of the
    /// rounding error of any summation order).
    private func assertProduct(
        _ got: [Float], ldy: Int, rows m: Int, columns: Range<Int>, k: Int,
        x: (Int, Int) -> Double, w: (Int, Int) -> Double, _ label: String
    ) {
        var worst = 0.0
        for i in 0..<m {
            for j in columns {
                var ref = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let term = x(i, p) * w(j, p)
                    ref += term
                    magnitude += abs(term)
                }
                let err = abs(Double(got[i * ldy + j]) - ref) / (magnitude + 1e-30)
                worst = max(worst, err)
            }
        }
        XCTAssertLessThan(worst, 2e-6, label)
    }

    func testLinearEveryPathDtypeAndShape() {
        var rng = SplitMix(state: 42)
        for path in MatMul.availableKernelPaths {
            XCTAssertTrue(MatMul.useKernelPath(path))
            for (n, k) in shapes {
                let ldx = k + 3, ldy = n + 5
                let wValues = rng.array(n * k)
                for m in rowCounts where n * k < 10_000 || [1, 8, 13, 40].contains(m) {
                    let x = rng.array(m * ldx)
                    let xRounded = Self.roundedToBF16(x)
                    for dtype in DType.allCases {
                        let w = Tensor(shape: [n, k], values: wValues, dtype: dtype)
                        let wide = w.floats()
                        for precision in MatMulPrecision.allCases where precision == .exact || dtype == .bf16 {
                            let sentinel: Float = -12345
                            var y = [Float](repeating: sentinel, count: m * ldy)
                            x.withUnsafeBufferPointer { xp in
                                y.withUnsafeMutableBufferPointer { yp in
                                    MatMul.linear(xp.baseAddress!, ldx: ldx, rows: m, weight: w, columns: 0..<n,
                                                  into: yp.baseAddress!, ldy: ldy, precision: precision)
                                }
                            }
                            let activation: (Int, Int) -> Double = precision == .fast
                                ? { i, p in Double(xRounded[i * ldx + p]) }
                                : { i, p in Double(x[i * ldx + p]) }
                            assertProduct(y, ldy: ldy, rows: m, columns: 0..<n, k: k, x: activation,
                                          w: { j, p in Double(wide[j * k + p]) },
                                          "\(path) \(dtype) \(precision) m=\(m) n=\(n) k=\(k)")
                            for i in 0..<m {
                                for j in n..<ldy where y[i * ldy + j] != sentinel {
                                    XCTFail("\(path) \(dtype) wrote past column \(n) at row \(i)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func testLinearColumnSubrangeLeavesOtherColumnsAlone() {
        var rng = SplitMix(state: 7)
        let n = 97, k = 45, m = 11
        let w = Tensor(shape: [n, k], values: rng.array(n * k), dtype: .bf16)
        let wide = w.floats()
        let x = rng.array(m * k)
        let xRounded = Self.roundedToBF16(x)
        for path in MatMul.availableKernelPaths {
            MatMul.useKernelPath(path)
            for precision in MatMulPrecision.allCases {
                for columns in [3..<40, 33..<97, 0..<1] {
                    var y = [Float](repeating: .nan, count: m * n)
                    x.withUnsafeBufferPointer { xp in
                        y.withUnsafeMutableBufferPointer { yp in
                            MatMul.linear(xp.baseAddress!, ldx: k, rows: m, weight: w, columns: columns,
                                          into: yp.baseAddress!, ldy: n, precision: precision)
                        }
                    }
                    let activation: (Int, Int) -> Double = precision == .fast
                        ? { i, p in Double(xRounded[i * k + p]) }
                        : { i, p in Double(x[i * k + p]) }
                    assertProduct(y, ldy: n, rows: m, columns: columns, k: k, x: activation,
                                  w: { j, p in Double(wide[j * k + p]) }, "\(path) \(precision) \(columns)")
                    for i in 0..<m {
                        for j in 0..<n where !columns.contains(j) {
                            XCTAssertTrue(y[i * n + j].isNaN, "\(path) wrote outside \(columns) at [\(i), \(j)]")
                        }
                    }
                }
            }
        }
    }

    func testLinearLargeEnoughToSplitAcrossThreads() {
        var rng = SplitMix(state: 99)
        let n = 1000, k = 300, m = 20
        let w = Tensor(shape: [n, k], values: rng.array(n * k), dtype: .bf16)
        let wide = w.floats()
        let x = rng.array(m * k)
        for path in MatMul.availableKernelPaths {
            MatMul.useKernelPath(path)
            var y = [Float](repeating: .nan, count: m * n)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { MatMul.linear(xp.baseAddress!, rows: m, weight: w, into: $0.baseAddress!) }
            }
            assertProduct(y, ldy: n, rows: m, columns: 0..<n, k: k, x: { i, p in Double(x[i * k + p]) },
                          w: { j, p in Double(wide[j * k + p]) }, "\(path) threaded")
        }
    }

    /// A row's result must not depend on which other rows share the call (batch invariance): the
    /// streaming kernel (few rows) and the blocked one (many) share one arithmetic. Bitwise, for row
    /// counts on both sides of every blocking boundary, on every path and precision, with K spanning
    /// several k chunks and a ragged tail, and with K = 2048, whose 4 KB weight rows the bf16 GEMM reads
    /// from a copy.
    func testRowResultsDoNotDependOnTheOtherRows() {
        for k in [2500, 2048] { assertRowIndependence(k: k) }
    }

    private func assertRowIndependence(k: Int) {
        var rng = SplitMix(state: 5)
        let n = 70, rows = 40
        let w = Tensor(shape: [n, k], values: rng.array(n * k), dtype: .bf16)
        let x = rng.array(rows * k)
        for path in MatMul.availableKernelPaths {
            MatMul.useKernelPath(path)
            for precision in MatMulPrecision.allCases {
                func product(rows m: Int, from first: Int) -> [Float] {
                    var y = [Float](repeating: .nan, count: m * n)
                    x.withUnsafeBufferPointer { xp in
                        y.withUnsafeMutableBufferPointer {
                            MatMul.linear(xp.baseAddress! + first * k, rows: m, weight: w, into: $0.baseAddress!, precision: precision)
                        }
                    }
                    return y
                }
                let alone = (0..<rows).map { product(rows: 1, from: $0) }
                for m in [2, 3, 4, 5, 8, 9, 12, 13, 25, 40] {
                    for first in Set([0, rows - m]) {
                        let y = product(rows: m, from: first)
                        for r in 0..<m where Array(y[(r * n)..<((r + 1) * n)]) != alone[first + r] {
                            XCTFail("\(path) \(precision), K = \(k): row \(first + r) differs in a call of \(m) rows")
                        }
                    }
                }
            }
        }
    }

    func testLinearWithEmptyInnerDimensionWritesZeros() {
        let w = Tensor(zeros: [5, 0], dtype: .bf16)
        for path in MatMul.availableKernelPaths {
            MatMul.useKernelPath(path)
            for precision in MatMulPrecision.allCases {
                var y = [Float](repeating: .nan, count: 3 * 5)
                let x: [Float] = [0]
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer {
                        MatMul.linear(xp.baseAddress!, ldx: 0, rows: 3, weight: w, columns: 0..<5,
                                      into: $0.baseAddress!, ldy: 5, precision: precision)
                    }
                }
                XCTAssertEqual(y, [Float](repeating: 0, count: 15), "\(path) \(precision)")
            }
        }
    }

    func testGemmEveryPathAndShape() {
        var rng = SplitMix(state: 3)
        for path in MatMul.availableKernelPaths {
            XCTAssertTrue(MatMul.useKernelPath(path))
            for (n, k) in shapes + [(300, 64)] {
                let b = rng.array(k * n)
                for m in rowCounts {
                    let a = rng.array(m * k)
                    var c = [Float](repeating: .nan, count: m * n)
                    MatMul.gemm(a, b, into: &c, m: m, k: k, n: n)
                    assertProduct(c, ldy: n, rows: m, columns: 0..<n, k: k,
                                  x: { i, p in Double(a[i * k + p]) }, w: { j, p in Double(b[p * n + j]) },
                                  "\(path) gemm m=\(m) n=\(n) k=\(k)")
                }
            }
        }
    }

    func testGemmStridedColumnRange() {
        var rng = SplitMix(state: 11)
        let m = 14, k = 70, n = 90, lda = 75, ldb = 100, ldc = 95
        let a = rng.array(m * lda), b = rng.array(k * ldb)
        for path in MatMul.availableKernelPaths {
            MatMul.useKernelPath(path)
            var c = [Float](repeating: .nan, count: m * ldc)
            let columns = 5..<n
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer {
                        MatMul.gemm(ap.baseAddress!, lda: lda, bp.baseAddress!, ldb: ldb, into: $0.baseAddress!,
                                    ldc: ldc, m: m, k: k, columns: columns)
                    }
                }
            }
            assertProduct(c, ldy: ldc, rows: m, columns: columns, k: k,
                          x: { i, p in Double(a[i * lda + p]) }, w: { j, p in Double(b[p * ldb + j]) }, "\(path) strided gemm")
            for i in 0..<m {
                for j in 0..<ldc where !columns.contains(j) {
                    XCTAssertTrue(c[i * ldc + j].isNaN, "\(path) gemm wrote outside \(columns) at [\(i), \(j)]")
                }
            }
        }
    }

    func testUnknownOrUnsupportedKernelPathIsRefused() {
        XCTAssertFalse(MatMul.useKernelPath("sse9"))
        XCTAssertTrue(MatMul.availableKernelPaths.contains("portable"))
        XCTAssertEqual(MatMul.availableKernelPaths.last, MatMul.detectedKernelPath)
    }
}

/// The several-products form of `linear` (q, k, v; gate, up) against one `linear` call per product.
final class SharedInputProductTests: XCTestCase {
    func testSharedInputProductsEqualOneCallEach() {
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        let k = 300
        // Widths not multiples of the 32-column panel, and enough columns to be split over the cores.
        let weights = [97, 33, 1200].map { n in Tensor(shape: [n, k], values: (0..<n * k).map { _ in next() }, dtype: .bf16) }
        for precision in MatMulPrecision.allCases {
            for m in [1, 3, 9, 40] {
                let x = (0..<m * k).map { _ in next() }
                let together = weights.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: m * $0.shape[0]) }
                let alone = weights.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: m * $0.shape[0]) }
                defer { (together + alone).forEach { $0.deallocate() } }
                (together + alone).forEach { $0.initialize(repeating: .nan) }
                x.withUnsafeBufferPointer { xp in
                    MatMul.linear(xp.baseAddress!, rows: m, weights: weights, into: together.map { $0.baseAddress! },
                                  precision: precision)
                    for i in weights.indices {
                        MatMul.linear(xp.baseAddress!, rows: m, weight: weights[i], into: alone[i].baseAddress!, precision: precision)
                    }
                }
                for i in weights.indices {
                    let differing = zip(together[i], alone[i]).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "\(precision) m=\(m) product \(i): outputs that differ")
                }
            }
        }
    }
}
