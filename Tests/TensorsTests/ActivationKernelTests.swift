import XCTest
import Tensors

/// The C activation loops against the Swift lane functions they replaced, bit for bit, on every kernel
/// path this CPU runs (the lane functions are checked against their float64 definitions in
/// ModelOpsTests).
final class ActivationKernelTests: KernelPathTestCase {
    /// Random values over every branch plus the branch edges and special values; 1003 of them, so the
    /// vector loops' tails run too.
    private static func inputs() -> [Float] {
        var state: UInt64 = 0x5eed
        var values: [Float] = [
            0, -0, .nan, -.nan, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude,
            .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.5, -0.5, Float(0.5).nextDown, 10, Float(10).nextUp,
            -Float(10).nextUp, 5, -5, 87.33654, -87.33654, Float(-87.33654).nextDown, 88.72283,
            Float(88.72283).nextUp, -Float(88.72283).nextUp, 1e-20,
        ]
        while values.count < 1003 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let unit = Float(state >> 40) / Float(1 << 24)
            let scale: Float = [0.3, 3, 30, 120][Int(state >> 20) & 3]
            values.append((unit * 2 - 1) * scale)
        }
        return values
    }

    private static func lanes(_ values: [Float], _ f: (Exponential.Lanes) -> Exponential.Lanes) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for start in stride(from: 0, to: values.count, by: 8) {
            var lane = Exponential.Lanes()
            for j in 0..<min(8, values.count - start) { lane[j] = values[start + j] }
            let y = f(lane)
            for j in 0..<min(8, values.count - start) { out[start + j] = y[j] }
        }
        return out
    }

    private func assertSameBits(_ got: [Float], _ want: [Float], _ label: String) {
        XCTAssertEqual(got.count, want.count)
        var mismatches = 0
        for (i, (g, w)) in zip(got, want).enumerated() where !(g.isNaN && w.isNaN) && g.bitPattern != w.bitPattern {
            if mismatches < 5 { XCTFail("\(label) [\(i)]: \(g) against \(w)") }
            mismatches += 1
        }
        XCTAssertEqual(mismatches, 0, label)
    }

    func testActivationLoopsEqualTheLaneFunctionsOnEveryPath() {
        let x = Self.inputs()
        let up = x.reversed().map { $0.isFinite ? $0 / 50 : 1 }
        let gelu = zip(Self.lanes(x) { Activations.geluTanh($0) }, up).map { $0 * $1 }
        let silu = zip(Self.lanes(x) { Activations.silu($0) }, up).map { $0 * $1 }
        let capped = Self.lanes(x) { Activations.softcap($0, cap: 30) }
        let shifted = Self.lanes(x) { Exponential.exp($0 - 3.5) }
        for path in MatMul.availableKernelPaths {
            XCTAssertTrue(MatMul.useKernelPath(path))
            for count in [x.count, 7, 16, 17] {
                var g = Array(x[..<count]), s = Array(x[..<count]), c = Array(x[..<count])
                up.withUnsafeBufferPointer { u in
                    g.withUnsafeMutableBufferPointer { Activations.geluTanhGated($0.baseAddress!, up: u.baseAddress!, count: count) }
                    s.withUnsafeMutableBufferPointer { Activations.siluGated($0.baseAddress!, up: u.baseAddress!, count: count) }
                }
                c.withUnsafeMutableBufferPointer { Activations.softcap($0.baseAddress!, count: count, cap: 30) }
                var e = Array(x[..<count])
                e.withUnsafeMutableBufferPointer { Exponential.exp($0.baseAddress!, count: count, shiftedBy: 3.5) }
                assertSameBits(e, Array(shifted[..<count]), "exp shifted \(path) n=\(count)")
                assertSameBits(g, Array(gelu[..<count]), "gelu \(path) n=\(count)")
                assertSameBits(s, Array(silu[..<count]), "silu \(path) n=\(count)")
                assertSameBits(c, Array(capped[..<count]), "softcap \(path) n=\(count)")
            }
        }
    }
}
