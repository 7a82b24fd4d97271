import Foundation
import WeightFiles

/// One ranked feature of one layer, as stored in `features.json`.
///
/// JSON (snake_case, stable):
/// `{"feature": 1234, "r": 0.31, "score": 0.31, "coefficient": 5.2, "frequency": 71.3,
///   "freq_correct": 40.1, "freq_incorrect": 31.2, "coeff_success": 5.2, "coeff_failure": 3.9,
///   "neuronpedia_url": "https://…"}`
/// - `r`: Pearson correlation with the reward (correlation view).
/// - `score`: the ranking score the candidate was selected by (|r|, MI, Fisher or CAA).
/// - `coefficient`: the steering coefficient, i.e. what `W_dec[feature]` is multiplied by: the chosen
///   coefficient kind × `scale`, and −|c| for negatively correlated candidates (the reference stores the
///   unsigned mean in its `top_negative` lists and negates only `selected`; we store what is steered).
/// - `frequency`, `freq_correct`, `freq_incorrect`: percent of all samples where the feature is active
///   (overall / in correct samples / in incorrect samples; the last two are also divided by all samples).
/// - `coeff_success`, `coeff_failure`: mean activation over correct / incorrect samples (the active-only
///   means when the coefficient kind is `active-mean`).
/// - `neuronpedia_url`: present when the SAE has a known Neuronpedia source.
public struct FeatureCandidate: Codable, Equatable, Sendable {
    public var feature: Int
    public var correlation: Double
    public var score: Double
    public var coefficient: Double
    public var frequency: Double
    public var frequencyCorrect: Double
    public var frequencyIncorrect: Double
    public var coefficientSuccess: Double
    public var coefficientFailure: Double
    public var neuronpediaURL: String?

    public init(
        feature: Int, correlation: Double, score: Double, coefficient: Double, frequency: Double,
        frequencyCorrect: Double, frequencyIncorrect: Double, coefficientSuccess: Double,
        coefficientFailure: Double, neuronpediaURL: String? = nil
    ) {
        self.feature = feature
        self.correlation = correlation
        self.score = score
        self.coefficient = coefficient
        self.frequency = frequency
        self.frequencyCorrect = frequencyCorrect
        self.frequencyIncorrect = frequencyIncorrect
        self.coefficientSuccess = coefficientSuccess
        self.coefficientFailure = coefficientFailure
        self.neuronpediaURL = neuronpediaURL
    }

    enum CodingKeys: String, CodingKey {
        case feature, correlation = "r", score, coefficient, frequency
        case frequencyCorrect = "freq_correct", frequencyIncorrect = "freq_incorrect"
        case coefficientSuccess = "coeff_success", coefficientFailure = "coeff_failure"
        case neuronpediaURL = "neuronpedia_url"
    }
}

/// The candidates of one layer in `features.json`:
/// `{"layer": 12, "site": "blocks.12.hook_resid_post", "top_positive": [...], "top_negative": [...],
///   "selected": {...} | null, "warnings": ["..."]}`.
/// `selected` is the layer's steering feature (method §5.1); it is null, with a warning, when the layer
/// has no candidate of the requested polarity.
public struct LayerCandidates: Codable, Equatable, Sendable {
    public var layer: Int
    public var site: String
    public var topPositive: [FeatureCandidate]
    public var topNegative: [FeatureCandidate]
    public var selected: FeatureCandidate?
    public var warnings: [String]

    public init(layer: Int, site: String, topPositive: [FeatureCandidate], topNegative: [FeatureCandidate],
                selected: FeatureCandidate?, warnings: [String] = []) {
        self.layer = layer
        self.site = site
        self.topPositive = topPositive
        self.topNegative = topNegative
        self.selected = selected
        self.warnings = warnings
    }

    enum CodingKeys: String, CodingKey {
        case layer, site, topPositive = "top_positive", topNegative = "top_negative", selected, warnings
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        layer = try c.decode(Int.self, forKey: .layer)
        site = try c.decode(String.self, forKey: .site)
        topPositive = try c.decode([FeatureCandidate].self, forKey: .topPositive)
        topNegative = try c.decode([FeatureCandidate].self, forKey: .topNegative)
        selected = try c.decodeIfPresent(FeatureCandidate.self, forKey: .selected)
        warnings = try c.decodeIfPresent([String].self, forKey: .warnings) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(layer, forKey: .layer)
        try c.encode(site, forKey: .site)
        try c.encode(topPositive, forKey: .topPositive)
        try c.encode(topNegative, forKey: .topNegative)
        try c.encode(selected, forKey: .selected)  // explicit null keeps the key visible
        try c.encode(warnings, forKey: .warnings)
    }
}

/// `features.json`: the per-layer candidates of a run plus the facts needed to read them.
///
/// ```
/// {"version": 1, "model": "...", "sae": "...", "task": "mmlu",
///  "samples": 4000, "successes": 2101, "pool": "max", "steer_pool": "max",
///  "score": "corr", "polarity": "positive", "coefficient": "mean", "scale": 1.0, "top_k": 20,
///  "neuronpedia": "gemma-2-2b/{L}-gemmascope-res-16k",
///  "layers": [LayerCandidates, ...]}
/// ```
/// `model`, `sae`, `task`, `neuronpedia` may be null. Layers are in ascending order.
public struct FeatureCandidates: Codable, Equatable, Sendable {
    public static let currentVersion = 1

    public var version: Int
    public var model: String?
    public var sae: String?
    public var task: String?
    /// Samples collected (n) and how many had reward > 0.
    public var samples: Int
    public var successes: Int
    /// Pooling of the correlation view (`--pool`) and of the coefficient view (`--steer-pool`): "max" | "mean".
    public var pool: String
    public var steerPool: String
    public var score: RankingScore
    public var polarity: Polarity
    public var coefficient: CoefficientKind
    public var scale: Double
    public var topK: Int
    /// Neuronpedia source template with `{L}` for the layer, e.g. `gemma-2-2b/{L}-gemmascope-res-16k`.
    public var neuronpedia: String?
    public var layers: [LayerCandidates]

    public init(
        model: String? = nil, sae: String? = nil, task: String? = nil, samples: Int, successes: Int,
        pool: String, steerPool: String, options: SelectionOptions, neuronpedia: String? = nil,
        layers: [LayerCandidates]
    ) {
        version = Self.currentVersion
        self.model = model
        self.sae = sae
        self.task = task
        self.samples = samples
        self.successes = successes
        self.pool = pool
        self.steerPool = steerPool
        score = options.score
        polarity = options.polarity
        coefficient = options.coefficient
        scale = options.scale
        topK = options.topK
        self.neuronpedia = neuronpedia
        self.layers = layers.sorted { $0.layer < $1.layer }
    }

    public var selectionOptions: SelectionOptions {
        SelectionOptions(topK: topK, score: score, polarity: polarity, coefficient: coefficient, scale: scale)
    }

    enum CodingKeys: String, CodingKey {
        case version, model, sae, task, samples, successes, pool, steerPool = "steer_pool", score, polarity
        case coefficient, scale, topK = "top_k", neuronpedia, layers
    }

    public func layer(_ index: Int) -> LayerCandidates? { layers.first { $0.layer == index } }

    public func save(to url: URL) throws { try RunFileCoding.write(self, to: url) }

    public static func load(from url: URL) throws -> FeatureCandidates {
        let value = try RunFileCoding.read(FeatureCandidates.self, from: url)
        guard value.version == currentVersion else {
            throw RunFileError.malformed(path: url.path, reason: "version \(value.version) is not supported (this build reads \(currentVersion))")
        }
        var seen = Set<Int>()
        for layer in value.layers where !seen.insert(layer.layer).inserted {
            throw RunFileError.malformed(path: url.path, reason: "layer \(layer.layer) appears twice")
        }
        return value
    }
}

/// Neuronpedia feature pages. Sources are templates with `{L}` for the layer, e.g.
/// `gemma-2-2b/{L}-gemmascope-res-16k` → `https://www.neuronpedia.org/gemma-2-2b/12-gemmascope-res-16k/345`.
public enum NeuronpediaLink {
    public static func url(source: String, layer: Int, feature: Int) -> String {
        let path = source.replacingOccurrences(of: "{L}", with: String(layer))
        return "https://www.neuronpedia.org/\(path)/\(feature)"
    }

    /// The Neuronpedia source of the few SAE releases whose Neuronpedia ids are known, nil otherwise:
    /// Gemma Scope 2B residual canonical SAEs (`gemma-scope-2b-pt-res-canonical`, width from the SAE id such
    /// as `layer_12/width_16k/canonical`, default 16k) and Llama Scope residual 8x (`llama_scope_lxr_8x`).
    public static func source(forRelease release: String, saeID: String? = nil) -> String? {
        let name = release.lowercased()
        if name.contains("gemma-scope-2b-pt-res-canonical") {
            let width = saeID.flatMap { id in ["16k", "65k"].first { id.contains("width_\($0)") } } ?? "16k"
            return "gemma-2-2b/{L}-gemmascope-res-\(width)"
        }
        if name.contains("llama_scope_lxr_8x") {
            return "llama3.1-8b/{L}-llamascope-res-32k"
        }
        return nil
    }
}

/// A run-directory JSON file that cannot be read or is not what it should be.
public enum RunFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .malformed(path, reason): return "\(path): \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write: \(reason)"
        }
    }
}

/// JSON encoding shared by every run-directory file: sorted keys, pretty-printed, non-finite numbers as
/// the strings "inf", "-inf", "nan"; writes are atomic; decoding errors name the file and the field path.
public enum RunFileCoding {
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        let data: Data
        do {
            data = try encoder().encode(value) + Data("\n".utf8)
        } catch {
            throw RunFileError.unwritable(path: url.path, reason: "\(error)")
        }
        do {
            try AtomicFile.write(data, to: url)
        } catch {
            throw RunFileError.unwritable(path: url.path, reason: "\(error)")
        }
    }

    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw RunFileError.unreadable(path: url.path, reason: RunFileCoding.readFailure(url, error))
        }
        return try decode(type, from: data, path: url.path)
    }

    /// Why reading `url` failed, in words (Foundation's Linux messages are generic).
    public static func readFailure(_ url: URL, _ error: Error) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "is a directory, expected a file" }
        return (error as NSError).localizedDescription
    }

    /// Decodes `data`; `path` (and `line`, for JSON Lines) name the source in errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String, line: Int? = nil) throws -> T {
        do {
            return try decoder().decode(type, from: data)
        } catch let error as DecodingError {
            let place = line.map { "line \($0): " } ?? ""
            throw RunFileError.malformed(path: path, reason: place + describe(error))
        } catch {
            throw RunFileError.malformed(path: path, reason: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [CodingKey]) -> String {
            guard !path.isEmpty else { return "top level" }
            var text = ""
            for key in path {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return "field '\(text)'"
        }
        switch error {
        case let .keyNotFound(key, context):
            let parent = context.codingPath.isEmpty ? "" : " in \(field(context.codingPath))"
            return "missing field '\(key.stringValue)'\(parent)"
        case let .typeMismatch(type, context):
            return "\(field(context.codingPath)) should be \(typeName(type))"
        case let .valueNotFound(type, context):
            return "\(field(context.codingPath)) is null, expected \(typeName(type))"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            // The description may quote the offending value (an unknown enum string) at any length.
            return "\(field(context.codingPath)): \(RunError.quoted(context.debugDescription))"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}
