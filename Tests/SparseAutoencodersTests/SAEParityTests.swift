import Foundation
import SparseAutoencoders
import Tensors
import XCTest

/// Codes and decoder rows against the float64 SAELens-formula references of scripts/fixtures/sae.py
/// (cross-checked there against sae_lens itself), for every architecture and file format.
final class SAEParityTests: XCTestCase {
    /// Loads the SAE fully and encoder-only; both must reproduce the reference codes and rows.
    @discardableResult
    private func check(
        _ relative: String, expected name: String, layer: Int? = nil, options: SAELoadOptions = SAELoadOptions(),
        codes: String = "z", file: StaticString = #filePath, line: UInt = #line
    ) throws -> SparseAutoencoder {
        let expected = try SAEFixtures.Expected(name)
        var last: SparseAutoencoder?
        for encoderOnly in [false, true] {
            let sae = try SparseAutoencoder.load(path: SAEFixtures.url(relative), layer: layer, encoderOnly: encoderOnly, options: options)
            let label = "\(name) (\(encoderOnly ? "encoder-only" : "full"))"
            XCTAssertEqual(sae.dIn * expected.rows, expected.x.count, label, file: file, line: line)
            XCTAssertEqual(sae.isDecoderLoaded, !encoderOnly, label, file: file, line: line)
            let reference = codes == "z" ? expected.z : try expected.extra(codes)
            assertClose(sae.encode(expected.x, rows: expected.rows), reference, "\(label) codes", file: file, line: line)
            // One row at a time must give the same codes as the batch.
            let single = (0..<expected.rows).flatMap { r in
                sae.encode(Array(expected.x[r * sae.dIn..<(r + 1) * sae.dIn]), rows: 1)
            }
            assertClose(single, reference, "\(label) row by row", file: file, line: line)
            let rows = try sae.decoderRows(expected.rowsIndex)
            for (i, row) in rows.enumerated() {
                assertClose(row, expected.decoderRows[i], tolerance: 1e-6, "\(label) decoder row \(expected.rowsIndex[i])", file: file, line: line)
            }
            assertClose(sae.decoderBias, expected.decoderBias, tolerance: 1e-6, "\(label) decoder bias", file: file, line: line)
            last = sae
        }
        return last!
    }

    // MARK: - Gemma Scope

    func testGemmaScopeWrittenByNumpySavez() throws {
        let sae = try check("gemma_scope/stored/layer_3/width_16k/average_l0_59/params.npz", expected: "gemma_scope_stored")
        XCTAssertEqual(sae.format, .gemmaScope)
        XCTAssertEqual(sae.architecture, .jumpReLU(sharedThreshold: nil))
        XCTAssertEqual(sae.layer, 3)
        XCTAssertEqual(sae.hookName, "blocks.3.hook_resid_post")
        XCTAssertEqual([sae.dIn, sae.dSAE], [32, 96])
        XCTAssertEqual(sae.dtype, .f32)
        XCTAssertTrue(sae.isEncoderMemoryMapped, "stored npz members are viewed in place")
        XCTAssertFalse(sae.appliesDecoderBiasToInput)
        XCTAssertNil(sae.neuronpediaID, "only the 2304-wide Gemma-2-2B SAEs have Neuronpedia ids")
    }

    func testGemmaScope2SAEFolder() throws {
        let sae = try check("gemma_scope_2/gemma-scope-2-1b-pt/resid_post/layer_1_width_16k_l0_medium", expected: "gemma_scope_2_L1")
        XCTAssertEqual(sae.format, .gemmaScope2)
        XCTAssertEqual(sae.architecture, .jumpReLU(sharedThreshold: nil))
        XCTAssertEqual([sae.layer, sae.dIn, sae.dSAE], [1, 32, 48])
        XCTAssertEqual(sae.hookName, "blocks.1.hook_resid_post")
        XCTAssertFalse(sae.appliesDecoderBiasToInput)
        XCTAssertEqual(sae.neuronpediaID, "gemma-3-1b-pt/1-gemmascope-2-res-16k")
        // The repository root resolves the same SAE for layer 1 (resid_post, 16k, medium).
        let fromRoot = try check("gemma_scope_2/gemma-scope-2-1b-pt", expected: "gemma_scope_2_L1", layer: 1)
        XCTAssertEqual(fromRoot.path, sae.path)
    }

    func testGemmaScopeWrittenByNumpySavezCompressed() throws {
        let sae = try check("gemma_scope/compressed/layer_5/width_16k/average_l0_68/params.npz", expected: "gemma_scope_compressed")
        XCTAssertEqual([sae.layer, sae.dIn, sae.dSAE], [5, 48, 128])
        XCTAssertFalse(sae.isEncoderMemoryMapped, "a deflated encoder is inflated into memory")
    }

    func testGemmaScopeHalfPrecisionWithLowerCaseKeys() throws {
        let sae = try check("gemma_scope/f16/params.npz", expected: "gemma_scope_f16", layer: 7)
        XCTAssertEqual(sae.dtype, .f16)
        XCTAssertEqual(sae.layer, 7, "a file outside a layer_N folder takes the requested layer")
        XCTAssertEqual(sae.hookName, "blocks.7.hook_resid_post")
    }

    // MARK: - SAELens

    func testSAELensStandard() throws {
        let sae = try check("saelens/standard", expected: "standard")
        XCTAssertEqual(sae.format, .saeLens)
        XCTAssertEqual(sae.architecture, .standard)
        XCTAssertEqual(sae.hookName, "blocks.1.hook_resid_post")
        XCTAssertEqual(sae.layer, 1)
        XCTAssertTrue(sae.appliesDecoderBiasToInput)
        XCTAssertEqual(sae.neuronpediaID, "tiny/1-test")
        XCTAssertTrue(sae.isEncoderMemoryMapped)
    }

    func testSAELensJumpReLUStoredInBFloat16() throws {
        let sae = try check("saelens/jumprelu_bf16", expected: "jumprelu_bf16")
        XCTAssertEqual(sae.architecture, .jumpReLU(sharedThreshold: nil))
        XCTAssertEqual(sae.dtype, .bf16)
        XCTAssertFalse(sae.appliesDecoderBiasToInput)
    }

    func testSAELensTopK() throws {
        let sae = try check("saelens/topk", expected: "topk")
        XCTAssertEqual(sae.architecture, .topK(k: 6, rescalesByDecoderNorm: false))
        let codes = try sae.encode(SAEFixtures.Expected("topk").x, rows: 12)
        for r in 0..<12 {
            XCTAssertLessThanOrEqual(codes[r * 64..<(r + 1) * 64].filter { $0 != 0 }.count, 6)
        }
    }

    func testSAELensTopKRescaledByDecoderNormsInFloat16() throws {
        let sae = try check("saelens/topk_rescaled_f16", expected: "topk_rescaled_f16")
        XCTAssertEqual(sae.architecture, .topK(k: 5, rescalesByDecoderNorm: true))
        XCTAssertEqual(sae.dtype, .f16)
    }

    func testSAELensGated() throws {
        let sae = try check("saelens/gated", expected: "gated")
        XCTAssertEqual(sae.architecture, .gated)
        XCTAssertTrue(sae.appliesDecoderBiasToInput)
    }

    func testSAELensConstantNormRescale() throws {
        let sae = try check("saelens/standard_constant_norm", expected: "standard_constant_norm")
        XCTAssertEqual(sae.normalization, .constantNormRescale)
    }

    func testSAELensLayerNorm() throws {
        let sae = try check("saelens/standard_layer_norm", expected: "standard_layer_norm")
        XCTAssertEqual(sae.normalization, .layerNorm)
    }

    func testSAELensExpectedAverageOnlyInFoldsTheScalingFactor() throws {
        let sae = try check("saelens/jumprelu_expected_average", expected: "jumprelu_expected_average")
        XCTAssertEqual(sae.normalization, .scaled(by: 3.7))
        XCTAssertTrue(sae.appliesDecoderBiasToInput)
    }

    func testSAELensPre6ConfigFieldNamesAndDefaults() throws {
        let standard = try check("saelens/standard_pre6", expected: "standard_pre6")
        XCTAssertEqual(standard.architecture, .standard)
        XCTAssertEqual(standard.hookName, "blocks.9.hook_resid_post", "hook_point is the pre-6.0 hook_name")
        XCTAssertTrue(standard.appliesDecoderBiasToInput, "pre-6.0 configs default apply_b_dec_to_input to true")
        XCTAssertEqual(standard.normalization, .none, "normalize_activations false means none")
        let topK = try check("saelens/topk_pre6", expected: "topk_pre6")
        XCTAssertEqual(topK.architecture, .topK(k: 7, rescalesByDecoderNorm: false), "activation_fn_str topk + activation_fn_kwargs.k")
    }

    // MARK: - Llama Scope

    func testLlamaScopeWithNonUnitDecoderRowsUsesTheOpenMOSSGate() throws {
        let folder = "llama_scope/Llama3_1-8B-Base-L5R-8x"
        let sae = try check(folder, expected: "llama_scope_L5")
        XCTAssertEqual(sae.format, .llamaScope)
        XCTAssertEqual(Self.fact("llama_scope_semantics", of: sae), "openmoss-decoder-norm")
        XCTAssertEqual(sae.architecture, .jumpReLU(sharedThreshold: 0.35546875))
        XCTAssertEqual(sae.hookName, "blocks.5.hook_resid_post")
        XCTAssertEqual(sae.normalization, .scaled(by: Float(8.0 / 3.0)))
        XCTAssertTrue(sae.semantics.contains("not unit norm"), sae.semantics)
        // SAELens 5.x (the CorrSteer reference's pin) did not rescale the threshold.
        let old = try check(folder, expected: "llama_scope_L5", options: SAELoadOptions(llamaScopeUsesSAELens5Threshold: true), codes: "z_saelens5")
        XCTAssertEqual(Self.fact("llama_scope_semantics", of: old), "saelens5-unscaled-threshold")
    }

    func testLlamaScopeWithUnitDecoderRowsMatchesSAELens() throws {
        let folder = "llama_scope/Llama3_1-8B-Base-L6R-8x"
        let sae = try check(folder, expected: "llama_scope_L6_bf16")
        XCTAssertEqual(Self.fact("llama_scope_semantics", of: sae), "unit-decoder-norm")
        XCTAssertEqual(sae.dtype, .bf16)
        XCTAssertTrue(sae.isEncoderMemoryMapped)
        try check(folder, expected: "llama_scope_L6_bf16", options: SAELoadOptions(llamaScopeUsesSAELens5Threshold: true), codes: "z_saelens5")
    }

    private static func fact(_ key: String, of sae: SparseAutoencoder) -> String? {
        sae.summary.first { $0.key == key }?.value
    }

    // MARK: - API

    func testPointerEncodeMatchesArrayEncodeAndIgnoresZeroRows() throws {
        let expected = try SAEFixtures.Expected("gated")
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url("saelens/gated"), encoderOnly: true)
        var z = [Float](repeating: .nan, count: expected.rows * sae.dSAE)
        expected.x.withUnsafeBufferPointer { x in
            z.withUnsafeMutableBufferPointer { sae.encode(x.baseAddress!, rows: expected.rows, into: $0.baseAddress!) }
        }
        XCTAssertEqual(z, sae.encode(expected.x, rows: expected.rows))
        assertClose(z, expected.z, "gated via pointers")
        XCTAssertEqual(sae.encode([], rows: 0), [])
    }

    func testSummaryNamesTheFacts() throws {
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url("llama_scope/Llama3_1-8B-Base-L5R-8x"), encoderOnly: true)
        let summary = Dictionary(uniqueKeysWithValues: sae.summary.map { ($0.key, $0.value) })
        XCTAssertEqual(summary["format"], "llama-scope")
        XCTAssertEqual(summary["hook_name"], "blocks.5.hook_resid_post")
        XCTAssertEqual(summary["d_in"], "64")
        XCTAssertEqual(summary["d_sae"], "96")
        XCTAssertEqual(summary["dtype"], "F32")
        XCTAssertEqual(summary["llama_scope_semantics"], "openmoss-decoder-norm")
    }
}
