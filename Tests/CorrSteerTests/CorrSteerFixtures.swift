import CorrSteer
import Foundation
import XCTest

/// Locations of committed fixtures (produced by scripts/fixtures/corrsteer_*.py).
enum CorrSteerFixtures {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static func url(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/Fixtures/corrsteer").appendingPathComponent(name)
    }

    /// Fixture JSON, decoded with JSONDecoder: JSONSerialization on Linux rounds some doubles by an ulp.
    static func json(_ name: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url(name)))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("corrsteer-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A parsed JSON value with exact doubles.
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    var array: [JSONValue] {
        if case let .array(a) = self { return a }
        return []
    }

    var double: Double {
        if case let .number(d) = self { return d }
        preconditionFailure("not a number: \(self)")
    }

    var int: Int { Int(double) }
    var string: String? { if case let .string(s) = self { return s } else { return nil } }
    var isNull: Bool { if case .null = self { return true } else { return false } }
}

func doubles(_ value: JSONValue?) -> [Double] { (value?.array ?? []).map(\.double) }
func ints(_ value: JSONValue?) -> [Int] { (value?.array ?? []).map(\.int) }
func double(_ value: JSONValue?) -> Double { value!.double }

/// |a − b| ≤ tolerance · max(|b|, floor): relative, with an absolute floor for values near zero.
func assertClose(_ actual: [Double], _ expected: [Double], relative: Double = 1e-9, floor: Double = 1e-12,
                 _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(label): length", file: file, line: line)
    for (i, (a, b)) in zip(actual, expected).enumerated() where abs(a - b) > relative * max(abs(b), floor) {
        XCTFail("\(label)[\(i)]: \(a) vs expected \(b)", file: file, line: line)
        return
    }
}

func assertClose(_ actual: Double, _ expected: Double, relative: Double = 1e-9, floor: Double = 1e-12,
                 _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    assertClose([actual], [expected], relative: relative, floor: floor, label, file: file, line: line)
}

/// The error `body` throws, or a failure when it does not throw.
func thrownError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> Error? {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// A layer whose selected feature is 10·layer with correlation r and coefficient 10·layer + 1.
func makeLayer(_ layer: Int, r: Double) -> LayerCandidates {
    let feature = FeatureCandidate(feature: layer * 10, correlation: r, score: abs(r), coefficient: Double(layer * 10 + 1),
                                   frequency: 50, frequencyCorrect: 30, frequencyIncorrect: 20, coefficientSuccess: 1,
                                   coefficientFailure: 0.5, neuronpediaURL: "https://www.neuronpedia.org/x/\(layer)/\(layer * 10)")
    return LayerCandidates(layer: layer, site: "blocks.\(layer).hook_resid_post",
                           topPositive: r > 0 ? [feature] : [], topNegative: r < 0 ? [feature] : [], selected: feature)
}

func makeFeatures(_ layers: [LayerCandidates]) -> FeatureCandidates {
    FeatureCandidates(model: "m", sae: "s", task: "t", samples: 100, successes: 40, pool: "max", steerPool: "max",
                      options: SelectionOptions(), neuronpedia: nil, layers: layers)
}
