import Foundation
import SparseAutoencoders
import XCTest

/// Resolving `--sae PATH` into one SAE per layer.
final class SAEDiscoveryTests: XCTestCase {
    private let tree = SAEFixtures.url("gemma_scope_tree")

    private func relative(_ url: URL) -> String {
        String(url.standardizedFileURL.path.dropFirst(tree.standardizedFileURL.path.count + 1))
    }

    func testGemmaScopeTreePicksCanonicalThenOnlyThenOnlyWidth() throws {
        let found = try SAESet.discover(path: tree, layers: [0, 1, 2])
        XCTAssertEqual(found.keys.sorted(), [0, 1, 2])
        XCTAssertEqual(relative(found[0]!.url), "layer_0/width_16k/average_l0_105/params.npz", "canonical L0 of layer 0 at 16k")
        XCTAssertEqual(found[0]!.note, "canonical average_l0_105")
        XCTAssertEqual(relative(found[1]!.url), "layer_1/width_16k/average_l0_50/params.npz", "16k preferred, its only L0")
        XCTAssertEqual(relative(found[2]!.url), "layer_2/width_65k/average_l0_77/params.npz", "the only width present")
        XCTAssertTrue(found.values.allSatisfy { $0.format == .gemmaScope })
        let sae = try SparseAutoencoder.load(found[2]!, encoderOnly: true)
        XCTAssertEqual(sae.layer, 2)
        XCTAssertEqual([sae.dIn, sae.dSAE], [8, 16])
    }

    func testGemmaScopeTreeWithAChosenWidth() throws {
        let found = try SAESet.discover(path: tree, layers: [1], width: "65k")
        XCTAssertEqual(relative(found[1]!.url), "layer_1/width_65k/average_l0_121/params.npz")
        assertThrows(["layer_0", "no width_65k folder", "width_16k"]) { _ = try SAESet.discover(path: self.tree, layers: [0], width: "65k") }
    }

    func testGemmaScopeTreeErrors() {
        assertThrows(["layer_3/width_16k", "average_l0_20, average_l0_30", "no canonical"]) {
            _ = try SAESet.discover(path: self.tree, layers: [3])
        }
        assertThrows(["gemma_scope_tree", "no SAE for layer 9", "0, 1, 2, 3"]) {
            _ = try SAESet.discover(path: self.tree, layers: [9])
        }
    }

    func testWidthFolderResolvesToItsCanonicalSAE() throws {
        let found = try SAESet.discover(path: tree.appendingPathComponent("layer_0/width_16k"))
        XCTAssertEqual(relative(found[0]!.url), "layer_0/width_16k/average_l0_105/params.npz")
    }

    func testFolderOfSAELensFoldersTakesLayersFromHookNames() throws {
        let found = try SAESet.discover(path: SAEFixtures.url("saelens"))
        XCTAssertEqual(found.keys.sorted(), Array(1...10))
        XCTAssertEqual(found[3]!.url.lastPathComponent, "topk")
        XCTAssertEqual(found[9]!.url.lastPathComponent, "standard_pre6")
        XCTAssertTrue(found.values.allSatisfy { $0.format == .saeLens })
        let sae = try SparseAutoencoder.load(path: SAEFixtures.url("saelens"), layer: 4, encoderOnly: true)
        XCTAssertEqual(sae.architecture, .topK(k: 5, rescalesByDecoderNorm: true))
        assertThrows(["saelens", "holds SAEs for layers 1, 2", "choose one with --layer"]) {
            _ = try SparseAutoencoder.load(path: SAEFixtures.url("saelens"))
        }
    }

    func testLlamaScopeReleaseFolder() throws {
        let found = try SAESet.discover(path: SAEFixtures.url("llama_scope"), layers: [6])
        XCTAssertEqual(found[6]!.url.lastPathComponent, "Llama3_1-8B-Base-L6R-8x")
        XCTAssertEqual(found[6]!.format, .llamaScope)
    }

    func testFilesInsideAnSAEFolderPointAtTheFolder() throws {
        let weights = try SAESet.discover(path: SAEFixtures.url("saelens/gated/sae_weights.safetensors"))
        XCTAssertEqual(weights[5]?.url.lastPathComponent, "gated")
        let checkpoint = try SAESet.discover(path: SAEFixtures.url("llama_scope/Llama3_1-8B-Base-L5R-8x/checkpoints/final.safetensors"))
        XCTAssertEqual(checkpoint[5]?.url.lastPathComponent, "Llama3_1-8B-Base-L5R-8x")
        XCTAssertEqual(checkpoint[5]?.format, .llamaScope)
    }

    func testNothingThereIsAClearError() throws {
        let scratch = try ScratchDirectory()
        assertThrows([scratch.url.path, "no SAE found", "params.npz", "cfg.json"]) { _ = try SAESet.discover(path: scratch.url) }
        let missing = scratch.url.appendingPathComponent("nope")
        assertThrows([missing.path, "no such file or folder"]) { _ = try SAESet.discover(path: missing) }
        assertThrows(["cannot tell which layer"]) { _ = try SAESet.discover(path: SAEFixtures.url("gemma_scope/f16/params.npz")) }
        let requested = try SAESet.discover(path: SAEFixtures.url("gemma_scope/f16/params.npz"), layers: [4])
        XCTAssertEqual(requested[4]?.format, .gemmaScope)
    }

    func testHuggingFaceCacheFolderResolvesThroughRefsMain() throws {
        let scratch = try ScratchDirectory()
        let repo = "models--google--gemma-scope-2b-pt-res"
        try scratch.copy("gemma_scope_tree/layer_0", as: "\(repo)/snapshots/abc123/layer_0")
        try scratch.copy("gemma_scope_tree/layer_1", as: "\(repo)/snapshots/old999/layer_1")
        try FileManager.default.createDirectory(at: scratch.url.appendingPathComponent("\(repo)/refs"), withIntermediateDirectories: true)
        try Data("abc123\n".utf8).write(to: scratch.url.appendingPathComponent("\(repo)/refs/main"))
        let found = try SAESet.discover(path: scratch.url.appendingPathComponent(repo))
        XCTAssertEqual(found.keys.sorted(), [0])
        XCTAssertTrue(found[0]!.url.path.hasSuffix("snapshots/abc123/layer_0/width_16k/average_l0_105/params.npz"), found[0]!.url.path)
        let sae = try SparseAutoencoder.load(found[0]!, encoderOnly: true)
        XCTAssertEqual(sae.hookName, "blocks.0.hook_resid_post")
        XCTAssertFalse(sae.semantics.contains("assumed"), "the repository name says res: \(sae.semantics)")
        try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("\(repo)/refs"))
        assertThrows([repo, "2 snapshots and no refs/main"]) { _ = try SAESet.discover(path: scratch.url.appendingPathComponent(repo)) }
    }

    func testTwoSAEsForOneLayerAreRejected() throws {
        let scratch = try ScratchDirectory()
        try scratch.copy("saelens/standard", as: "a")
        try scratch.copy("saelens/standard", as: "b")
        assertThrows(["two SAEs for layer 1", "a and b"]) { _ = try SAESet.discover(path: scratch.url) }
    }

    func testResidualSAEIsPreferredOverOtherSitesOfTheSameLayer() throws {
        let scratch = try ScratchDirectory()
        try scratch.copy("saelens/standard", as: "resid")
        let mlp = try scratch.copy("saelens/standard", as: "mlp")
        try scratch.editJSON(mlp.appendingPathComponent("cfg.json")) { cfg in
            var metadata = cfg["metadata"] as! [String: Any]
            metadata["hook_name"] = "blocks.1.hook_mlp_out"
            cfg["metadata"] = metadata
        }
        let found = try SAESet.discover(path: scratch.url)
        XCTAssertEqual(found[1]?.url.lastPathComponent, "resid")
    }
}
