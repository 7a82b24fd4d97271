import Foundation
import Tensors
import XCTest

/// The vectorised f32 ops the models use, against libm in double precision.
final class ModelOpsTests: XCTestCase {
    private var generator = SystemRandomNumberGenerator()

    func testExpIsWithinAFewUlpOfLibm() {
        let xs = (0..<50_000).map { _ in Float.random(in: -87...88, using: &generator) } + [0, -0.0, 1, -1, 88.7, -87.3]
        var ys = xs
        ys.withUnsafeMutableBufferPointer { Exponential.exp($0.baseAddress!, count: $0.count) }
        for (x, y) in zip(xs, ys) {
            let e = Foundation.exp(Double(x))
            XCTAssertLessThanOrEqual(abs(Double(y) - e) / e, 3e-7, "exp(\(x))")
        }
        var special: [Float] = [-.infinity, .infinity, .nan, -200, 200]
        special.withUnsafeMutableBufferPointer { Exponential.exp($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(special[0], 0)
        XCTAssertEqual(special[1], .infinity)
        XCTAssertTrue(special[2].isNaN)
        XCTAssertEqual(special[3], 0)
        XCTAssertEqual(special[4], .infinity)
    }

    func testTanhIsWithinAFewUlpOfLibm() {
        let xs = (0..<50_000).map { i in i % 2 == 0 ? Float.random(in: -12...12, using: &generator) : Float.random(in: -0.7...0.7, using: &generator) }
        var ys = xs
        ys.withUnsafeMutableBufferPointer { Exponential.tanh($0.baseAddress!, count: $0.count) }
        for (x, y) in zip(xs, ys) {
            let t = Foundation.tanh(Double(x))
            XCTAssertLessThanOrEqual(abs(Double(y) - t), 3e-7 * max(abs(t), 1e-30) + 1e-45, "tanh(\(x))")
        }
        var special: [Float] = [-.infinity, .infinity, .nan, 0, 1e-20]
        special.withUnsafeMutableBufferPointer { Exponential.tanh($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(Array(special[0..<2]), [-1, 1])
        XCTAssertTrue(special[2].isNaN)
        XCTAssertEqual(Array(special[3...]), [0, 1e-20])
    }

    func testGatedActivationsMatchTheirDefinitions() {
        let n = 1003  // not a multiple of 8: exercises the tail
        let gate = (0..<n).map { _ in Float.random(in: -8...8, using: &generator) }
        let up = (0..<n).map { _ in Float.random(in: -2...2, using: &generator) }
        var gelu = gate, silu = gate
        up.withUnsafeBufferPointer { u in
            gelu.withUnsafeMutableBufferPointer { Activations.geluTanhGated($0.baseAddress!, up: u.baseAddress!, count: n) }
            silu.withUnsafeMutableBufferPointer { Activations.siluGated($0.baseAddress!, up: u.baseAddress!, count: n) }
        }
        for i in 0..<n {
            let x = Double(gate[i])
            let g = 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) * Double(up[i])
            let s = x / (1 + Foundation.exp(-x)) * Double(up[i])
            XCTAssertEqual(Double(gelu[i]), g, accuracy: 1e-5 * (1 + abs(g)))
            XCTAssertEqual(Double(silu[i]), s, accuracy: 1e-5 * (1 + abs(s)))
        }
    }

    func testSoftmaxAndRMSNorm() {
        var x = (0..<37).map { _ in Float.random(in: -30...30, using: &generator) }
        let original = x.map(Double.init)
        x.withUnsafeMutableBufferPointer { _ = Softmax.apply($0.baseAddress!, count: $0.count) }
        let m = original.max()!
        let z = original.reduce(0) { $0 + Foundation.exp($1 - m) }
        for (p, v) in zip(x, original) { XCTAssertEqual(Double(p), Foundation.exp(v - m) / z, accuracy: 1e-6) }

        let width = 45, rows = 3
        let input = (0..<(width * rows)).map { _ in Float.random(in: -5...5, using: &generator) }
        let scale = (0..<width).map { _ in Float.random(in: 0.5...1.5, using: &generator) }
        var output = [Float](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { i in
            scale.withUnsafeBufferPointer { s in
                output.withUnsafeMutableBufferPointer { RMSNorm.apply(i.baseAddress!, rows: rows, width: width, scale: s.baseAddress!, epsilon: 1e-6, into: $0.baseAddress!) }
            }
        }
        for r in 0..<rows {
            let row = input[(r * width)..<((r + 1) * width)].map(Double.init)
            let inverse = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(width) + 1e-6).squareRoot()
            for c in 0..<width {
                XCTAssertEqual(Double(output[r * width + c]), row[c] * inverse * Double(scale[c]), accuracy: 1e-5)
            }
        }
    }
}
