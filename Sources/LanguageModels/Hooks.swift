/// A place in the residual stream, named as in TransformerLens / SAELens.
public enum HookSite: Hashable, Sendable, CustomStringConvertible {
    /// The input of decoder block `layer` (`blocks.L.hook_resid_pre`).
    case residPre(layer: Int)
    /// The output of decoder block `layer` (`blocks.L.hook_resid_post`); for the last block, before the final norm.
    case residPost(layer: Int)

    public var layer: Int {
        switch self {
        case let .residPre(layer), let .residPost(layer): return layer
        }
    }

    public var name: String {
        switch self {
        case let .residPre(layer): return "blocks.\(layer).hook_resid_pre"
        case let .residPost(layer): return "blocks.\(layer).hook_resid_post"
        }
    }

    public var description: String { name }

    /// Parses `blocks.L.hook_resid_pre` / `blocks.L.hook_resid_post`; nil for anything else.
    public init?(name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blocks", let layer = Int(parts[1]), layer >= 0,
              String(layer) == parts[1] else { return nil }
        switch parts[2] {
        case "hook_resid_pre": self = .residPre(layer: layer)
        case "hook_resid_post": self = .residPost(layer: layer)
        default: return nil
        }
    }
}

/// Which rows of each forward pass a hook receives or changes.
public enum HookPositions: Hashable, Sendable {
    /// The last position of each sequence in every forward pass: the last prompt token during prefill,
    /// then each token fed back while generating.
    case generation
    /// Every position of every forward pass.
    case all
}

/// Where an observed row comes from.
public struct RowTag: Hashable, Sendable {
    /// Index of the sequence in the request batch.
    public var sequence: Int
    /// Absolute token position in that sequence (0 = first prompt token).
    public var position: Int
    /// 0 for the prompt (prefill), k for the k-th decode step.
    public var step: Int

    public init(sequence: Int, position: Int, step: Int) {
        self.sequence = sequence
        self.position = position
        self.step = step
    }
}

/// Something that reads and/or writes the residual stream while the model runs.
///
/// For each forward pass and each site in `requests`, the engine first calls `observe` once with one
/// matrix holding the selected rows of all sequences in the pass, then asks `addition` per sequence and
/// adds the returned vector to that sequence's selected rows in place, before the block continues (so
/// steered states enter the KV cache). With several hooks at one site they run in list order: each sees
/// the additions of the hooks before it.
public protocol ResidualHook: AnyObject {
    var requests: [HookSite: HookPositions] { get }
    /// `rows` holds `count` rows of `width` floats (row-major), valid only during the call.
    func observe(site: HookSite, rows: UnsafePointer<Float>, count: Int, width: Int, tags: [RowTag])
    /// The vector (hidden-size floats) to add at `site` for sequence `sequence`, or nil for none.
    func addition(site: HookSite, sequence: Int) -> [Float]?
}

extension ResidualHook {
    public func observe(site: HookSite, rows: UnsafePointer<Float>, count: Int, width: Int, tags: [RowTag]) {}
    public func addition(site: HookSite, sequence: Int) -> [Float]? { nil }
}

/// Adds a fixed vector per sequence (or one for all) at one site: the simplest steering hook.
public final class AdditionHook: ResidualHook {
    public let requests: [HookSite: HookPositions]
    private let site: HookSite
    private let vectors: [Int: [Float]]
    private let shared: [Float]?

    /// Adds `vector` to every sequence.
    public init(site: HookSite, positions: HookPositions, vector: [Float]) {
        self.site = site
        requests = [site: positions]
        vectors = [:]
        shared = vector
    }

    /// Adds `vectors[b]` to sequence b (sequences without an entry are left alone).
    public init(site: HookSite, positions: HookPositions, vectors: [Int: [Float]]) {
        self.site = site
        requests = [site: positions]
        self.vectors = vectors
        shared = nil
    }

    public func addition(site: HookSite, sequence: Int) -> [Float]? {
        guard site == self.site else { return nil }
        return shared ?? vectors[sequence]
    }
}

/// Records every observed row, per site and sequence, in position order.
public final class ResidualRecorder: ResidualHook {
    public let requests: [HookSite: HookPositions]
    /// rows[site][sequence] = the rows seen, `width` floats each, in the order they arrived.
    public private(set) var rows: [HookSite: [Int: [Float]]] = [:]
    /// tags[site][sequence] = where each recorded row came from.
    public private(set) var tags: [HookSite: [Int: [RowTag]]] = [:]
    public private(set) var width = 0

    public init(sites: [HookSite], positions: HookPositions) {
        requests = Dictionary(uniqueKeysWithValues: sites.map { ($0, positions) })
    }

    public func observe(site: HookSite, rows pointer: UnsafePointer<Float>, count: Int, width: Int, tags rowTags: [RowTag]) {
        self.width = width
        for (i, tag) in rowTags.enumerated() {
            rows[site, default: [:]][tag.sequence, default: []].append(contentsOf: UnsafeBufferPointer(start: pointer + i * width, count: width))
            tags[site, default: [:]][tag.sequence, default: []].append(tag)
        }
    }

    /// The rows recorded for `sequence` at `site`, row-major with `width` floats per row (nil if none).
    public func matrix(site: HookSite, sequence: Int) -> (values: [Float], rows: Int)? {
        guard let values = rows[site]?[sequence], width > 0 else { return nil }
        return (values, values.count / width)
    }
}
