import XCTest
import Tensors

/// The greedy screen (`GreedyScreen`) and the column-selected product it relies on, on every kernel path
/// and both precisions: the candidates always hold the argmax of the full product, every row left out
/// is below the threshold, and on ordinary inputs the screen leaves only a few rows.
final class GreedyScreenTests: KernelPathTestCase {
    private struct Normal {
        var state: UInt64
        mutating func unit() -> Double {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            z ^= z >> 31
            return (Double(z >> 11) + 0.5) / Double(1 << 53)
        }
        mutating func next() -> Float { Float((-2 * Foundation.log(unit())).squareRoot() * Foundation.cos(2 * .pi * unit())) }
        mutating func array(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in next() * scale } }
    }

    private func full(_ x: [Float], _ w: Tensor, _ precision: MatMulPrecision) -> [Float] {
        var y = [Float](repeating: 0, count: w.shape[0])
        MatMul.linear(x, rows: 1, weight: w, into: &y, precision: precision)
        return y
    }

    func testSelectedColumnsHaveTheBitsOfTheFullProduct() {
        var rng = Normal(state: 7)
        for path in MatMul.availableKernelPaths {
            XCTAssertTrue(MatMul.useKernelPath(path))
            for (n, k) in [(53, 37), (300, 130), (97, 2304)] {
                let values = rng.array(n * k, scale: 0.05)
                let x = rng.array(k)
                let columns = [0, 1, 5, 16, 17, n / 2, n - 2, n - 1]
                for dtype in [DType.f32, .bf16, .f16] {
                    let w = Tensor(shape: [n, k], values: values, dtype: dtype)
                    for precision in MatMulPrecision.allCases {
                        let all = full(x, w, precision)
                        var picked = [Float](repeating: .nan, count: columns.count)
                        MatMul.linear(x, weight: w, selectedColumns: columns, into: &picked, precision: precision)
                        for (i, c) in columns.enumerated() {
                            XCTAssertEqual(picked[i].bitPattern, all[c].bitPattern,
                                           "\(path) \(dtype) \(precision) [\(n), \(k)] column \(c)")
                        }
                    }
                }
            }
        }
    }

    /// A head with the cases a bound can get wrong: identical rows (a tie, won by the first), a row a
    /// hair above another, a zero row, a row with one outlier (coarse codes), large and tiny rows.
    private func awkwardHead(rows n: Int, depth k: Int, rng: inout Normal) -> [Float] {
        var values = rng.array(n * k, scale: 0.05)
        func row(_ i: Int) -> Range<Int> { i * k..<(i + 1) * k }
        values.replaceSubrange(row(900), with: values[row(7)])
        values.replaceSubrange(row(20), with: values[row(10)].map { $0 * (1 + 1e-6) })
        values.replaceSubrange(row(3), with: repeatElement(0, count: k))
        values[row(4).lowerBound + 5] = 40
        values.replaceSubrange(row(5), with: values[row(5)].map { $0 * 1e4 })
        values.replaceSubrange(row(6), with: values[row(6)].map { $0 * 1e-20 })
        return values
    }

    func testCandidatesHoldTheArgmaxAndNothingThatCannotReachIt() throws {
        var rng = Normal(state: 11)
        let n = 1000, k = 264
        let values = awkwardHead(rows: n, depth: k, rng: &rng)
        for path in MatMul.availableKernelPaths {
            XCTAssertTrue(MatMul.useKernelPath(path))
            for dtype in [DType.bf16, .f32] {
                let w = Tensor(shape: [n, k], values: values, dtype: dtype)
                let screen = try XCTUnwrap(GreedyScreen(weight: w))
                var inputs = (0..<6).map { _ in rng.array(k) }
                inputs.append(Array(values[7 * k..<8 * k]))            // rows 7 and 900 tie for the top
                inputs.append(Array(values[10 * k..<11 * k]))          // rows 10 and 20 nearly tie
                inputs.append(rng.array(k, scale: 1e3))
                inputs.append(rng.array(k, scale: 1e-30))
                inputs.append([Float](repeating: 0, count: k))
                for precision in MatMulPrecision.allCases {
                    var narrow = 0
                    for (t, x) in inputs.enumerated() {
                        let label = "\(path) \(dtype) \(precision) input \(t)"
                        let logits = full(x, w, precision)
                        let found = try XCTUnwrap(screen.candidates(x, ldx: k, count: 1, precision: precision)[0], label)
                        let argmax = logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
                        XCTAssertTrue(found.rows.contains(argmax), label)
                        XCTAssertGreaterThanOrEqual(Double(logits[argmax]), found.threshold, label)
                        let kept = Set(found.rows)
                        for j in 0..<n where !kept.contains(j) {
                            XCTAssertLessThan(Double(logits[j]), found.threshold, "\(label) row \(j)")
                        }
                        XCTAssertEqual(found.rows, found.rows.sorted(), label)
                        if t < 6 && found.rows.count <= 8 { narrow += 1 }
                    }
                    // The screen must also be worth having: on ordinary inputs it leaves a handful of rows.
                    XCTAssertGreaterThanOrEqual(narrow, 5, "\(path) \(dtype) \(precision)")
                    // Rows screened together (more than the four one pass takes) get what each gets alone.
                    let together = screen.candidates(inputs.flatMap { $0 }, ldx: k, count: inputs.count, precision: precision)
                    for (t, x) in inputs.enumerated() {
                        let alone = screen.candidates(x, ldx: k, count: 1, precision: precision)[0]
                        XCTAssertEqual(together[t]?.rows, alone?.rows, "\(path) \(dtype) \(precision) input \(t)")
                        XCTAssertEqual(together[t]?.threshold, alone?.threshold, "\(path) \(dtype) \(precision) input \(t)")
                    }
                }
            }
        }
    }

    /// `OutputHead` lets a soft-capped winner stand only 16 ulps of the cap clear of the capped threshold,
    /// which holds if capping never drops by more than that as its input rises.
    func testSoftCappingIsMonotoneWithinEightUlpsOfTheCap() {
        var rng = Normal(state: 17)
        for cap: Float in [30, 50] {
            var xs = (0..<200_000).map { _ in rng.next() * cap * 2 }
            xs += (0..<20_000).map { Float($0) * 1e-4 }
            xs.sort()
            var ys = xs
            Activations.softcap(&ys, count: ys.count, cap: cap)
            var highest = -Float.infinity, worstDrop: Float = 0
            for y in ys {
                worstDrop = max(worstDrop, highest - y)
                highest = max(highest, y)
            }
            XCTAssertLessThanOrEqual(worstDrop, 8 * cap.ulp, "cap \(cap)")
        }
    }

    func testNonFiniteInputsAreLeftToTheFullHead() throws {
        var rng = Normal(state: 3)
        let w = Tensor(shape: [64, 32], values: rng.array(64 * 32), dtype: .bf16)
        let screen = try XCTUnwrap(GreedyScreen(weight: w))
        var x = rng.array(2 * 32)
        x[40] = .nan
        let found = screen.candidates(x, ldx: 32, count: 2)
        XCTAssertNotNil(found[0])
        XCTAssertNil(found[1])
    }

    func testRowsWithNonFiniteWeightsAreAlwaysCandidates() throws {
        var rng = Normal(state: 5)
        var values = rng.array(64 * 32)
        values[9 * 32 + 3] = .infinity
        values[30 * 32] = .nan
        let w = Tensor(shape: [64, 32], values: values, dtype: .f32)
        let found = try XCTUnwrap(GreedyScreen(weight: w)?.candidates(rng.array(32), ldx: 32, count: 1, precision: .exact)[0])
        XCTAssertTrue(found.rows.contains(9))
        XCTAssertTrue(found.rows.contains(30))
    }
}
