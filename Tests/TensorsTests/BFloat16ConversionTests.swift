import Foundation
import XCTest
import Tensors

/// f32 ⇄ bf16 conversion on every kernel path against PyTorch's rounding
/// (`scripts/fixtures/kernels_bf16_rounding.py`).
final class BFloat16ConversionTests: XCTestCase {
    private struct Fixture: Decodable {
        let f32Bits: [UInt32]
        let bf16Bits: [UInt16]
        enum CodingKeys: String, CodingKey {
            case f32Bits = "f32_bits"
            case bf16Bits = "bf16_bits"
        }
    }

    private func loadFixture() throws -> Fixture {
        var root = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
            root.deleteLastPathComponent()
        }
        let url = root.appendingPathComponent("Tests/Fixtures/kernels/bf16_rounding.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    private func bits(of tensor: Tensor) -> [UInt16] {
        let p = tensor.rawPointer.assumingMemoryBound(to: UInt16.self)
        return (0..<tensor.count).map { p[$0] }
    }

    func testRoundingMatchesTorchOnEveryPath() throws {
        let fixture = try loadFixture()
        let values = fixture.f32Bits.map { Float(bitPattern: $0) }
        let original = MatMul.kernelPath
        defer { MatMul.useKernelPath(original) }
        for path in MatMul.availableKernelPaths {
            XCTAssertTrue(MatMul.useKernelPath(path))
            // The whole array takes the vector path where there is one; single elements the scalar one.
            let whole = bits(of: Tensor(shape: [values.count], values: values, dtype: .bf16))
            for (i, value) in values.enumerated() {
                let single = bits(of: Tensor(shape: [1], values: [value], dtype: .bf16))[0]
                for (got, how) in [(whole[i], "vector"), (single, "scalar")] {
                    if value.isNaN {
                        XCTAssertTrue(Float(bitPattern: UInt32(got) << 16).isNaN, "\(path) \(how): NaN lost at \(i)")
                    } else {
                        XCTAssertEqual(got, fixture.bf16Bits[i],
                                       "\(path) \(how): f32 bits 0x\(String(fixture.f32Bits[i], radix: 16))")
                    }
                }
            }
        }
    }

    func testWideningIsExactOnEveryPath() throws {
        let fixture = try loadFixture()
        let original = MatMul.kernelPath
        defer { MatMul.useKernelPath(original) }
        for path in MatMul.availableKernelPaths {
            MatMul.useKernelPath(path)
            let tensor = Tensor(zeros: [fixture.bf16Bits.count], dtype: .bf16)
            let p = tensor.rawPointer.assumingMemoryBound(to: UInt16.self)
            for (i, b) in fixture.bf16Bits.enumerated() { p[i] = b }
            let widened = tensor.floats()
            for (i, b) in fixture.bf16Bits.enumerated() {
                XCTAssertEqual(widened[i].bitPattern, UInt32(b) << 16, "\(path) at \(i)")
            }
        }
    }
}
