import CorrSteer
import Foundation
import XCTest

/// A whole `corrsteer run` on tiny models of the newer families with SAEs in their releases' layouts. The
/// models are random, so each task asks for an answer the model's greedy output sometimes holds as a word:
/// the rewards must vary for correlations to exist.
final class RunFamiliesTests: XCTestCase {
    /// Gemma 3 (scripts/fixtures/models_gemma3.py) with SAEs in the Gemma Scope 2 repository layout
    /// (scripts/fixtures/sae_gemma_scope2.py).
    func testWholeRunOnGemma3WithGemmaScope2SAEs() throws {
        try checkWholeRun(model: "gemma3-tiny-f32", sae: "gemma_scope_2/gemma-scope-2-1b-pt", answer: "ho")
    }

    /// Qwen3 (scripts/fixtures/models_qwen.py, bf16, untied head) with TopK SAEs in the Qwen Scope layout:
    /// `layer{L}.sae.pt` files in a `…-L0_K` repository folder (scripts/fixtures/sae_qwen_scope_run.py).
    /// "fter" is a word of 3 of its 24 training outputs.
    func testWholeRunOnQwen3WithQwenScopeSAEs() throws {
        try checkWholeRun(model: "qwen3-tiny-bf16", sae: "qwen_scope_run/SAE-Res-Qwen3-tiny-W64-L0_6", answer: "just")
    }

    /// Runs collect → select → evaluate on the model fixture (with the demo's tokenizer, whose vocabulary
    /// the fixtures share) and the small run's task with every answer replaced by `answer`.
    private func checkWholeRun(model fixture: String, sae: String, answer: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("family-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let root = CorrSteerBinary.packageRoot
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("Tests/Fixtures/models/\(fixture)"), to: model)
        for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(at: SmallRun.demo.appendingPathComponent("model/\(name)"),
                                             to: model.appendingPathComponent(name))
        }
        let small = try SmallRun()
        defer { small.remove() }
        let task = scratch.appendingPathComponent("task.jsonl")
        let lines = try String(contentsOf: small.taskFile, encoding: .utf8).split(separator: "\n").map { line -> String in
            var item = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            item["answer"] = answer
            return String(decoding: try JSONSerialization.data(withJSONObject: item, options: [.sortedKeys]), as: UTF8.self)
        }
        try (lines.joined(separator: "\n") + "\n").write(to: task, atomically: true, encoding: .utf8)

        let out = scratch.appendingPathComponent("run")
        let result = try CorrSteerBinary.run([
            "run", "--model", model.path, "--sae", root.appendingPathComponent("Tests/Fixtures/sae/\(sae)").path,
            "--task", "custom", "--task-file", task.path, "--custom-kind", "contains", "--max-new-tokens", "4",
            "--out", out.path, "--quiet"])
        XCTAssertSucceeded(result, file: file, line: line)
        let run = RunDirectory(out)
        let features = try FeatureCandidates.load(from: run.features)
        XCTAssertEqual(features.layers.map(\.layer), [0, 1, 2, 3], file: file, line: line)
        XCTAssertEqual(features.layers.map(\.site), (0..<4).map { "blocks.\($0).hook_resid_post" }, file: file, line: line)
        XCTAssertGreaterThan(features.successes, 0, file: file, line: line)
        XCTAssertLessThan(features.successes, features.samples, file: file, line: line)
        for variant in ["baseline", "S", "A", "P"] {
            XCTAssertNotNil(try VariantMetrics.load(from: run.metrics(variant: variant)), variant, file: file, line: line)
        }
    }
}
