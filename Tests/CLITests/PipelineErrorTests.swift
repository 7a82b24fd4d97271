import Foundation
import WeightFiles
import XCTest

/// Inputs that cannot make a valid collection are refused with one clear message, before any work.
final class PipelineErrorTests: XCTestCase {
    private var scratch: URL!
    private let demo = CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-errors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        // A small task with a fixed split, and a variant whose answer the model never gives.
        let lines = try String(contentsOf: demo.appendingPathComponent("task/demo.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let picked = lines.filter { $0.contains("\"train\"") }.prefix(24) + lines.filter { $0.contains("\"validation\"") }.prefix(4)
            + lines.filter { $0.contains("\"test\"") }.prefix(8)
        try (picked.joined(separator: "\n") + "\n").write(to: scratch.appendingPathComponent("task.jsonl"), atomically: true, encoding: .utf8)
        try (picked.map { $0.replacingOccurrences(of: "\"Sorry\"", with: "\"Banana\"") }.joined(separator: "\n") + "\n")
            .write(to: scratch.appendingPathComponent("never.jsonl"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func collect(sae: String, task: String = "task.jsonl", extra: [String] = [], out: String = "out") throws -> CorrSteerBinary.Result {
        try CorrSteerBinary.run(["collect", "--model", demo.appendingPathComponent("model").path, "--sae", sae,
                                 "--task", "custom", "--task-file", scratch.appendingPathComponent(task).path,
                                 "--custom-kind", "exact", "--out", scratch.appendingPathComponent(out).path, "--quiet"] + extra)
    }

    private func assertFails(_ result: CorrSteerBinary.Result, mentioning fragments: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(result.status, 0, file: file, line: line)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(result.stderr.contains(fragment), "'\(result.stderr)' should mention '\(fragment)'", file: file, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out/manifest.json").path),
                       "nothing is written", file: file, line: line)
    }

    /// A SAELens JumpReLU folder with the given input width and training site.
    private func saeLensFolder(dIn: Int, hookName: String) throws -> URL {
        let folder = scratch.appendingPathComponent("sae-\(dIn)-\(hookName)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let dSAE = 8
        let config = """
            {"architecture": "jumprelu", "d_in": \(dIn), "d_sae": \(dSAE), "dtype": "float32", "device": "cpu",
             "apply_b_dec_to_input": false, "normalize_activations": "none", "reshape_activations": "none",
             "metadata": {"hook_name": "\(hookName)"}}
            """
        try config.write(to: folder.appendingPathComponent("cfg.json"), atomically: true, encoding: .utf8)
        try SafeTensorsWriter.write([
            .init(name: "W_enc", shape: [dIn, dSAE], floats: [Float](repeating: 0.1, count: dIn * dSAE)),
            .init(name: "W_dec", shape: [dSAE, dIn], floats: [Float](repeating: 0.1, count: dIn * dSAE)),
            .init(name: "b_enc", shape: [dSAE], floats: [Float](repeating: 0, count: dSAE)),
            .init(name: "b_dec", shape: [dIn], floats: [Float](repeating: 0, count: dIn)),
            .init(name: "threshold", shape: [dSAE], floats: [Float](repeating: 0.01, count: dSAE)),
        ], to: folder.appendingPathComponent("sae_weights.safetensors"))
        return folder
    }

    func testSAEWidthThatDoesNotMatchTheModel() throws {
        let sae = try saeLensFolder(dIn: 32, hookName: "blocks.1.hook_resid_post")
        assertFails(try collect(sae: sae.path), mentioning: ["d_in 32", "64"])
    }

    func testSAESiteThatTheModelDoesNotHave() throws {
        let sae = try saeLensFolder(dIn: 64, hookName: "blocks.7.hook_resid_post")
        assertFails(try collect(sae: sae.path), mentioning: [sae.path])
    }

    func testLayerWithoutAnSAE() throws {
        let single = demo.appendingPathComponent("sae/layer_2").path
        assertFails(try collect(sae: single, extra: ["--layers", "1"]), mentioning: ["no SAE for layer 1"])
        assertFails(try collect(sae: demo.appendingPathComponent("sae").path, extra: ["--layers", "9"]),
                    mentioning: ["Error: --layers: layer 9 does not exist"])
    }

    func testZeroSamples() throws {
        // Checked while the command line is parsed: a usage error of `collect`, before anything is read.
        let result = try collect(sae: demo.appendingPathComponent("sae").path, extra: ["--samples", "0"])
        XCTAssertEqual(result.status, 64, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("Error: --samples must be at least 1, got 0\nUsage: corrsteer collect"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out").path), "nothing is written")
    }

    func testEqualRewardsAreReportedNotNaN() throws {
        let collect = try collect(sae: demo.appendingPathComponent("sae").path, task: "never.jsonl")
        XCTAssertEqual(collect.status, 0, collect.stderr)
        XCTAssertTrue(collect.stderr.contains("rewards equal"), collect.stderr)
        let select = try CorrSteerBinary.run(["select", scratch.appendingPathComponent("out").path])
        XCTAssertNotEqual(select.status, 0)
        XCTAssertTrue(select.stderr.contains("no feature with positive correlation"), select.stderr)
        XCTAssertTrue(select.stderr.contains("rewards equal"), select.stderr)
    }
}
