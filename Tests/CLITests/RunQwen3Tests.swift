import CorrSteer
import Foundation
import XCTest

/// A whole `corrsteer run` on the tiny Qwen3 (scripts/fixtures/models_qwen.py, bf16, untied head) with
/// TopK SAEs in the Qwen Scope layout (`layer{L}.sae.pt` files in a `…-L0_K` repository folder;
/// scripts/fixtures/sae_qwen_scope_run.py). The model is random, so the task asks for an answer its
/// greedy output sometimes holds as a word ("fter", 3 of the 24 training prompts): the rewards must
/// vary for correlations to exist.
final class RunQwen3Tests: XCTestCase {
    func testWholeRunOnQwen3WithQwenScopeSAEs() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qwen3-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let root = CorrSteerBinary.packageRoot
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("Tests/Fixtures/models/qwen3-tiny-bf16"), to: model)
        for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(at: SmallRun.demo.appendingPathComponent("model/\(name)"),
                                             to: model.appendingPathComponent(name))
        }
        let small = try SmallRun()
        defer { small.remove() }
        let task = scratch.appendingPathComponent("task.jsonl")
        let lines = try String(contentsOf: small.taskFile, encoding: .utf8).split(separator: "\n").map { line -> String in
            var item = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            item["answer"] = "fter"
            return String(decoding: try JSONSerialization.data(withJSONObject: item, options: [.sortedKeys]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: task, atomically: true, encoding: .utf8)

        let out = scratch.appendingPathComponent("run")
        let sae = root.appendingPathComponent("Tests/Fixtures/sae/qwen_scope_run/SAE-Res-Qwen3-tiny-W64-L0_6")
        let result = try CorrSteerBinary.run([
            "run", "--model", model.path, "--sae", sae.path, "--task", "custom", "--task-file", task.path,
            "--custom-kind", "contains", "--max-new-tokens", "4", "--out", out.path, "--quiet"])
        XCTAssertSucceeded(result)
        let run = RunDirectory(out)
        let features = try FeatureCandidates.load(from: run.features)
        XCTAssertEqual(features.layers.map(\.layer), [0, 1, 2, 3])
        XCTAssertEqual(features.layers.map(\.site), (0..<4).map { "blocks.\($0).hook_resid_post" })
        XCTAssertGreaterThan(features.successes, 0)
        XCTAssertLessThan(features.successes, features.samples)
        for variant in ["baseline", "S", "A", "P"] {
            XCTAssertNotNil(try VariantMetrics.load(from: run.metrics(variant: variant)), variant)
        }
    }
}
