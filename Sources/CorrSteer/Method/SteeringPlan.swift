import Foundation
import InputQuoting
import WeightFiles

/// One steering vector of a plan: add `vector = coefficient · W_dec[feature]` (+ `b_dec` when
/// `decoderBias`) at `site` (method §6).
public struct SteeringPlanEntry: Equatable, Sendable {
    public var layer: Int
    /// Hook site name, e.g. `blocks.12.hook_resid_post`.
    public var site: String
    public var feature: Int
    public var coefficient: Double
    /// Correlation of the feature when it came from a selection.
    public var correlation: Double?
    /// Whether `vector` includes the SAE's decoder bias (the reference's `--decode`).
    public var decoderBias: Bool
    public var vector: [Float]

    public init(layer: Int, site: String, feature: Int, coefficient: Double, correlation: Double? = nil,
                decoderBias: Bool = false, vector: [Float]) {
        self.layer = layer
        self.site = site
        self.feature = feature
        self.coefficient = coefficient
        self.correlation = correlation
        self.decoderBias = decoderBias
        self.vector = vector
    }

    /// Euclidean norm of the vector.
    public var norm: Double { vector.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
}

/// Whether decoder-bias vectors are added (`--decode`).
public enum DecoderBiasMode: String, Codable, Sendable {
    /// Vectors are c · W_dec[i] (default, as the reference without `--decode`).
    case none
    /// Every vector also gets b_dec, i.e. the SAE decode of the one-hot action.
    case every
    /// Only the first (lowest) layer's vector gets b_dec: the reference's multi-layer `--decode` behaviour
    /// (method §11 bug 17), for `--paper-compat`.
    case firstLayerOnly = "first-layer-only"
}

/// A set of steering vectors: `plans/NAME.json` (metadata and entries, no numbers of the vectors) plus
/// `plans/NAME.safetensors` (one F32 tensor `vector.K` of shape [d] per entry K).
///
/// ```
/// {"version": 1, "name": "A", "strategy": "A", "source": "features.json", "model": "...", "sae": "...",
///  "decoder_bias": "none", "dimension": 2304,
///  "entries": [{"layer": 12, "site": "blocks.12.hook_resid_post", "feature": 345, "coefficient": 5.1,
///               "r": 0.31, "decoder_bias": false, "vector": "vector.0", "norm": 4.2}, ...]}
/// ```
/// `strategy`, `source`, `model`, `sae`, `r` may be null. Entries are in ascending layer order for plans
/// built from a selection; several entries may share a layer (their vectors add up).
public struct SteeringPlan: Equatable, Sendable {
    public static let currentVersion = 1

    public var name: String
    public var strategy: SteeringStrategy?
    /// Where the features came from: a features.json path, "--feature", a validation step …
    public var source: String?
    public var model: String?
    public var sae: String?
    public var decoderBiasMode: DecoderBiasMode
    public var entries: [SteeringPlanEntry]

    public init(name: String, strategy: SteeringStrategy? = nil, source: String? = nil, model: String? = nil,
                sae: String? = nil, decoderBiasMode: DecoderBiasMode = .none, entries: [SteeringPlanEntry]) {
        self.name = name
        self.strategy = strategy
        self.source = source
        self.model = model
        self.sae = sae
        self.decoderBiasMode = decoderBiasMode
        self.entries = entries
    }

    /// Hidden size of the vectors (0 for an empty plan).
    public var dimension: Int { entries.first?.vector.count ?? 0 }

    /// Decoder rows of `features` at `layer`, one `[Float]` of the model's hidden size per feature (the SAE
    /// module provides them; a closure keeps this module free of SAE types).
    public typealias DecoderRows = (_ layer: Int, _ features: [Int]) throws -> [[Float]]
    /// The SAE decoder bias b_dec at `layer`.
    public typealias DecoderBias = (_ layer: Int) throws -> [Float]

    /// Builds vectors c · W_dec[i] (+ b_dec per `decoderBiasMode`) for `choices`.
    public static func build(
        name: String, strategy: SteeringStrategy? = nil, source: String? = nil, model: String? = nil,
        sae: String? = nil, choices: [SteeringChoice], decoderBiasMode: DecoderBiasMode = .none,
        decoderRows: DecoderRows, decoderBias: DecoderBias? = nil
    ) throws -> SteeringPlan {
        if decoderBiasMode != .none && decoderBias == nil {
            throw SteeringPlanError.invalid("plan '\(name)': decoder bias requested but no decoder bias was provided")
        }
        let firstLayer = choices.map(\.layer).min()
        var byLayer: [Int: [Int]] = [:]
        for choice in choices { byLayer[choice.layer, default: []].append(choice.feature) }
        var rows: [Int: [Int: [Float]]] = [:]
        for (layer, features) in byLayer {
            let unique = Array(Set(features)).sorted()
            let fetched = try decoderRows(layer, unique)
            guard fetched.count == unique.count else {
                throw SteeringPlanError.invalid("decoder rows for layer \(layer): asked for \(unique.count) features, got \(fetched.count) rows")
            }
            rows[layer] = Dictionary(uniqueKeysWithValues: zip(unique, fetched))
        }
        var dimension: Int?
        var entries: [SteeringPlanEntry] = []
        for choice in choices {
            guard let row = rows[choice.layer]?[choice.feature] else {
                throw SteeringPlanError.invalid("no decoder row for layer \(choice.layer) feature \(choice.feature)")
            }
            let addBias = decoderBiasMode == .every || (decoderBiasMode == .firstLayerOnly && choice.layer == firstLayer)
            let c = Float(choice.coefficient)
            var vector = row.map { c * $0 }
            if addBias, let decoderBias {
                let bias = try decoderBias(choice.layer)
                guard bias.count == row.count else {
                    throw SteeringPlanError.invalid("layer \(choice.layer): decoder bias has \(bias.count) values, decoder rows \(row.count)")
                }
                for j in vector.indices { vector[j] += bias[j] }
            }
            if let dimension, dimension != vector.count {
                throw SteeringPlanError.invalid("layer \(choice.layer): decoder row has \(vector.count) values, other layers \(dimension)")
            }
            dimension = vector.count
            entries.append(SteeringPlanEntry(
                layer: choice.layer, site: choice.site, feature: choice.feature, coefficient: choice.coefficient,
                correlation: choice.correlation, decoderBias: addBias, vector: vector))
        }
        return SteeringPlan(name: name, strategy: strategy, source: source, model: model, sae: sae,
                            decoderBiasMode: decoderBiasMode, entries: entries)
    }

    /// The safetensors file beside a plan's JSON file (`plans/A.json` → `plans/A.safetensors`).
    public static func vectorsURL(forPlan url: URL) -> URL {
        url.deletingPathExtension().appendingPathExtension("safetensors")
    }

    /// Writes the vectors, then the JSON, each atomically.
    public func save(to url: URL) throws {
        let entries = self.entries.enumerated().map { index, entry in
            SafeTensorsWriter.Entry(name: "vector.\(index)", shape: [entry.vector.count], floats: entry.vector)
        }
        try SafeTensorsWriter.write(entries, metadata: ["format": "corrsteer.steering_plan", "plan": name],
                                    to: Self.vectorsURL(forPlan: url))
        try RunFileCoding.write(PlanFile(self), to: url)
    }

    public static func load(from url: URL) throws -> SteeringPlan {
        let file = try RunFileCoding.read(PlanFile.self, from: url)
        guard file.version == currentVersion else {
            throw RunFileError.malformed(path: url.path, reason: "plan version \(file.version) is not supported (this build reads \(currentVersion))")
        }
        let vectorsURL = vectorsURL(forPlan: url)
        guard FileManager.default.fileExists(atPath: vectorsURL.path) else {
            throw RunFileError.unreadable(path: vectorsURL.path, reason: "the plan's vector file is missing")
        }
        let tensors = try SafeTensorsFile(url: vectorsURL)
        var entries: [SteeringPlanEntry] = []
        for (index, entry) in file.entries.enumerated() {
            guard tensors.contains(entry.vector) else {
                throw RunFileError.malformed(path: vectorsURL.path, reason: "entry \(index) (layer \(entry.layer) feature \(entry.feature)) needs tensor '\(QuotedInput.escaped(entry.vector))', which is missing")
            }
            let info = try tensors.info(entry.vector)
            guard info.dtype == "F32", info.shape == [file.dimension] else {
                throw RunFileError.malformed(path: vectorsURL.path, reason: "tensor '\(entry.vector)' is \(info.dtype) \(info.shape), expected F32 [\(file.dimension)]")
            }
            entries.append(SteeringPlanEntry(
                layer: entry.layer, site: entry.site, feature: entry.feature, coefficient: entry.coefficient,
                correlation: entry.correlation, decoderBias: entry.decoderBias,
                vector: try tensors.tensor(entry.vector).floats()))
        }
        return SteeringPlan(name: file.name, strategy: file.strategy, source: file.source, model: file.model,
                            sae: file.sae, decoderBiasMode: file.decoderBias, entries: entries)
    }
}

public enum SteeringPlanError: Error, CustomStringConvertible, Equatable {
    case invalid(String)

    public var description: String {
        switch self {
        case let .invalid(reason): return "steering plan: \(reason)"
        }
    }
}

/// The JSON shape of a plan file.
struct PlanFile: Codable {
    struct Entry: Codable {
        var layer: Int
        var site: String
        var feature: Int
        var coefficient: Double
        var correlation: Double?
        var decoderBias: Bool
        var vector: String
        var norm: Double

        enum CodingKeys: String, CodingKey {
            case layer, site, feature, coefficient, correlation = "r", decoderBias = "decoder_bias", vector, norm
        }
    }

    var version: Int
    var name: String
    var strategy: SteeringStrategy?
    var source: String?
    var model: String?
    var sae: String?
    var decoderBias: DecoderBiasMode
    var dimension: Int
    var entries: [Entry]

    enum CodingKeys: String, CodingKey {
        case version, name, strategy, source, model, sae, decoderBias = "decoder_bias", dimension, entries
    }

    init(_ plan: SteeringPlan) {
        version = SteeringPlan.currentVersion
        name = plan.name
        strategy = plan.strategy
        source = plan.source
        model = plan.model
        sae = plan.sae
        decoderBias = plan.decoderBiasMode
        dimension = plan.dimension
        entries = plan.entries.enumerated().map { index, entry in
            Entry(layer: entry.layer, site: entry.site, feature: entry.feature, coefficient: entry.coefficient,
                  correlation: entry.correlation, decoderBias: entry.decoderBias, vector: "vector.\(index)",
                  norm: entry.norm)
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(name, forKey: .name)
        try c.encode(strategy, forKey: .strategy)
        try c.encode(source, forKey: .source)
        try c.encode(model, forKey: .model)
        try c.encode(sae, forKey: .sae)
        try c.encode(decoderBias, forKey: .decoderBias)
        try c.encode(dimension, forKey: .dimension)
        try c.encode(entries, forKey: .entries)
    }
}
