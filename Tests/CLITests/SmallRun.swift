import CorrSteer
import Foundation
import XCTest

/// A scratch folder with a small slice of the demo task (24 train, 4 validation, 8 test items) and helpers
/// that drive the built binary on it with the demo model and SAEs: each stage takes about a second.
struct SmallRun {
    static let demo = CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")

    let scratch: URL
    var out: URL { scratch.appendingPathComponent("run") }
    var taskFile: URL { scratch.appendingPathComponent("task.jsonl") }
    var directory: RunDirectory { RunDirectory(out) }

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("small-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let lines = try String(contentsOf: Self.demo.appendingPathComponent("task/demo.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let picked = lines.filter { $0.contains("\"train\"") }.prefix(24) + lines.filter { $0.contains("\"validation\"") }.prefix(4)
            + lines.filter { $0.contains("\"test\"") }.prefix(8)
        try (picked.joined(separator: "\n") + "\n").write(to: taskFile, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: scratch) }

    /// A copy of the demo model whose generation config lists `eos` as its EOS ids.
    func modelCopy(eos: [Int]) throws -> URL {
        let model = scratch.appendingPathComponent("model-\(eos.map(String.init).joined(separator: "-"))")
        try FileManager.default.copyItem(at: Self.demo.appendingPathComponent("model"), to: model)
        let url = model.appendingPathComponent("generation_config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        config["eos_token_id"] = eos
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return model
    }

    func collect(_ extra: [String] = [], model: URL? = nil, out: URL? = nil) throws -> CorrSteerBinary.Result {
        try CorrSteerBinary.run(["collect", "--model", (model ?? Self.demo.appendingPathComponent("model")).path,
                                 "--sae", Self.demo.appendingPathComponent("sae").path,
                                 "--task", "custom", "--task-file", taskFile.path, "--custom-kind", "exact",
                                 "--out", (out ?? self.out).path, "--quiet"] + extra)
    }

    func select(_ extra: [String] = [], run: URL? = nil) throws -> CorrSteerBinary.Result {
        try CorrSteerBinary.run(["select", (run ?? out).path] + extra)
    }

    func evaluate(_ extra: [String] = [], run: URL? = nil) throws -> CorrSteerBinary.Result {
        try CorrSteerBinary.run(["evaluate", (run ?? out).path, "--quiet"] + extra)
    }

    func manifestJSON(_ run: URL? = nil) throws -> [String: Any] {
        let url = RunDirectory(run ?? out).manifest
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func json(_ relativePath: String, run: URL? = nil) throws -> [String: Any] {
        let url = (run ?? out).appendingPathComponent(relativePath)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], relativePath)
    }

    func writeJSON(_ object: [String: Any], to relativePath: String) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            .write(to: out.appendingPathComponent(relativePath))
    }

    func predictions(_ variant: String, run: URL? = nil) throws -> [PredictionRecord] {
        try PredictionsFile.read(from: RunDirectory(run ?? out).predictions(variant: variant))
    }
}

func XCTAssertSucceeded(_ result: CorrSteerBinary.Result, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
}
