import Foundation
import XCTest

/// An installed corrsteer (scripts/install.sh layout: PREFIX/bin/corrsteer and PREFIX/share/corrsteer/demo)
/// runs the demo from any folder, and a lone binary says where it looked instead of crashing.
final class InstallTests: XCTestCase {
    private var prefix: URL!

    override func setUpWithError() throws {
        prefix = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: CorrSteerBinary.url, to: prefix.appendingPathComponent("bin/corrsteer"))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: prefix)
    }

    private func run(_ arguments: [String], in folder: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = prefix.appendingPathComponent("bin/corrsteer")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "CORRSTEER_DEMO" }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString)")
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    func testALoneBinarySaysWhereItLookedForTheDemo() throws {
        let result = try run(["demo", "--quiet"], in: prefix)
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("share/corrsteer/demo"), result.stderr)
        XCTAssertTrue(result.stderr.contains("scripts/install.sh"), result.stderr)
    }

    func testInstalledBinaryRunsTheDemoFromAnotherFolder() throws {
        let share = prefix.appendingPathComponent("share/corrsteer")
        try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: CorrSteerBinary.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo"),
            to: share.appendingPathComponent("demo"))
        let elsewhere = prefix.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let result = try run(["demo", "--quiet", "--out", "runs/demo"], in: elsewhere)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("Results on the held-out test split"), result.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: elsewhere.appendingPathComponent("runs/demo/report.html").path))
    }

    func testVersion() throws {
        let result = try run(["--version"], in: prefix)
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.hasPrefix("0."), result.stdout)
    }
}
