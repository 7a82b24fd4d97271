import Foundation
import LanguageModels
import Tensors
import WeightFiles
import XCTest

/// The tiny checkpoints and transformers' outputs made by scripts/fixtures/models.py.
enum Fixtures {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static let models = packageRoot.appendingPathComponent("Tests/Fixtures/models")

    static func modelDirectory(_ name: String) -> URL { models.appendingPathComponent(name) }

    /// A copy of fixture model `name` in a new folder under `scratch`, with its config.json edited.
    static func editedCopy(of name: String, in scratch: URL, config edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let target = scratch.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: modelDirectory(name), to: target)
        let url = target.appendingPathComponent("config.json")
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return target
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: LanguageModel] = [:]

    static func model(_ name: String) throws -> LanguageModel {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let model = loaded[name] { return model }
        let model = try LanguageModel.load(directory: modelDirectory(name))
        loaded[name] = model
        return model
    }

    static func reference(_ name: String) throws -> Reference {
        try Reference(file: SafeTensorsFile(url: models.appendingPathComponent("reference/\(name).safetensors")))
    }
}

/// Expected values for one fixture model.
struct Reference {
    let file: SafeTensorsFile

    var sequenceCount: Int { Int(file.metadata["sequences"]!)! }
    var sequences: [[Int]] { (0..<sequenceCount).map { ints("tokens.\($0)") } }

    func floats(_ name: String) throws -> [Float] { try file.tensor(name).floats() }
    func ints(_ name: String) -> [Int] { (try? file.int64s(name))!.map { Int($0) } }
    func has(_ name: String) -> Bool { file.contains(name) }
    func meta(_ key: String) -> String? { file.metadata[key] }
}

/// Largest |a − b| / (1 + |b|) over two equal-length arrays.
func maxRelativeError(_ actual: [Float], _ expected: [Float], file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(actual.count, expected.count, "element counts differ", file: file, line: line)
    var worst: Float = 0
    for (a, b) in zip(actual, expected) {
        let e = abs(a - b) / (1 + abs(b))
        if !(e <= worst) { worst = e.isNaN ? .infinity : e }
    }
    return worst
}

/// Rows of a [rows, width] matrix, from `first` on.
func rowsOf(_ values: [Float], width: Int, from first: Int = 0) -> [Float] {
    Array(values[(first * width)...])
}
