import Foundation
import WeightFiles

/// Exports a steering plan as a llama.cpp control vector (GGUF) or the same directions as safetensors.
///
/// llama.cpp semantics (common/common.cpp `common_control_vector_load_one`, src/llama-adapter.cpp,
/// the per-model graph builders): a tensor `direction.N` (F32, 1-D, n_embd) is added to the **output of
/// decoder layer N** (0-based), i.e. to `blocks.N.hook_resid_post`, at **every position** of every
/// forward pass, prompt included; `direction.0` is rejected as invalid, layers ≥ n_layer are ignored,
/// and several directions for one layer add up. So:
/// - a vector at `blocks.L.hook_resid_post` becomes `direction.L` (L ≥ 1; L = 0 cannot be expressed);
/// - a vector at `blocks.L.hook_resid_pre` (= output of block L−1, the reference's `--paper-compat` site)
///   becomes `direction.(L−1)` (L ≥ 2; L = 1 would be `direction.0`, which llama.cpp rejects).
/// Unlike corrsteer, which steers only the generation positions (the last prompt token and each generated
/// token, method §6), llama.cpp also steers every earlier prompt token, so results differ; llama.cpp's
/// `--control-vector-scaled FILE S` multiplies the vectors by S, and `--control-vector-layer-range` limits
/// the layers.
public enum ControlVectorExport {
    public enum Format: String, CaseIterable, Sendable {
        case gguf, safetensors
    }

    /// One direction per llama.cpp layer.
    public struct Direction: Equatable, Sendable {
        public var layer: Int
        public var vector: [Float]
        /// The plan sites summed into this direction.
        public var sites: [String]
    }

    /// The llama.cpp layer index whose output the site is, or an error for sites llama.cpp cannot steer.
    public static func llamaCppLayer(forSite site: String) throws -> Int {
        let parts = site.split(separator: ".")
        guard parts.count == 3, parts[0] == "blocks", let block = Int(parts[1]), block >= 0 else {
            throw ControlVectorError.unsupportedSite(site, "llama.cpp control vectors act only on blocks.L.hook_resid_post / hook_resid_pre")
        }
        let layer: Int
        switch parts[2] {
        case "hook_resid_post": layer = block
        case "hook_resid_pre": layer = block - 1
        default:
            throw ControlVectorError.unsupportedSite(site, "llama.cpp control vectors act only on blocks.L.hook_resid_post / hook_resid_pre")
        }
        guard layer >= 1 else {
            throw ControlVectorError.unsupportedSite(site, "it is the output of layer \(layer), and llama.cpp has no control vector for layer \(layer) (direction.0 is rejected)")
        }
        return layer
    }

    /// The sites of `plan` that llama.cpp cannot steer (for example the output of layer 0, whose
    /// `direction.0` llama.cpp rejects), in plan order without repeats.
    public static func unexportableSites(in plan: SteeringPlan) -> [String] {
        var sites: [String] = []
        for entry in plan.entries where (try? llamaCppLayer(forSite: entry.site)) == nil && !sites.contains(entry.site) {
            sites.append(entry.site)
        }
        return sites
    }

    /// The plan's vectors summed per llama.cpp layer, layers ascending. With `droppingUnexportable`,
    /// vectors at sites llama.cpp cannot steer are left out (see `unexportableSites(in:)`) instead of
    /// stopping the export; a plan left with no vector is still an error.
    public static func directions(for plan: SteeringPlan, droppingUnexportable: Bool = false) throws -> [Direction] {
        guard !plan.entries.isEmpty else { throw ControlVectorError.emptyPlan(plan.name) }
        let dropped = droppingUnexportable ? Set(unexportableSites(in: plan)) : []
        let kept = plan.entries.filter { !dropped.contains($0.site) }
        guard !kept.isEmpty else { throw ControlVectorError.nothingExportable(plan.name, dropped.sorted()) }
        var byLayer: [Int: Direction] = [:]
        for entry in kept {
            let layer = try llamaCppLayer(forSite: entry.site)
            var direction = byLayer[layer] ?? Direction(layer: layer, vector: [Float](repeating: 0, count: entry.vector.count), sites: [])
            guard direction.vector.count == entry.vector.count else {
                throw ControlVectorError.inconsistentDimensions(plan.name)
            }
            for j in direction.vector.indices { direction.vector[j] += entry.vector[j] }
            if !direction.sites.contains(entry.site) { direction.sites.append(entry.site) }
            byLayer[layer] = direction
        }
        return byLayer.keys.sorted().map { byLayer[$0]! }
    }

    /// GGUF metadata and tensors of a llama.cpp control vector (the layout repeng writes):
    /// `general.architecture = "controlvector"`, `controlvector.model_hint`, `controlvector.layer_count`
    /// (number of directions), and F32 tensors `direction.N` of shape [n_embd].
    public static func gguf(for plan: SteeringPlan, modelHint: String, droppingUnexportable: Bool = false) throws
        -> (metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensor])
    {
        let directions = try directions(for: plan, droppingUnexportable: droppingUnexportable)
        let metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("controlvector")),
            ("controlvector.model_hint", .string(modelHint)),
            ("controlvector.layer_count", .uint32(UInt32(directions.count))),
        ]
        let tensors = directions.map { GGUFTensor(name: "direction.\($0.layer)", shape: [$0.vector.count], floats: $0.vector) }
        return (metadata, tensors)
    }

    /// Writes `plan` to `url` in `format`. Safetensors holds the same `direction.N` F32 tensors with
    /// metadata `controlvector.model_hint`, `controlvector.layer_count`, `corrsteer.plan` and
    /// `corrsteer.sites` (a JSON object, layers ascending: direction name → the plan sites summed into it).
    /// With `droppingUnexportable`, vectors llama.cpp cannot hold are left out; returns their sites.
    @discardableResult
    public static func write(_ plan: SteeringPlan, format: Format, modelHint: String, to url: URL,
                             droppingUnexportable: Bool = false) throws -> [String] {
        switch format {
        case .gguf:
            let (metadata, tensors) = try gguf(for: plan, modelHint: modelHint, droppingUnexportable: droppingUnexportable)
            try GGUFWriter.write(metadata: metadata, tensors: tensors, to: url)
        case .safetensors:
            let directions = try directions(for: plan, droppingUnexportable: droppingUnexportable)
            // Keys in layer order (JSON key sorting differs between platforms).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            let pairs = try directions.map { direction in
                String(decoding: try encoder.encode("direction.\(direction.layer)"), as: UTF8.self) + ":"
                    + String(decoding: try encoder.encode(direction.sites), as: UTF8.self)
            }
            let sitesJSON = "{" + pairs.joined(separator: ",") + "}"
            try SafeTensorsWriter.write(
                directions.map { SafeTensorsWriter.Entry(name: "direction.\($0.layer)", shape: [$0.vector.count], floats: $0.vector) },
                metadata: ["controlvector.model_hint": modelHint, "controlvector.layer_count": String(directions.count),
                           "corrsteer.plan": plan.name, "corrsteer.sites": sitesJSON],
                to: url)
        }
        return droppingUnexportable ? unexportableSites(in: plan) : []
    }
}

public enum ControlVectorError: Error, CustomStringConvertible, Equatable {
    case unsupportedSite(String, String)
    case emptyPlan(String)
    /// Every vector of the plan sits where llama.cpp cannot steer (the sites are named).
    case nothingExportable(String, [String])
    case inconsistentDimensions(String)

    public var description: String {
        switch self {
        case let .unsupportedSite(site, reason): return "cannot export site \(site) as a llama.cpp control vector: \(reason)"
        case let .emptyPlan(name): return "plan \(name) has no steering vectors to export"
        case let .nothingExportable(name, sites):
            return "plan \(name) has no vector llama.cpp can hold: every one is at \(sites.joined(separator: ", "))"
        case let .inconsistentDimensions(name): return "plan \(name) has vectors of different sizes"
        }
    }
}
