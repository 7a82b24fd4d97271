import Foundation
import SparseAutoencoders
import WeightFiles
import XCTest

/// Paths and reference values written by scripts/fixtures/sae.py.
enum SAEFixtures {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("Tests/Fixtures/sae")
    }()

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Inputs, reference codes and reference decoder rows of one fixture SAE.
    struct Expected {
        let x: [Float]
        let z: [Float]
        let rows: Int
        let rowsIndex: [Int]
        let decoderRows: [[Float]]
        let decoderBias: [Float]
        let file: SafeTensorsFile

        init(_ name: String) throws {
            file = try SafeTensorsFile(url: SAEFixtures.url("expected/\(name).safetensors"))
            let xTensor = try file.tensor("x")
            x = xTensor.floats()
            rows = xTensor.shape[0]
            z = try file.tensor("z").floats()
            rowsIndex = try file.int64s("rows_index").map { Int($0) }
            let rowsTensor = try file.tensor("rows")
            let width = rowsTensor.shape[1]
            let flat = rowsTensor.floats()
            decoderRows = (0..<rowsTensor.shape[0]).map { Array(flat[$0 * width..<($0 + 1) * width]) }
            decoderBias = try file.tensor("b_dec").floats()
        }

        func extra(_ name: String) throws -> [Float] { try file.tensor(name).floats() }
    }
}

/// |got − ref| ≤ tolerance·(1 + |ref|) everywhere, reporting the worst element.
func assertClose(_ got: [Float], _ ref: [Float], tolerance: Float = 1e-5, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, ref.count, "\(label): element count", file: file, line: line)
    var worst: (Float, Int) = (0, -1)
    for i in 0..<min(got.count, ref.count) {
        let error = abs(got[i] - ref[i]) / (1 + abs(ref[i]))
        if !(error <= worst.0) { worst = (error.isNaN ? .infinity : error, i) }
    }
    if worst.1 >= 0 {
        XCTAssertLessThanOrEqual(worst.0, tolerance, "\(label): element \(worst.1) is \(got[worst.1]), reference \(ref[worst.1])", file: file, line: line)
    }
}

/// Runs `body`, which must throw an error whose message contains every fragment.
func assertThrows(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch {
        let message = "\(error)"
        for fragment in fragments where !message.contains(fragment) {
            XCTFail("'\(message)' does not mention '\(fragment)'", file: file, line: line)
        }
    }
}

/// A scratch directory removed when the test ends.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sae-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Copies a fixture file or folder in, under `name` (which may contain folders).
    @discardableResult
    func copy(_ fixture: String, as name: String) throws -> URL {
        let target = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: SAEFixtures.url(fixture), to: target)
        return target
    }

    /// Rewrites a JSON object file through `edit`.
    func editJSON(_ file: URL, _ edit: (inout [String: Any]) -> Void) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: file)
    }
}
