import CorrSteer
import Foundation
import LanguageModels
import SparseAutoencoders

/// What one request adds to the residual stream: one summed vector per site, and whether it applies to
/// every prompt position or only from the last prompt token on (generated tokens always get it).
public struct SteeringVectors: Sendable, Equatable {
    public var sites: [HookSite: [Float]]
    public var allPositions: Bool

    public init(sites: [HookSite: [Float]], allPositions: Bool) {
        self.sites = sites
        self.allPositions = allPositions
    }
}

/// A plan the server can apply by name.
public struct RegisteredPlan: Sendable {
    public let name: String
    public let plan: SteeringPlan
    /// The plan's vectors summed per site, in entry order, as `SteeringHook` sums them (so that scale 1
    /// steers bit for bit like `corrsteer generate --plan`).
    let sums: [HookSite: [Float]]
}

/// Reads decoder rows from `--sae` for requests that name features; each layer's SAE is opened
/// (encoder memory-mapped, decoder read by row) on first use and kept.
public final class DecoderRowSource: @unchecked Sendable {
    private let path: URL
    private let references: [Int: SAEReference]
    private let lock = NSLock()
    private var opened: [Int: SparseAutoencoder] = [:]

    public init(path: URL) throws {
        self.path = path
        references = try SAESet.discover(path: path)
    }

    public var layers: [Int] { references.keys.sorted() }

    /// The row of `feature` at `layer` and the site the SAE reads.
    func row(layer: Int, feature: Int) throws -> (site: HookSite, row: [Float]) {
        guard let reference = references[layer] else {
            throw ServingError.invalid("steering.vectors: layer \(layer) has no SAE in --sae (layers: \(layers.map(String.init).joined(separator: ", ")))", field: "steering.vectors")
        }
        lock.lock()
        defer { lock.unlock() }
        let sae: SparseAutoencoder
        if let known = opened[layer] {
            sae = known
        } else {
            sae = try SparseAutoencoder.load(reference, encoderOnly: true)
            opened[layer] = sae
        }
        guard feature >= 0, feature < sae.dSAE else {
            throw ServingError.invalid("steering.vectors: feature \(feature) does not exist at layer \(layer) (0…\(sae.dSAE - 1))", field: "steering.vectors")
        }
        guard let site = HookSite(name: sae.hookName) else {
            throw ServingError.invalid("steering.vectors: the SAE at layer \(layer) reads \(sae.hookName), which is not a residual-stream site", field: "steering.vectors")
        }
        return (site, try sae.decoderRows([feature])[0])
    }
}

/// The plans registered at start-up (`--plan NAME=PATH`, `--run DIR`) and the SAE for ad-hoc vectors;
/// turns a request's `steering` field into vectors. Clients name plans, never files.
public struct SteeringRegistry: Sendable {
    public private(set) var plans: [String: RegisteredPlan] = [:]
    public let decoderRows: DecoderRowSource?
    private let model: LanguageModel

    public init(model: LanguageModel, decoderRows: DecoderRowSource? = nil) {
        self.model = model
        self.decoderRows = decoderRows
    }

    /// Registers `plan` as `name`, after checking that it fits the model.
    public mutating func register(_ plan: SteeringPlan, as name: String) throws {
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ !CharacterSet.whitespacesAndNewlines.contains($0) }) else {
            throw ServingError.invalid("plan name '\(name)' is empty or holds whitespace")
        }
        guard plans[name] == nil else { throw ServingError.invalid("plan name '\(name)' is registered twice") }
        guard !plan.entries.isEmpty else { throw ServingError.invalid("plan '\(name)' has no entries") }
        try SteeringHook(plan: plan).validate(for: model)
        var sums: [HookSite: [Float]] = [:]
        for entry in plan.entries {
            // SteeringHook has accepted every site name above.
            guard let site = HookSite(name: entry.site) else { continue }
            if var sum = sums[site] {
                for i in sum.indices { sum[i] += entry.vector[i] }
                sums[site] = sum
            } else {
                sums[site] = entry.vector
            }
        }
        plans[name] = RegisteredPlan(name: name, plan: plan, sums: sums)
    }

    /// `--plan NAME=PATH`.
    public mutating func registerPlan(argument: String) throws {
        guard let equals = argument.firstIndex(of: "=") else {
            throw ServingError.invalidSetup("\(ServingSetting.plan) takes NAME=PATH, got '\(argument)'")
        }
        let name = String(argument[..<equals]), path = String(argument[argument.index(after: equals)...])
        try register(SteeringPlan.load(from: URL(fileURLWithPath: path)), as: name)
    }

    /// `--run DIR`: the run's plans S, A and P (those it has) as RUNNAME/S, RUNNAME/A, RUNNAME/P.
    public mutating func registerRun(path: String) throws -> [String] {
        let run = RunDirectory(path: path)
        let runName = run.url.standardizedFileURL.lastPathComponent
        var names: [String] = []
        for strategy in ["S", "A", "P"] where FileManager.default.fileExists(atPath: run.plan(strategy).path) {
            try register(SteeringPlan.load(from: run.plan(strategy)), as: "\(runName)/\(strategy)")
            names.append("\(runName)/\(strategy)")
        }
        guard !names.isEmpty else {
            throw ServingError.invalidSetup("\(ServingSetting.run) \(path): no plans/S.json, plans/A.json or plans/P.json there")
        }
        return names
    }

    /// The vectors a request's `steering` field asks for; nil for none.
    func resolve(_ spec: SteeringSpec?) throws -> SteeringVectors? {
        guard let spec else { return nil }
        let allPositions: Bool
        switch spec.positions ?? "generation" {
        case "generation": allPositions = false
        case "all": allPositions = true
        case let other: throw ServingError.invalid("steering.positions must be \"generation\" or \"all\", got \"\(other)\"", field: "steering.positions")
        }
        switch (spec.plan, spec.vectors) {
        case (nil, nil):
            throw ServingError.invalid("steering needs \"plan\" or \"vectors\"", field: "steering")
        case (.some, .some):
            throw ServingError.invalid("steering takes \"plan\" or \"vectors\", not both", field: "steering")
        case let (name?, nil):
            guard let registered = plans[name] else {
                throw ServingError.invalid("unknown steering plan '\(name)'; GET /v1/steering/plans lists them", field: "steering.plan")
            }
            let scale = spec.scale ?? 1
            guard scale.isFinite, abs(scale) <= 1e4 else {
                throw ServingError.invalid("steering.scale must be a finite number with |scale| ≤ 10000", field: "steering.scale")
            }
            // Scale 1 keeps the plan's own sums, so the request steers exactly as `generate --plan` does.
            let sites = scale == 1 ? registered.sums : registered.sums.mapValues { $0.map { Float(scale) * $0 } }
            return SteeringVectors(sites: sites, allPositions: allPositions)
        case let (nil, vectors?):
            guard spec.scale == nil else { throw ServingError.invalid("steering.scale applies to a plan only", field: "steering.scale") }
            guard let decoderRows else {
                throw ServingError.invalid("steering.vectors needs the server to be started with --sae", field: "steering.vectors")
            }
            guard !vectors.isEmpty, vectors.count <= 256 else {
                throw ServingError.invalid("steering.vectors must hold 1 to 256 entries", field: "steering.vectors")
            }
            let layerCount = model.config.layerCount, hiddenSize = model.config.hiddenSize
            var sites: [HookSite: [Float]] = [:]
            for vector in vectors {
                guard vector.layer >= 0, vector.layer < layerCount else {
                    throw ServingError.invalid("steering.vectors: layer \(vector.layer) does not exist (the model has layers 0…\(layerCount - 1))", field: "steering.vectors")
                }
                guard vector.coefficient.isFinite, abs(vector.coefficient) <= 1e4 else {
                    throw ServingError.invalid("steering.vectors: coefficient must be finite with |c| ≤ 10000", field: "steering.vectors")
                }
                let (site, row) = try decoderRows.row(layer: vector.layer, feature: vector.feature)
                guard row.count == hiddenSize else {
                    throw ServingError.invalid("steering.vectors: the SAE at layer \(vector.layer) has \(row.count) inputs; the model's hidden size is \(hiddenSize)", field: "steering.vectors")
                }
                let c = Float(vector.coefficient)
                let scaled = row.map { c * $0 }
                if var sum = sites[site] {
                    for i in sum.indices { sum[i] += scaled[i] }
                    sites[site] = sum
                } else {
                    sites[site] = scaled
                }
            }
            return SteeringVectors(sites: sites, allPositions: allPositions)
        }
    }
}
