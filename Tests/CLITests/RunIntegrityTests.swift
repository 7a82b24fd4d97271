import CorrSteer
import Foundation
import WeightFiles
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Hostile and damaged run directories (issue 21): nothing is written or deleted outside `--out`, a
/// folder that is not a run is never written into, run state that does not add up is refused with one
/// error instead of being counted twice, and only one process writes a run at a time.
final class RunIntegrityTests: XCTestCase {
    private var scratch: URL!
    private let demo = CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("integrity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func url(_ name: String) -> URL { scratch.appendingPathComponent(name) }

    private func collectArguments(out: String, extra: [String] = []) -> [String] {
        ["collect", "--model", demo.appendingPathComponent("model").path,
         "--sae", demo.appendingPathComponent("sae").path, "--task", "custom",
         "--task-file", demo.appendingPathComponent("task/demo.jsonl").path, "--custom-kind", "exact",
         "--samples", "16", "--batch-size", "4", "--checkpoint-every", "8", "--quiet",
         "--out", url(out).path] + extra
    }

    @discardableResult
    private func collect(_ out: String, extra: [String] = []) throws -> CorrSteerBinary.Result {
        let result = try CorrSteerBinary.run(collectArguments(out: out, extra: extra))
        XCTAssertEqual(result.status, 0, result.stderr)
        return result
    }

    private func resume(_ out: String) throws -> CorrSteerBinary.Result {
        try CorrSteerBinary.run(collectArguments(out: out, extra: ["--resume"]))
    }

    /// Edits `stats/checkpoint.json` of a run as a JSON object.
    private func editCheckpoint(_ run: String, _ edit: (inout [String: Any]) -> Void) throws {
        let file = url(run).appendingPathComponent("stats/checkpoint.json")
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: file)
    }

    private func assertFails(_ result: CorrSteerBinary.Result, mentioning text: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(result.status, 0, "expected a failure mentioning '\(text)'", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(text), "stderr lacks '\(text)': \(result.stderr)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr, file: file, line: line)
    }

    // MARK: Never write or delete outside --out

    func testCheckpointFolderPointingOutsideTheRunDeletesNothing() throws {
        try collect("run")
        // The victim holds copies of the statistics, so a resume that follows the pointer can load
        // them, continue, and then remove the "previous" folder.
        let victim = url("victim")
        try FileManager.default.copyItem(at: url("run/stats/checkpoint-000000016"), to: victim)
        try Data("mine".utf8).write(to: victim.appendingPathComponent("precious.txt"))
        try editCheckpoint("run") {
            $0["folder"] = "../../victim"
            $0["complete"] = false
        }
        assertFails(try resume("run"), mentioning: "folder")
        XCTAssertTrue(FileManager.default.fileExists(atPath: victim.appendingPathComponent("precious.txt").path))
    }

    func testDemoRefusesAFolderThatIsNotADemoRun() throws {
        let folder = url("mine")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        let result = try CorrSteerBinary.run(["demo", "--out", folder.path, "--quiet"])
        assertFails(result, mentioning: "not a corrsteer run")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["notes.txt"])
    }

    func testDemoReplacesAPreviousDemoRunButNeverTheUsersFiles() throws {
        // A collection of the demo task is a demo run as far as `demo` is concerned.
        try collect("demo")
        try Data("notes".utf8).write(to: url("demo/notes.txt"))
        assertFails(try CorrSteerBinary.run(["demo", "--out", url("demo").path, "--quiet"]), mentioning: "'notes.txt'")
        XCTAssertEqual(try String(contentsOf: url("demo/notes.txt"), encoding: .utf8), "notes")
        XCTAssertTrue(FileManager.default.fileExists(atPath: url("demo/manifest.json").path))

        try FileManager.default.removeItem(at: url("demo/notes.txt"))
        let result = try CorrSteerBinary.run(["demo", "--out", url("demo").path, "--quiet"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url("demo/report.html").path))
    }

    func testCollectRefusesAFolderThatIsNotARun() throws {
        try FileManager.default.createDirectory(at: url("mine"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: url("mine/data.csv"))
        assertFails(try CorrSteerBinary.run(collectArguments(out: "mine")), mentioning: "not a corrsteer run")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url("mine").path), ["data.csv"])
    }

    func testLinksInsideARunAreRefused() throws {
        try collect("run")
        XCTAssertEqual(try CorrSteerBinary.run(["select", url("run").path]).status, 0)
        let outside = url("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)

        try FileManager.default.createSymbolicLink(at: url("run/export"), withDestinationURL: outside)
        assertFails(try CorrSteerBinary.run(["export", url("run").path, "--plan", "S", "--format", "safetensors"]),
                    mentioning: "symbolic link")
        try FileManager.default.removeItem(at: url("run/export"))

        try FileManager.default.createDirectory(at: url("run/eval"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: url("run/eval/A"), withDestinationURL: outside)
        assertFails(try CorrSteerBinary.run(["evaluate", url("run").path, "--test-limit", "4"]), mentioning: "symbolic link")
        try FileManager.default.removeItem(at: url("run/eval"))

        let folder = url("run/stats/checkpoint-000000016")
        try FileManager.default.moveItem(at: folder, to: outside.appendingPathComponent("stats"))
        try FileManager.default.createSymbolicLink(at: folder, withDestinationURL: outside.appendingPathComponent("stats"))
        try editCheckpoint("run") { $0["complete"] = false }
        assertFails(try resume("run"), mentioning: "symbolic link")

        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), ["stats"])
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: outside.appendingPathComponent("stats").path)),
                       Set((0..<4).flatMap { layer in
                           ["layer_\(layer).safetensors", "residual_\(layer).safetensors", "shuffled_\(layer).safetensors"]
                               + (1..<ControlStatistics.permutationCount).map { "shuffled_\(layer)_p\($0).safetensors" }
                       }))
    }

    func testPlanNamesCannotLeaveTheRun() throws {
        try collect("run")
        assertFails(try CorrSteerBinary.run(["export", url("run").path, "--plan", "../../x"]), mentioning: "path separator")
    }

    // MARK: Run-state integrity

    func testCheckpointLayersMustBeTheRunsLayers() throws {
        try collect("run")
        try editCheckpoint("run") {
            $0["layers"] = [0, 1, 2]
            $0["complete"] = false
        }
        assertFails(try resume("run"), mentioning: "holds layers [0, 1, 2]")
        try editCheckpoint("run") { $0["layers"] = [0, 1, 1, 2] }
        assertFails(try resume("run"), mentioning: "distinct")
    }

    func testSamplesDoneThatDisagreesWithTheStatisticsIsRefused() throws {
        try collect("run")
        try FileManager.default.moveItem(at: url("run/stats/checkpoint-000000016"), to: url("run/stats/checkpoint-000000008"))
        try editCheckpoint("run") {
            $0["samples_done"] = 8
            $0["folder"] = "checkpoint-000000008"
            $0["complete"] = false
        }
        // Resuming would add samples 8..<16 to statistics that already hold them (n = 24 for 16 samples).
        assertFails(try resume("run"), mentioning: "counts 16 samples but the checkpoint 8")
    }

    func testChangedStatisticsFailTheirChecksum() throws {
        try collect("run")
        let file = url("run/stats/checkpoint-000000016/layer_1.safetensors")
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: file)
        assertFails(try CorrSteerBinary.run(["select", url("run").path]), mentioning: "checksum")
    }

    func testChangedCollectionLogIsRefusedOnResume() throws {
        try collect("run")
        let log = url("run/collection.jsonl")
        let text = try String(contentsOf: log, encoding: .utf8)
        let changed = text.contains("\"reward\":0") ? text.replacingOccurrences(of: "\"reward\":0", with: "\"reward\":1") : text + "x"
        try changed.write(to: log, atomically: true, encoding: .utf8)
        try editCheckpoint("run") { $0["complete"] = false }
        assertFails(try resume("run"), mentioning: "collection.jsonl")
    }

    func testStatisticsThatNoSamplesCanGiveAreRefused() throws {
        try collect("run")
        // Rewrite layer 2 with a negative activation count and record its checksum, as an edit that
        // kept the checkpoint consistent would.
        let file = url("run/stats/checkpoint-000000016/layer_2.safetensors")
        let original = try SafeTensorsFile(url: file)
        var entries: [SafeTensorsWriter.Entry] = []
        for name in original.names {
            let info = try original.info(name)
            var bytes = Data(bytes: try original.raw(name).bytes, count: info.dataRange.count)
            if name == "count_active" { bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: Int64(-3).littleEndian) { Data($0) }) }
            entries.append(.init(name: name, dtype: info.dtype, shape: info.shape, bytes: bytes))
        }
        try SafeTensorsWriter.write(entries, metadata: original.metadata, to: file)
        let checksum = try FileChecksum.of(fileAt: file)
        try editCheckpoint("run") {
            var sums = $0["checksums"] as? [String: String] ?? [:]
            sums["layer_2.safetensors"] = checksum
            $0["checksums"] = sums
        }
        assertFails(try CorrSteerBinary.run(["select", url("run").path]), mentioning: "count_active")
    }

    func testOrphanedCheckpointFoldersAreRemoved() throws {
        try collect("run")
        try FileManager.default.createDirectory(at: url("run/stats/checkpoint-000000004"), withIntermediateDirectories: true)
        try editCheckpoint("run") { $0["complete"] = false }
        XCTAssertEqual(try resume("run").status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: url("run/stats/checkpoint-000000004").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: url("run/stats/checkpoint-000000016").path))
    }

    // MARK: Merge

    func testMergeRefusesShardsThatWouldCountSamplesTwice() throws {
        try collect("shard0", extra: ["--shard", "0/2"])
        try collect("shard0-again", extra: ["--shard", "0/2"])
        try collect("whole")
        try collect("whole-again")
        func merge(_ runs: [String], into out: String) throws -> CorrSteerBinary.Result {
            try CorrSteerBinary.run(["merge"] + runs.map { url($0).path } + ["--out", url(out).path])
        }
        assertFails(try merge(["shard0", "shard0"], into: "m1"), mentioning: "same run")
        assertFails(try merge(["shard0", "shard0-again"], into: "m2"), mentioning: "both shard 0/2")
        assertFails(try merge(["whole", "whole-again"], into: "m3"), mentioning: "not a shard")
        for out in ["m1", "m2", "m3"] { XCTAssertFalse(FileManager.default.fileExists(atPath: url(out).path), out) }
    }

    func testMergeRefusesAShardLogWithFewerSamplesThanItsCheckpoint() throws {
        for i in 0..<2 { try collect("shard\(i)", extra: ["--shard", "\(i)/2"]) }
        // Damage a line in the middle and record the damaged log's checksum, as a consistent edit would.
        let log = url("shard1/collection.jsonl")
        var lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        lines[2] = "{torn"
        try lines.joined(separator: "\n").write(to: log, atomically: true, encoding: .utf8)
        let checksum = try FileChecksum.of(fileAt: log)
        try editCheckpoint("shard1") { $0["collection_log_checksum"] = checksum }
        let result = try CorrSteerBinary.run(["merge", url("shard0").path, url("shard1").path, "--out", url("merged").path])
        assertFails(result, mentioning: "readable samples")
        XCTAssertFalse(FileManager.default.fileExists(atPath: url("merged/manifest.json").path))
    }

    // MARK: One writer

    func testASecondWriterStopsAtOnceNamingTheHolder() throws {
        try collect("run")
        let descriptor = open(url("run/.lock").path, O_RDWR)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        XCTAssertEqual(flock(descriptor, LOCK_EX | LOCK_NB), 0)
        let holder = "pid 4242 on testhost: corrsteer collect"
        _ = ftruncate(descriptor, 0)
        _ = holder.withCString { pwrite(descriptor, $0, strlen($0), 0) }

        let started = Date()
        assertFails(try resume("run"), mentioning: holder)
        assertFails(try CorrSteerBinary.run(["select", url("run").path]), mentioning: "another corrsteer process")
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "a second writer must not wait")

        flock(descriptor, LOCK_UN)
        XCTAssertEqual(try CorrSteerBinary.run(["select", url("run").path]).status, 0)
    }
}
