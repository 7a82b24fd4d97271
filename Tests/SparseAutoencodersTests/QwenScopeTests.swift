import Foundation
import SparseAutoencoders
import XCTest

/// Qwen Scope `layer{L}.sae.pt` files (scripts/fixtures/sae_qwen_scope.py): codes against the SAELens
/// TopK formulas in float64 (cross-checked there with SAELens' own `qwen_scope` loader), discovery, and
/// broken repositories.
final class QwenScopeTests: XCTestCase {
    private static let repository = "qwen_scope/SAE-Res-Qwen3-Tiny-Base-W256-L0_8"

    private func checkParity(_ sae: SparseAutoencoder, expected name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try SAEFixtures.Expected(name)
        XCTAssertEqual(sae.dIn, 64, file: file, line: line)
        XCTAssertEqual(sae.dSAE, 256, file: file, line: line)
        let z = sae.encode(expected.x, rows: expected.rows)
        assertClose(z, expected.z, "\(name) codes", file: file, line: line)
        for r in 0..<expected.rows {
            let active = z[r * 256..<(r + 1) * 256].filter { $0 != 0 }.count
            XCTAssertLessThanOrEqual(active, 8, "\(name) row \(r) has more than k codes", file: file, line: line)
        }
        let rows = try sae.decoderRows(expected.rowsIndex)
        for (i, row) in rows.enumerated() {
            assertClose(row, expected.decoderRows[i], tolerance: 1e-6, "\(name) decoder row \(expected.rowsIndex[i])", file: file, line: line)
        }
        assertClose(sae.decoderBias, expected.decoderBias, tolerance: 1e-6, "\(name) decoder bias", file: file, line: line)
    }

    func testFloat32LayerMatchesSAELens() throws {
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url("\(Self.repository)/layer0.sae.pt"))
        try checkParity(sae, expected: "qwen_scope_L0")
        XCTAssertEqual(sae.format, .qwenScope)
        XCTAssertEqual(sae.architecture, .topK(k: 8, rescalesByDecoderNorm: false))
        XCTAssertEqual(sae.hookName, "blocks.0.hook_resid_post")
        XCTAssertFalse(sae.appliesDecoderBiasToInput)
        XCTAssertEqual(sae.normalization, .none)
    }

    func testBFloat16LayerWithNegativeTopKValuesMatchesSAELens() throws {
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url(Self.repository), layer: 1)
        try checkParity(sae, expected: "qwen_scope_L1_bf16")
        XCTAssertEqual(sae.dtype, .bf16)
        let encoderOnly = try SparseAutoencoder.load(path: SAEFixtures.url(Self.repository), layer: 1, encoderOnly: true)
        try checkParity(encoderOnly, expected: "qwen_scope_L1_bf16")
    }

    func testRepositoryDiscoveryAndSummary() throws {
        let found = try SAESet.discover(path: SAEFixtures.url(Self.repository))
        XCTAssertEqual(found.keys.sorted(), [0, 1])
        XCTAssertEqual(found[1]?.url.lastPathComponent, "layer1.sae.pt")
        XCTAssertEqual(found[0]?.format, .qwenScope)
        assertThrows(["no SAE for layer 5", "0, 1"]) { _ = try SAESet.discover(path: SAEFixtures.url(Self.repository), layers: [5]) }
        assertThrows(["layer 0", "not the requested layer 1"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("\(Self.repository)/layer0.sae.pt"), layer: 1)
        }
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url(Self.repository), layer: 0, encoderOnly: true)
        let summary = Dictionary(uniqueKeysWithValues: sae.summary.map { ($0.key, $0.value) })
        XCTAssertEqual(summary["format"], "qwen-scope")
        XCTAssertEqual(summary["architecture"], "topk (k = 8)")
        XCTAssertEqual(summary["k_source"], "from L0_8 in the path")
    }

    func testKFromTheOptionsOverridesThePath() throws {
        let sae = try SparseAutoencoder.load(
            path: SAEFixtures.url(Self.repository), layer: 0, options: SAELoadOptions(topK: 3))
        XCTAssertEqual(sae.architecture, .topK(k: 3, rescalesByDecoderNorm: false))
        let z = sae.encode(try SAEFixtures.Expected("qwen_scope_L0").x, rows: 12)
        XCTAssertTrue((0..<12).allSatisfy { r in z[r * 256..<(r + 1) * 256].filter { $0 != 0 }.count <= 3 })
    }

    func testBrokenRepositories() {
        let bad = "qwen_scope/bad"
        assertThrows(["no-k-in-path/layer3.sae.pt", "'k'", "do not store k"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("\(bad)/no-k-in-path"), layer: 3)
        }
        assertThrows(["missing-b_dec-L0_2/layer3.sae.pt", "'b_dec' not found"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("\(bad)/missing-b_dec-L0_2"), layer: 3)
        }
        assertThrows(["k-too-big-L0_9/layer3.sae.pt", "k = 9", "1…8"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("\(bad)/k-too-big-L0_9"), layer: 3)
        }
        assertThrows(["W_dec-not-transposed-L0_2/layer3.sae.pt", "'W_dec'", "[8, 4]", "[4, 8]"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("\(bad)/W_dec-not-transposed-L0_2"), layer: 3)
        }
        // A hostile pickle under a Qwen Scope name is refused before anything is built.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("qwen-\(UUID().uuidString)-L0_2")
        defer { try? FileManager.default.removeItem(at: copy) }
        assertThrows(["layer0.sae.pt", "'os.system'", "not allowed"]) {
            try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
            let evil = SAEFixtures.root.deletingLastPathComponent().appendingPathComponent("torch_pt/bad/os_system.pt")
            try FileManager.default.copyItem(at: evil, to: copy.appendingPathComponent("layer0.sae.pt"))
            _ = try SparseAutoencoder.load(path: copy, layer: 0)
        }
    }
}
