import Foundation
import SparseAutoencoders
import XCTest

/// Each bad input gets one clear error naming the file and what is wrong.
final class SAEBadInputTests: XCTestCase {
    private let storedNpz = "gemma_scope/stored/layer_3/width_16k/average_l0_59/params.npz"

    private func patchedNpz(_ scratch: ScratchDirectory, _ edit: (inout [UInt8]) -> Void) throws -> URL {
        let url = try scratch.copy(storedNpz, as: "layer_3/params.npz")
        var bytes = [UInt8](try Data(contentsOf: url))
        edit(&bytes)
        try Data(bytes).write(to: url)
        return url
    }

    /// Offsets of a 4-byte ZIP signature.
    private func offsets(_ signature: [UInt8], in bytes: [UInt8]) -> [Int] {
        (0...(bytes.count - 4)).filter { Array(bytes[$0..<$0 + 4]) == signature }
    }

    // MARK: - npz

    func testMissingKey() {
        assertThrows(["missing_threshold.npz", "'threshold' not found"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("npz/missing_threshold.npz"), layer: 0)
        }
    }

    func testWrongShape() {
        assertThrows(["wrong_shape_b_enc.npz", "'b_enc' has shape [95], expected [96]"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("npz/wrong_shape_b_enc.npz"), layer: 0)
        }
    }

    func testTruncatedNpz() throws {
        let scratch = try ScratchDirectory()
        let url = try patchedNpz(scratch) { $0.removeLast(4000) }
        assertThrows([url.path, "truncated"]) { _ = try SparseAutoencoder.load(path: url, encoderOnly: true) }
    }

    func testUnsupportedCompression() throws {
        let scratch = try ScratchDirectory()
        let url = try patchedNpz(scratch) { bytes in
            // Method field: +8 in a local header, +10 in a central directory entry. Mark every member bzip2.
            for local in self.offsets([0x50, 0x4B, 0x03, 0x04], in: bytes) { bytes[local + 8] = 12 }
            for central in self.offsets([0x50, 0x4B, 0x01, 0x02], in: bytes) { bytes[central + 10] = 12 }
        }
        assertThrows([url.path, "W_enc.npy", "compression method 12 (bzip2)"]) { _ = try SparseAutoencoder.load(path: url) }
    }

    func testInconsistentZip64() throws {
        let scratch = try ScratchDirectory()
        let url = try patchedNpz(scratch) { bytes in
            let central = self.offsets([0x50, 0x4B, 0x01, 0x02], in: bytes).first!
            bytes.replaceSubrange(central + 24..<central + 28, with: [0xFF, 0xFF, 0xFF, 0xFF])
        }
        assertThrows([url.path, "ZIP64 placeholder"]) { _ = try SparseAutoencoder.load(path: url) }
    }

    func testLayerThatContradictsTheFolder() {
        assertThrows(["average_l0_59/params.npz", "layer 3, not the requested layer 4"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url(self.storedNpz), layer: 4)
        }
    }

    // MARK: - SAELens

    private func saeLensCopy(_ scratch: ScratchDirectory, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let folder = try scratch.copy("saelens/standard", as: "\(UUID().uuidString)/sae")
        try scratch.editJSON(folder.appendingPathComponent("cfg.json"), edit)
        return folder
    }

    func testUnknownArchitecture() throws {
        let scratch = try ScratchDirectory()
        let folder = try saeLensCopy(scratch) { $0["architecture"] = "matryoshka_batchtopk" }
        assertThrows(["sae/cfg.json", "unknown SAE architecture 'matryoshka_batchtopk'", "standard, jumprelu, topk, gated"]) {
            _ = try SparseAutoencoder.load(path: folder)
        }
    }

    func testConfigThatContradictsTheWeights() throws {
        let scratch = try ScratchDirectory()
        let folder = try saeLensCopy(scratch) { $0["d_in"] = 31 }
        assertThrows(["sae_weights.safetensors", "'W_enc' has shape [32, 64], expected [31, 64]"]) {
            _ = try SparseAutoencoder.load(path: folder)
        }
    }

    func testMissingConfigField() throws {
        let scratch = try ScratchDirectory()
        let folder = try saeLensCopy(scratch) { $0.removeValue(forKey: "d_sae") }
        assertThrows(["cfg.json", "field 'd_sae': missing"]) { _ = try SparseAutoencoder.load(path: folder) }
        let wrongType = try saeLensCopy(scratch) { $0["apply_b_dec_to_input"] = "yes" }
        assertThrows(["field 'apply_b_dec_to_input'", "true or false"]) { _ = try SparseAutoencoder.load(path: wrongType) }
    }

    func testUnsupportedNormalization() throws {
        let scratch = try ScratchDirectory()
        let folder = try saeLensCopy(scratch) { $0["normalize_activations"] = "covariance_whitening" }
        assertThrows(["field 'normalize_activations'", "covariance_whitening"]) { _ = try SparseAutoencoder.load(path: folder) }
    }

    func testMissingWeightsFile() throws {
        let scratch = try ScratchDirectory()
        let folder = try saeLensCopy(scratch) { _ in }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("sae_weights.safetensors"))
        assertThrows([folder.path, "sae_weights.safetensors is missing"]) { _ = try SparseAutoencoder.load(path: folder) }
    }

    func testMissingWeight() throws {
        let scratch = try ScratchDirectory()
        let folder = try saeLensCopy(scratch) { $0["architecture"] = "jumprelu" }
        assertThrows(["sae_weights.safetensors", "'threshold' not found"]) { _ = try SparseAutoencoder.load(path: folder) }
    }

    // MARK: - Llama Scope

    private func llamaCopy(_ scratch: ScratchDirectory, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let folder = try scratch.copy("llama_scope/Llama3_1-8B-Base-L5R-8x", as: "\(UUID().uuidString)/Llama3_1-8B-Base-L5R-8x")
        try scratch.editJSON(folder.appendingPathComponent("hyperparams.json"), edit)
        return folder
    }

    func testLlamaScopeConfigErrors() throws {
        let scratch = try ScratchDirectory()
        let noNorm = try llamaCopy(scratch) { $0.removeValue(forKey: "dataset_average_activation_norm") }
        assertThrows(["hyperparams.json", "field 'dataset_average_activation_norm': missing"]) { _ = try SparseAutoencoder.load(path: noNorm) }
        let topK = try llamaCopy(scratch) { $0["act_fn"] = "topk"; $0["jump_relu_threshold"] = 0 }
        assertThrows(["field 'act_fn'", "'topk' without a jump_relu_threshold"]) { _ = try SparseAutoencoder.load(path: topK) }
        let wide = try llamaCopy(scratch) { $0["d_model"] = 65 }
        assertThrows(["final.safetensors", "'encoder.weight' has shape [96, 64], expected [96, 65]"]) { _ = try SparseAutoencoder.load(path: wide) }
    }

    // MARK: - Against the model

    func testInputWidthThatContradictsTheModel() throws {
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url(storedNpz), encoderOnly: true)
        assertThrows(["average_l0_59/params.npz", "d_in 32 but the model's hidden size is 64"]) {
            try sae.validate(modelHiddenSize: 64, layerCount: 26)
        }
        assertThrows(["layer 3 but the model has 2 layers"]) { try sae.validate(modelHiddenSize: 32, layerCount: 2) }
        XCTAssertNoThrow(try sae.validate(modelHiddenSize: 32, layerCount: 26))
    }

    func testDecoderRowOutOfRange() throws {
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url(storedNpz), encoderOnly: true)
        assertThrows(["feature 96 is out of range 0..<96"]) { _ = try sae.decoderRows([0, 96]) }
    }
}
