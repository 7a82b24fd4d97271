import Foundation
import XCTest

/// Paths and fixture access shared by the Tasks tests.
enum TestSupport {
    /// The directory holding Package.swift.
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url = url.deletingLastPathComponent()
        }
        return url
    }()

    /// `../shared/data` beside the package (CI clones it there).
    static let sharedData = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")

    static func fixture(_ name: String) throws -> [String: Any] {
        let url = packageRoot.appendingPathComponent("Tests/Fixtures/tasks/\(name)")
        let data = try Data(contentsOf: url)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
    }

    /// A fresh empty directory for files a test writes.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("corrsteer-tasks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ text: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// An executable /bin/sh script.
    static func script(_ body: String, in directory: URL, name: String = "scorer.sh") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try write("#!/bin/sh\n" + body + "\n", to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url
    }
}

extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String { self[key] as? String ?? "<missing \(key)>" }
    func strings(_ key: String) -> [String] { self[key] as? [String] ?? [] }
    func ints(_ key: String) -> [Int] { (self[key] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }
    func int(_ key: String) -> Int { (self[key] as? NSNumber)?.intValue ?? -1 }
    func objects(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    func object(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
}
