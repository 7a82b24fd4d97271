import Foundation

/// The files of one CorrSteer run (DESIGN.md §4). Every path a stage reads or writes comes from here.
public struct RunDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }
    public init(path: String) { self.url = URL(fileURLWithPath: path) }

    public var manifest: URL { url.appendingPathComponent("manifest.json") }
    public var collectionLog: URL { url.appendingPathComponent("collection.jsonl") }
    public var statsDirectory: URL { url.appendingPathComponent("stats") }
    /// Written once the collection has processed every sample it was asked for (merge jobs wait for it).
    public var collectionComplete: URL { statsDirectory.appendingPathComponent("complete") }
    public var checkpoint: URL { statsDirectory.appendingPathComponent("checkpoint.json") }
    public var features: URL { url.appendingPathComponent("features.json") }
    public var plansDirectory: URL { url.appendingPathComponent("plans") }
    public func plan(_ name: String) -> URL { plansDirectory.appendingPathComponent("\(name).json") }
    public var evalDirectory: URL { url.appendingPathComponent("eval") }
    public func predictions(variant: String) -> URL { evalDirectory.appendingPathComponent(variant).appendingPathComponent("predictions.jsonl") }
    public func metrics(variant: String) -> URL { evalDirectory.appendingPathComponent(variant).appendingPathComponent("metrics.json") }
    public var reportMarkdown: URL { url.appendingPathComponent("report.md") }
    public var reportHTML: URL { url.appendingPathComponent("report.html") }

    public var exists: Bool { FileManager.default.fileExists(atPath: manifest.path) }

    public func create() throws {
        do {
            try FileManager.default.createDirectory(at: statsDirectory, withIntermediateDirectories: true)
        } catch {
            throw RunError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }
}
