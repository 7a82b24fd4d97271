import CorrSteer
import Foundation
import XCTest

/// A collection killed at any moment and resumed, and a collection split into shards and merged, give
/// the statistics and features of one uninterrupted run (docs/architecture.md, data flow).
final class CollectionResumeTests: XCTestCase {
    private var scratch: URL!
    private let samples = 96

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func collectArguments(out: String, extra: [String] = []) -> [String] {
        let demo = CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")
        return ["collect", "--model", demo.appendingPathComponent("model").path,
                "--sae", demo.appendingPathComponent("sae").path, "--task", "custom",
                "--task-file", demo.appendingPathComponent("task/demo.jsonl").path, "--custom-kind", "exact",
                "--samples", "\(samples)", "--batch-size", "4", "--checkpoint-every", "8", "--quiet",
                "--out", scratch.appendingPathComponent(out).path] + extra
    }

    private func statistics(_ name: String) throws -> [Int: FeatureStatistics] {
        let run = RunDirectory(scratch.appendingPathComponent(name))
        let checkpoint = try XCTUnwrap(try StatisticsCheckpoint.load(from: run))
        XCTAssertTrue(checkpoint.complete)
        return try checkpoint.loadStatistics(in: run)
    }

    private func assertClose(_ a: [Int: FeatureStatistics], _ b: [Int: FeatureStatistics], tolerance: Double,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), file: file, line: line)
        for (layer, x) in a {
            guard let y = b[layer] else { continue }
            XCTAssertEqual(x.sampleCount, y.sampleCount, file: file, line: line)
            for kind in FeatureStatistics.Sum.allCases {
                for (u, v) in zip(x.sum(kind), y.sum(kind)) where abs(u - v) > tolerance * max(abs(u), abs(v), 1e-300) {
                    XCTFail("layer \(layer) \(kind): \(u) vs \(v)", file: file, line: line)
                    return
                }
            }
            for kind in FeatureStatistics.Count.allCases {
                XCTAssertEqual(Array(x.count(kind)), Array(y.count(kind)), "layer \(layer) \(kind)", file: file, line: line)
            }
        }
    }

    private func selectedFeatures(_ name: String) throws -> [String] {
        let result = try CorrSteerBinary.run(["select", scratch.appendingPathComponent(name).path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let candidates = try FeatureCandidates.load(from: RunDirectory(scratch.appendingPathComponent(name)).features)
        return candidates.layers.map { "\($0.layer):\($0.selected?.feature ?? -1):\($0.selected?.coefficient ?? 0)" }
    }

    func testKilledCollectionResumesToTheSameStatistics() throws {
        let reference = try CorrSteerBinary.run(collectArguments(out: "whole"))
        XCTAssertEqual(reference.status, 0, reference.stderr)

        // Kill at a random moment after the first checkpoint, then resume.
        let process = Process()
        process.executableURL = CorrSteerBinary.url
        process.arguments = collectArguments(out: "killed")
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = scratch.appendingPathComponent("killed/stats/checkpoint.json")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint.path) && process.isRunning && Date() < deadline {
            usleep(2_000)
        }
        usleep(UInt32.random(in: 0...40_000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        let resumed = try CorrSteerBinary.run(collectArguments(out: "killed", extra: ["--resume"]))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        assertClose(try statistics("whole"), try statistics("killed"), tolerance: 1e-12)
        XCTAssertEqual(try selectedFeatures("whole"), try selectedFeatures("killed"))

        let log = try String(contentsOf: scratch.appendingPathComponent("killed/collection.jsonl"), encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, samples, "collection.jsonl holds each sample once")
    }

    func testTwoShardsMergedEqualOneRun() throws {
        XCTAssertEqual(try CorrSteerBinary.run(collectArguments(out: "whole")).status, 0)
        for i in 0..<2 {
            let shard = try CorrSteerBinary.run(collectArguments(out: "shard\(i)", extra: ["--shard", "\(i)/2"]))
            XCTAssertEqual(shard.status, 0, shard.stderr)
        }
        let merge = try CorrSteerBinary.run(["merge", scratch.appendingPathComponent("shard0").path,
                                             scratch.appendingPathComponent("shard1").path,
                                             "--out", scratch.appendingPathComponent("merged").path])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        assertClose(try statistics("whole"), try statistics("merged"), tolerance: 1e-12)
        XCTAssertEqual(try selectedFeatures("whole"), try selectedFeatures("merged"))
    }

    func testResumeWithDifferentOptionsIsRefused() throws {
        XCTAssertEqual(try CorrSteerBinary.run(collectArguments(out: "run")).status, 0)
        var arguments = collectArguments(out: "run", extra: ["--resume"])
        arguments[arguments.firstIndex(of: "--batch-size")! + 1] = "2"
        let result = try CorrSteerBinary.run(arguments)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("different options"), result.stderr)
        // The message names what differs, with both values.
        XCTAssertTrue(result.stderr.contains("--batch-size (run: 4, now: 2)"), result.stderr)
        XCTAssertFalse(result.stderr.contains("--samples"), result.stderr)
    }
}
