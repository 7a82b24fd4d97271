import Foundation
import SparseAutoencoders
import XCTest

/// Resolving a Gemma Scope 2 repository (scripts/fixtures/sae_gemma_scope2.py) into one SAE per layer.
final class GemmaScope2DiscoveryTests: XCTestCase {
    private let repo = SAEFixtures.url("gemma_scope_2/gemma-scope-2-1b-pt")

    private func relative(_ reference: SAEReference?) -> String? {
        reference.map { String($0.url.standardizedFileURL.path.dropFirst(repo.standardizedFileURL.path.count + 1)) }
    }

    func testRepositoryPrefersTheResidPostSelectionAt16kMedium() throws {
        let found = try SAESet.discover(path: repo)
        XCTAssertEqual(found.keys.sorted(), [0, 1, 2, 3])
        XCTAssertEqual(relative(found[1]), "resid_post/layer_1_width_16k_l0_medium")
        XCTAssertEqual(relative(found[2]), "resid_post/layer_2_width_16k_l0_medium")
        XCTAssertEqual(relative(found[0]), "resid_post_all/layer_0_width_16k_l0_small", "only resid_post_all has layer 0")
        XCTAssertEqual(found[0]?.note, "resid_post_all/layer_0_width_16k_l0_small: width 16k, the only L0")
        XCTAssertTrue(found.values.allSatisfy { $0.format == .gemmaScope2 })
    }

    func testWidthAndL0CanBeChosen() throws {
        let small = try SAESet.discover(path: repo, layers: [2], l0: "small")
        XCTAssertEqual(relative(small[2]), "resid_post/layer_2_width_16k_l0_small")
        let wide = try SAESet.discover(path: repo.appendingPathComponent("resid_post"), layers: [1], width: "65k")
        XCTAssertEqual(relative(wide[1]), "resid_post/layer_1_width_65k_l0_medium")
        assertThrows(["resid_post", "no L0 big for layer 1", "medium, small"]) {
            _ = try SAESet.discover(path: self.repo.appendingPathComponent("resid_post"), layers: [1], l0: "big")
        }
    }

    func testAFileInsideAnSAEFolderAndItsLayer() throws {
        let file = repo.appendingPathComponent("resid_post_all/layer_3_width_16k_l0_small/params.safetensors")
        let sae = try SparseAutoencoder.load(path: file, encoderOnly: true)
        XCTAssertEqual(sae.layer, 3)
        XCTAssertNil(sae.neuronpediaID, "Neuronpedia has the medium-L0 resid_post SAEs only")
        assertThrows(["layer_3_width_16k_l0_small", "3", "5"]) { _ = try SparseAutoencoder.load(path: file, layer: 5) }
    }

    func testBadFoldersNameTheProblem() throws {
        let scratch = try ScratchDirectory()
        let sae = scratch.url.appendingPathComponent("resid_post/layer_4_width_16k_l0_medium")
        try FileManager.default.createDirectory(at: sae, withIntermediateDirectories: true)
        let source = repo.appendingPathComponent("resid_post/layer_1_width_16k_l0_medium")
        try FileManager.default.copyItem(at: source.appendingPathComponent("params.safetensors"),
                                         to: sae.appendingPathComponent("params.safetensors"))
        try #"{"architecture": "topk"}"#.write(to: sae.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        assertThrows(["config.json", "topk"]) { _ = try SparseAutoencoder.load(path: sae) }

        let transcoder = scratch.url.appendingPathComponent("transcoder_all/layer_4_width_16k_l0_medium")
        try FileManager.default.createDirectory(at: transcoder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source.appendingPathComponent("params.safetensors"),
                                         to: transcoder.appendingPathComponent("params.safetensors"))
        assertThrows(["transcoder_all", "resid_post"]) { _ = try SparseAutoencoder.load(path: transcoder) }
    }
}
