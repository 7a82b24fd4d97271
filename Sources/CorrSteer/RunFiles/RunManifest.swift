import Foundation
import InputQuoting
import Tensors
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
        /// Token ids that end a generation in this run (sorted; nil in manifests written before it was recorded).
        public var stopTokenIDs: [Int]?
        enum CodingKeys: String, CodingKey {
            case path, layers, dtype
            case modelType = "model_type"
            case hiddenSize = "hidden_size"
            case stopTokenIDs = "stop_token_ids"
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

    /// How the products were computed: the precision and kernels decide the last bits of every activation,
    /// so two runs compare exactly only with the same facts. `environment` keeps the CORRSTEER_* variables
    /// that set them.
    public struct ComputeFacts: Codable, Sendable, Equatable {
        public var precision: String
        public var kernelPath: String
        public var threads: Int
        public var environment: [String: String]
        /// What `--precision` asked for (auto, exact, fast) and why `precision` followed; absent in
        /// manifests written before `auto` existed.
        public var precisionChoice: String?
        public var precisionReason: String?
        enum CodingKeys: String, CodingKey {
            case precision, threads, environment
            case kernelPath = "kernel_path"
            case precisionChoice = "precision_choice"
            case precisionReason = "precision_reason"
        }

        /// The facts of this process.
        public static var current: ComputeFacts {
            let variables = ["CORRSTEER_PRECISION", "CORRSTEER_THREADS"]
            let environment = ProcessInfo.processInfo.environment.filter { variables.contains($0.key) }
            let decision = PrecisionSelector.current
            return ComputeFacts(precision: MatMul.defaultPrecision.rawValue, kernelPath: MatMul.kernelPath,
                                threads: Parallel.threadCount, environment: environment,
                                precisionChoice: decision?.choice.rawValue, precisionReason: decision?.reason)
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
    /// Nil in manifests written before it was recorded.
    public var compute: ComputeFacts? = .current
    /// Samples this run collects (its shard's slice of the train split).
    public var samples: Int
    public var collectionSeconds: Double?
    public var samplesPerSecond: Double?
    /// Runs this one was merged from.
    public var mergedFrom: [String]?
    /// How the collection held its SAE encoders (nil for `--raw` and older runs).
    public var memoryPlan: CollectionMemoryPlan?

    enum CodingKeys: String, CodingKey {
        case version, created, configuration, model, task, layers, samples, compute
        case toolVersion = "tool_version"
        case collectionSeconds = "collection_seconds"
        case samplesPerSecond = "samples_per_second"
        case mergedFrom = "merged_from"
        case memoryPlan = "memory_plan"
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
            throw RunError.invalidRun(path: run.manifest.path, reason: "unreadable manifest: \(QuotedInput.escaped("\(error)"))")
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
