import Foundation
import WeightFiles

/// `manifest.json`: what a run is (model, SAE, task, sites, options) and what it took.
public struct RunManifest: Codable, Sendable {
    public static let currentVersion = 1
    public static let toolVersion = "0.1.0"

    public struct ModelFacts: Codable, Sendable {
        public var path: String
        public var modelType: String
        public var layers: Int
        public var hiddenSize: Int
        public var dtype: String
        enum CodingKeys: String, CodingKey {
            case path, layers, dtype
            case modelType = "model_type"
            case hiddenSize = "hidden_size"
        }
    }

    public struct TaskFacts: Codable, Sendable {
        public var name: String
        public var kind: String
        public var maxNewTokens: Int
        public var optionStrings: [String]
        public var train: Int
        public var validation: Int
        public var test: Int
        public var scorer: String
        enum CodingKeys: String, CodingKey {
            case name, kind, train, validation, test, scorer
            case maxNewTokens = "max_new_tokens"
            case optionStrings = "option_strings"
        }
    }

    public struct LayerFacts: Codable, Sendable {
        public var layer: Int
        public var site: String
        public var width: Int
        public var sae: String?
        public var neuronpedia: String?
    }

    public var version = RunManifest.currentVersion
    public var toolVersion = RunManifest.toolVersion
    public var created: String
    public var configuration: CollectionConfiguration
    public var model: ModelFacts
    public var task: TaskFacts
    public var layers: [LayerFacts]
    /// Samples this run collects (its shard's slice of the train split).
    public var samples: Int
    public var collectionSeconds: Double?
    public var samplesPerSecond: Double?
    /// Runs this one was merged from.
    public var mergedFrom: [String]?

    enum CodingKeys: String, CodingKey {
        case version, created, configuration, model, task, layers, samples
        case toolVersion = "tool_version"
        case collectionSeconds = "collection_seconds"
        case samplesPerSecond = "samples_per_second"
        case mergedFrom = "merged_from"
    }

    public static func load(from run: RunDirectory) throws -> RunManifest {
        guard FileManager.default.fileExists(atPath: run.manifest.path) else {
            throw RunError.invalidRun(path: run.url.path, reason: "not a corrsteer run (no manifest.json)")
        }
        do {
            return try JSONDecoder().decode(RunManifest.self, from: Data(contentsOf: run.manifest))
        } catch let error as DecodingError {
            // Named by field; Foundation's own description quotes the offending value whole.
            throw RunError.invalidRun(path: run.manifest.path, reason: "unreadable manifest: \(RunFileCoding.describe(error))")
        } catch {
            throw RunError.invalidRun(path: run.manifest.path, reason: "unreadable manifest: \(RunError.quoted("\(error)"))")
        }
    }

    public func save(to run: RunDirectory) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self), to: run.manifest)
    }

    public func site(of layer: Int) -> String? { layers.first { $0.layer == layer }?.site }

    static func timestamp() -> String {
        ISO8601DateFormatter().string(from: Date())
    }
}
