import Foundation
import SparseAutoencoders
import WeightFiles
import XCTest

/// NaN/±Inf SAE weights are reported at load, naming the file and tensor (issue 21), unless the
/// user asks for them with `--allow-nonfinite`.
final class SAENonFiniteTests: XCTestCase {
    private let storedNpz = "gemma_scope/stored/layer_3/width_16k/average_l0_59/params.npz"

    override func tearDown() {
        WeightValueCheck.allowsNonFinite = false
    }

    /// A copy of the stored Gemma Scope fixture with element `index` of `member` set to `value`.
    private func poisoned(_ scratch: ScratchDirectory, member: String, index: Int, value: Float) throws -> URL {
        let url = try scratch.copy(storedNpz, as: "\(member)-\(index)/layer_3/params.npz")
        let header = try NpzArchive(url: url).info(member).header
        let entry = try ZipArchive(file: MappedFile(path: url.path)).entry(named: member + ".npy")!
        var bytes = [UInt8](try Data(contentsOf: url))
        let at = entry.dataOffset + header.byteCount + 4 * index
        bytes.replaceSubrange(at..<at + 4, with: withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) })
        try Data(bytes).write(to: url)
        return url
    }

    func testNonFiniteWeightsAreNamed() throws {
        let scratch = try ScratchDirectory()
        let encoder = try poisoned(scratch, member: "W_enc", index: 5, value: .nan)
        assertThrows([encoder.path, "W_enc", "element 5", "nan", "--allow-nonfinite"]) {
            _ = try SparseAutoencoder.load(path: encoder, encoderOnly: true)
        }
        let bias = try poisoned(scratch, member: "b_dec", index: 2, value: -.infinity)
        assertThrows([bias.path, "b_dec", "element 2", "-inf"]) { _ = try SparseAutoencoder.load(path: bias) }
        let decoder = try poisoned(scratch, member: "W_dec", index: 0, value: .infinity)
        assertThrows([decoder.path, "W_dec", "inf"]) { _ = try SparseAutoencoder.load(path: decoder) }
        // Encoder-only loads leave the decoder in the file: its rows are checked when read.
        let lazy = try SparseAutoencoder.load(path: decoder, encoderOnly: true)
        assertThrows([decoder.path, "W_dec row 0", "inf"]) { _ = try lazy.decoderRows([0]) }
        XCTAssertNoThrow(try lazy.decoderRows([1]))

        WeightValueCheck.allowsNonFinite = true
        XCTAssertNoThrow(try SparseAutoencoder.load(path: encoder))
    }
}
