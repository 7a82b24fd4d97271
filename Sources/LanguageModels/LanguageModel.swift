import Foundation
import Tensors
import WeightFiles

/// A decoder-only language model (any family `ModelConfiguration.Architecture` lists) ready to run: configuration, weights in their file
/// dtype, and the rotary table. Immutable, so one instance serves any number of concurrent generators.
public final class LanguageModel: @unchecked Sendable {
    public let config: ModelConfiguration
    /// The dtype of the embedding matrix (the checkpoint's weight dtype).
    public let weightDType: DType
    /// The folder the model was loaded from, if any.
    public let directory: URL?
    let weights: ModelWeights
    let rotary: RotaryEmbedding
    /// The sliding-window layers' rotary table when their RoPE differs (Gemma 3).
    let slidingRotary: RotaryEmbedding?
    /// Gemma multiplies embeddings by √hidden, rounded to the weight dtype as transformers does.
    let embeddingScale: Float?

    /// Loads `config.json`, `generation_config.json` and the safetensors weights (single file or sharded)
    /// of a model folder. Every tensor shape is checked against the configuration.
    public static func load(directory: URL) throws -> LanguageModel {
        let config = try ModelConfiguration.load(directory: directory)
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        let naming = CheckpointNaming(prefixes: config.checkpointPrefixes, contains: checkpoint.contains)
        let weights = try ModelWeights(
            config: config, fileName: naming.fileName,
            tensor: { name in
                guard checkpoint.contains(name) else { return nil }
                let info = try checkpoint.info(name)
                guard DType(rawValue: info.dtype) != nil else {
                    throw LanguageModelError.unsupportedTensorDType(
                        path: (try? checkpoint.file(containing: name).path) ?? directory.path, tensor: name, dtype: info.dtype)
                }
                return try checkpoint.tensor(name)
            },
            location: { name in (try? checkpoint.file(containing: name).path) ?? directory.path })
        func location(_ name: String) -> String { (try? checkpoint.file(containing: name).path) ?? directory.path }
        let firstQuery = naming.fileName("model.layers.0.self_attn.q_proj.weight")
        try checkHalfPrecisionLabel(weights.layers[0].query, name: firstQuery, path: location(firstQuery))
        if !WeightValueCheck.allowsNonFinite {
            for (canonical, _) in config.tensorShapes {
                let name = naming.fileName(canonical)
                try WeightValueCheck.requireFinite(try checkpoint.tensor(name), name: name, path: location(name))
            }
        }
        return LanguageModel(config: config, weights: weights, directory: directory)
    }

    /// Detects BF16 data stored under an F16 label. Trained projection weights are small (std of
    /// a few hundredths), so as F16 almost all of them lie below 0.5 in magnitude. BF16 bits have an
    /// 8-bit exponent where F16 has 5: such small BF16 values read as F16 have exponent field 14 or
    /// 15, i.e. magnitude in [0.5, 2). A q_proj whose sampled nonzero values nearly all land there
    /// is BF16 mislabelled (the model would run on garbage with no NaN to show it). The check reads
    /// at most 65,536 evenly spaced elements of one tensor, so it costs nothing next to loading.
    static func checkHalfPrecisionLabel(_ tensor: Tensor, name: String, path: String) throws {
        guard tensor.dtype == .f16, tensor.count >= 1024 else { return }
        let bits = tensor.rawPointer.assumingMemoryBound(to: UInt16.self)
        let step = max(1, tensor.count / 65_536)
        var nonzero = 0, inBand = 0
        for i in stride(from: 0, to: tensor.count, by: step) {
            let magnitude = bits[i] & 0x7FFF
            guard magnitude != 0 else { continue }
            nonzero += 1
            let exponent = magnitude >> 10
            if exponent == 14 || exponent == 15 { inBand += 1 }
        }
        guard nonzero >= 512, inBand * 100 >= nonzero * 99 else { return }
        throw WeightFileError.invalidTensor(
            path: path, tensor: name,
            reason: "is labelled F16 but \(inBand) of \(nonzero) sampled values have magnitude in [0.5, 2), the signature of BF16 data read as F16; fix the dtype in the safetensors header")
    }

    /// Loads a model from a folder path or a Hugging Face id found in the local cache.
    public static func load(_ reference: String) throws -> LanguageModel {
        try load(directory: try ModelLocator.resolve(reference))
    }

    /// A model from a configuration and tensors named as in a Hugging Face checkpoint
    /// (`model.layers.0.self_attn.q_proj.weight`, …); see `ModelConfiguration.tensorShapes`.
    public convenience init(config: ModelConfiguration, weights: [String: Tensor]) throws {
        let modelWeights = try ModelWeights(config: config, tensor: { weights[$0] }, location: { _ in "weights" })
        self.init(config: config, weights: modelWeights, directory: nil)
    }

    init(config: ModelConfiguration, weights: ModelWeights, directory: URL?) {
        self.config = config
        self.weights = weights
        self.directory = directory
        weightDType = weights.embedding.dtype
        func table(_ rope: ModelConfiguration.Rope) -> RotaryEmbedding {
            RotaryEmbedding(headDimension: config.headDimension, base: rope.theta, llama3: rope.llama3,
                            linearFactor: rope.linearFactor)
        }
        rotary = table(config.rope)
        slidingRotary = config.slidingRope.map(table)
        if config.traits.scalesEmbedding {
            let scale = Float(Double(config.hiddenSize).squareRoot())
            embeddingScale = Tensor(shape: [1], values: [scale], dtype: weights.embedding.dtype).floats()[0]
        } else {
            embeddingScale = nil
        }
    }

    /// Bytes of the model's weight matrices, resident or mapped: what a memory plan must leave room for.
    public var weightByteCount: Int { weights.matrixByteCount }

    /// Builds the LM head's greedy screen now (`GreedyScreen`), for a caller about to decode greedily at
    /// small batch sizes; requests for fewer than `GreedyScreen.tokensWorthBuilding` tokens only use one
    /// that exists. Returns the bytes it holds.
    @discardableResult
    public func prepareGreedyScreen() -> Int {
        GreedyScreen(weight: weights.head) == nil ? 0 : greedyScreenBytes
    }

    /// Bytes the greedy screen adds when generating `newTokens` tokens greedily (0 where none is built):
    /// what a memory plan must leave room for.
    public func greedyScreenByteCount(forNewTokens newTokens: Int) -> Int {
        GreedyScreen.isWorthBuilding(forNewTokens: newTokens) ? greedyScreenBytes : 0
    }

    private var greedyScreenBytes: Int { GreedyScreen.byteCount(rows: weights.head.shape[0], depth: weights.head.shape[1]) }

    /// Logits (and hook calls) for each token sequence, without generating; see `Generator.forward`.
    public func forward(tokens: [[Int]], hooks: [ResidualHook] = [], logits: LogitPositions = .lastPosition) throws -> [Tensor] {
        try Generator(model: self).forward(tokens: tokens, hooks: hooks, logits: logits)
    }
}
