import Foundation
import Tokenization
import XCTest

/// Where the tests find the package, its fixtures and the shared tokenizer files.
enum TestPaths {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url = url.deletingLastPathComponent()
        }
        return url
    }()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/tokenization")
    static let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/tokenizers")
    static let llama31 = shared.appendingPathComponent("llama-3.1")
    static let standIn = shared.appendingPathComponent("llama-2-spm-standin")
    static let gemmaLike = fixtures.appendingPathComponent("gemma-2-like")
}

/// Tokenizers loaded once per test process (the Llama-3.1 file is 9 MB).
enum LoadedTokenizers {
    static let llama31 = Result { try Tokenizer(directory: TestPaths.llama31) }
    static let standIn = Result { try Tokenizer(directory: TestPaths.standIn) }
    static let gemmaLike = Result { try Tokenizer(directory: TestPaths.gemmaLike) }

    static func named(_ name: String) -> Result<Tokenizer, Error> {
        switch name {
        case "llama-3.1": return llama31
        case "llama-2-spm-standin": return standIn
        case "gemma-2-like": return gemmaLike
        default:
            let variant = name.replacingOccurrences(of: "variant-", with: "")
            return Result { try Tokenizer(directory: TestPaths.fixtures.appendingPathComponent("variants/\(variant)")) }
        }
    }
}

enum FixtureFiles {
    static func json(_ url: URL) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url), options: [.fragmentsAllowed])
    }

    static func jsonLines(_ url: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n", omittingEmptySubsequences: true).map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    static func ints(_ value: Any?) -> [Int]? {
        (value as? [Any])?.map { ($0 as! NSNumber).intValue }
    }
}

/// A short description of where two id lists first differ.
func firstDifference(_ actual: [Int], _ expected: [Int]) -> String {
    let index = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actual.count, expected.count)
    let lo = max(0, index - 3)
    return "first difference at \(index): got \(Array(actual[lo..<min(actual.count, index + 4)])) expected \(Array(expected[lo..<min(expected.count, index + 4)])) (lengths \(actual.count) / \(expected.count))"
}

/// Text equality scalar by scalar (`String ==` would accept canonically equivalent text).
func assertSameText(_ actual: String, _ expected: String, _ message: @autoclosure () -> String = "",
                    file: StaticString = #filePath, line: UInt = #line) {
    if !actual.unicodeScalars.elementsEqual(expected.unicodeScalars) {
        XCTFail("\(message()): got \(actual.debugDescription.prefix(300)), expected \(expected.debugDescription.prefix(300))",
                file: file, line: line)
    }
}
