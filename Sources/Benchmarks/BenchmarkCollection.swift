import Dispatch
import Foundation
import CorrSteer
import LanguageModels
import Tensors
import WeightFiles

/// What `corrsteer bench collect` measures: a CorrSteer collection (method §3–4) on MMLU-length
/// prompts with random JumpReLU SAEs of the real shapes, everything built in memory.
public struct CollectBenchmarkOptions: Sendable {
    public var shape: BenchmarkShape
    public var samples: Int
    public var batchSize: Int
    /// Number of SAEs: sites `blocks.L.hook_resid_pre` for L = 1…layers (the reference's default set).
    public var layers: Int
    public var saeWidth: Int
    /// Thresholds are calibrated so that about this many features fire per token.
    public var activeFeatures: Int
    public var maxNewTokens: Int
    public var precision: MatMulPrecision
    public var seed: UInt64
    /// The machine's ceilings to state the figure against (nil: figures only).
    public var ceilings: MachineCeilings?
    /// How the SAE encoders are held, chosen as the product chooses (`CollectionMemoryPlan`). A streamed
    /// plan writes each random encoder to a file in `scratchDirectory` and maps it once per batch, as the
    /// product maps a real SAE file.
    public var memoryPlan: CollectionMemoryPlan.Request = .auto
    public var scratchDirectory: URL = FileManager.default.temporaryDirectory

    public init(shape: BenchmarkShape = .gemma2_2b, samples: Int = 64, batchSize: Int = 8, layers: Int? = nil,
                saeWidth: Int = 16_384, activeFeatures: Int = 80, maxNewTokens: Int = 1,
                precision: MatMulPrecision = MatMul.defaultPrecision, seed: UInt64 = 0, ceilings: MachineCeilings? = nil) {
        self.shape = shape
        self.samples = samples
        self.batchSize = batchSize
        self.layers = layers ?? ((try? shape.configuration().layerCount).map { $0 - 1 } ?? 1)
        self.saeWidth = saeWidth
        self.activeFeatures = activeFeatures
        self.maxNewTokens = maxNewTokens
        self.precision = precision
        self.seed = seed
        self.ceilings = ceilings
    }

    /// Prompt lengths like the zero-shot MMLU template's under the Gemma tokenizer: 51…128 tokens,
    /// mean ≈ 83 (51 + 77·u^1.4 has mean 51 + 77/2.4). Deterministic in `seed`; the Python reference
    /// (scripts/bench/python_reference_collect.py) draws the same lengths.
    public static func promptLengths(count: Int, seed: UInt64) -> [Int] {
        var rng = BenchmarkRandom(seed: seed &+ 7)
        return (0..<count).map { _ in 51 + Int((77.0 * pow(Double(rng.unit()), 1.4)).rounded()) }
    }
}

public struct CollectBenchmarkResult: Codable, Sendable {
    public var shape: String
    public var samples: Int
    public var batchSize: Int
    public var layers: Int
    public var saeWidth: Int
    public var maxNewTokens: Int
    public var precision: String
    /// What `--precision` asked for and why `precision` followed (absent when no choice was made).
    public var precisionChoice: String?
    public var precisionReason: String?
    public var kernelPath: String
    public var threads: Int
    public var meanPromptTokens: Double
    public var minPromptTokens: Int
    public var maxPromptTokens: Int
    /// Wall time of the collection loop (generation, capture, encode, pooling, statistics).
    public var seconds: Double
    public var samplesPerSecond: Double
    /// Time spent inside SAE encoding (included in `seconds`).
    public var encodeSeconds: Double
    /// Features above threshold per captured row, averaged.
    public var meanActiveFeatures: Double
    public var setupSeconds: Double
    public var peakResidentBytes: Int
    /// CPU time of the process during the collection loop (all threads).
    public var cpuSeconds: Double
    public var loadBefore: Double?
    public var loadAfter: Double?
    /// The loop's model and SAE arithmetic per second against the compute peak (absent without ceilings).
    public var shareOfCeiling: CeilingShare?
    public var ceilings: MachineCeilings?
    public var memoryPlan: CollectionMemoryPlan?
}

public enum CollectBenchmark {
    public static func run(_ options: CollectBenchmarkOptions, progress: (String) -> Void = { _ in }) throws -> CollectBenchmarkResult {
        guard options.samples >= 1, options.batchSize >= 1, options.layers >= 1, options.saeWidth >= 1,
              options.activeFeatures >= 1, options.maxNewTokens >= 1 else {
            throw RunError.invalidSetting("bench collect: samples, batch size, layers, SAE width, active features and new tokens must be at least 1")
        }
        let saved = MatMul.defaultPrecision
        MatMul.defaultPrecision = options.precision
        defer { MatMul.defaultPrecision = saved }

        let started = DispatchTime.now()
        let model = try options.shape.randomModel(seed: options.seed)
        let config = model.config
        guard options.layers < config.layerCount else {
            throw RunError.invalidSetting("bench collect: \(RunSetting.layers) \(options.layers) needs a model with more than \(options.layers) blocks; \(options.shape.rawValue) has \(config.layerCount)")
        }
        progress("built \(options.shape.rawValue) in \(String(format: "%.1f", ModelBenchmark.seconds(since: started))) s")

        let lengths = CollectBenchmarkOptions.promptLengths(count: options.samples, seed: options.seed)
        var rng = BenchmarkRandom(seed: options.seed &+ 3)
        let bos = config.bosTokenID ?? 2
        let prompts = lengths.map { n in [bos] + (1..<n).map { _ in rng.int(in: 3...(config.vocabularySize - 1)) } }
        let stops = Set(config.eosTokenIDs + (config.padTokenID.map { [$0] } ?? []))

        let widths = Array(repeating: options.saeWidth, count: options.layers)
        let plan = try CollectionMemoryPlan.choose(options.memoryPlan, sizes: .init(
            modelBytes: model.weightByteCount, encoderBytes: widths.map { $0 * config.hiddenSize * 4 },
            statisticsBytes: CollectionMemoryPlan.statisticsBytes(widths: widths, hiddenSize: config.hiddenSize, histograms: false),
            capturedRowsPerBatch: options.batchSize * (options.maxNewTokens + 1), hiddenSize: config.hiddenSize,
            widestSAE: options.saeWidth))
        progress(plan.summary)
        let streamed = plan.residency == .streamed
        let folder = options.scratchDirectory.appendingPathComponent("corrsteer-bench-\(ProcessInfo.processInfo.processIdentifier)")
        if streamed { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        defer { if streamed { try? FileManager.default.removeItem(at: folder) } }
        // Built and calibrated one at a time; under a streamed plan each then goes to its file and leaves memory.
        // One forward pass gives every layer's calibration rows.
        let capture = RowCapture(sites: (1...options.layers).map { HookSite.residPre(layer: $0) })
        _ = try Generator(model: model).forward(tokens: Array(prompts.prefix(options.batchSize)), hooks: [capture])
        let encoders = try (1...options.layers).map { layer -> RandomJumpReLU in
            let encoder = RandomJumpReLU(layer: layer, dIn: config.hiddenSize, width: options.saeWidth,
                                         seed: options.seed &+ 1000 &+ UInt64(layer))
            if let rows = capture.rows[.residPre(layer: layer)] {
                try encoder.calibrate(rows: rows, count: rows.count / config.hiddenSize, activeFeatures: options.activeFeatures)
            }
            if streamed { try encoder.moveWeight(to: folder.appendingPathComponent("encoder_\(layer).f32")) }
            progress("SAE \(layer)/\(options.layers) built")
            return encoder
        }
        let sources = encoders.map { $0.source }
        let setupSeconds = ModelBenchmark.seconds(since: started)
        progress("\(options.layers) random JumpReLU SAEs of width \(options.saeWidth), thresholds calibrated; setup \(String(format: "%.1f", setupSeconds)) s")

        // The product's collection step; only the tokenizer, the scorer and the files are left out.
        var statistics = Dictionary(uniqueKeysWithValues: sources.map { ($0.layer, FeatureStatistics(featureCount: $0.width)) })
        var controls: ControlStatistics? = ControlStatistics(sources: sources, hiddenSize: config.hiddenSize,
                                                             options: FeatureStatisticsOptions())
        let step = CollectionStep(sources: sources, positions: .generation, singlePosition: true,
                                  correlationPool: .max, coefficientPool: .max, hiddenSize: config.hiddenSize,
                                  defersEncoding: streamed)
        let generator = Generator(model: model)
        encoders.forEach { $0.resetCounters() }
        let loadBefore = SystemLoad.oneMinute()
        let loopStart = DispatchTime.now(), cpuStart = ProcessClock.cpuSeconds()
        var done = 0
        while done < prompts.count {
            let batch = Array(prompts[done..<min(done + options.batchSize, prompts.count)])
            _ = try step.run(
                promptLengths: batch.map(\.count),
                generate: {
                    try generator.generate(
                        GenerationRequest(prompts: batch, maxNewTokens: options.maxNewTokens, stopTokenIDs: stops), hooks: $0)
                },
                stoppedOnEOS: \.stoppedOnEOS,
                // A stand-in for the scorer: rewards are a deterministic function of the first generated token.
                score: { $0.map { Double(($0.tokens.first ?? 0) & 1) } },
                into: &statistics, controls: &controls, batchStart: done)
            done += batch.count
            progress("collected \(done)/\(prompts.count)")
        }
        let seconds = ModelBenchmark.seconds(since: loopStart)
        let cpuSeconds = ProcessClock.cpuSeconds() - cpuStart
        let rows = encoders.reduce(0) { $0 + $1.rowsEncoded }
        let active = encoders.reduce(0) { $0 + $1.activeCount }
        let decision = PrecisionSelector.current.flatMap { $0.precision == options.precision ? $0 : nil }
        let work = ModelWork(config, weightDType: model.weightDType)
        let modelFLOPs = lengths.reduce(0.0) { total, n in
            total + Double(n) * work.prefillFLOPsPerToken(length: n)
                + Double(options.maxNewTokens - 1) * work.decodeFLOPsPerToken(context: n)
        }
        let encodeFLOPs = Double(rows) * 2 * Double(config.hiddenSize) * Double(options.saeWidth)
        var result = CollectBenchmarkResult(
            shape: options.shape.rawValue, samples: prompts.count, batchSize: options.batchSize, layers: options.layers,
            saeWidth: options.saeWidth, maxNewTokens: options.maxNewTokens, precision: options.precision.rawValue,
            precisionChoice: decision?.choice.rawValue, precisionReason: decision?.reason,
            kernelPath: MatMul.kernelPath, threads: Parallel.threadCount,
            meanPromptTokens: Double(lengths.reduce(0, +)) / Double(lengths.count),
            minPromptTokens: lengths.min() ?? 0, maxPromptTokens: lengths.max() ?? 0,
            seconds: seconds, samplesPerSecond: Double(prompts.count) / seconds,
            encodeSeconds: encoders.reduce(0) { $0 + $1.encodeSeconds },
            meanActiveFeatures: rows > 0 ? Double(active) / Double(rows) : 0,
            setupSeconds: setupSeconds, peakResidentBytes: ProcessMemory.peakResidentBytes(),
            cpuSeconds: cpuSeconds, loadBefore: loadBefore, loadAfter: SystemLoad.oneMinute())
        result.ceilings = options.ceilings
        result.memoryPlan = plan
        result.shareOfCeiling = options.ceilings?.computeShare(
            flopsPerSecond: (modelFLOPs + encodeFLOPs) / seconds, precision: options.precision,
            bf16DotInUse: MatMul.hasBF16DotProduct)
        return result
    }

}

/// A JumpReLU SAE encoder with Gemma Scope's layout (W_enc f32 [d_in, width], b_enc, threshold),
/// encoding as SparseAutoencoders' JumpReLU encoder does: one f32 GEMM, then p where p > θ and p > 0.
final class RandomJumpReLU: @unchecked Sendable {
    let layer: Int
    let dIn: Int
    let width: Int
    /// In memory, or nil once moved to `weightFile` (then mapped for each batch: see `source`).
    private var weight: Tensor?
    private var weightFile: URL?
    private var mapped: (file: MappedFile, tensor: Tensor)?
    private let bias: [Float]
    private var threshold: Float = 0
    private(set) var rowsEncoded = 0
    private(set) var activeCount = 0
    private(set) var encodeSeconds = 0.0

    init(layer: Int, dIn: Int, width: Int, seed: UInt64) {
        self.layer = layer
        self.dIn = dIn
        self.width = width
        weight = BenchmarkRandom.tensor(shape: [dIn, width], dtype: .f32, seed: seed, scale: 0.05)
        var rng = BenchmarkRandom(seed: seed ^ 0xb1a5)
        bias = (0..<width).map { _ in 0.01 * (2 * rng.unit() - 1) }
    }

    var source: FeatureSource {
        FeatureSource(layer: layer, site: .residPre(layer: layer), width: width,
                      encode: { [self] rows, count, out in try encode(rows, count: count, into: out) },
                      release: { [self] in mapped = nil })
    }

    /// Writes the weight to `url` and drops it from memory; it is mapped again when encoding.
    func moveWeight(to url: URL) throws {
        guard let weight else { return }
        try Data(bytesNoCopy: weight.rawPointer, count: weight.byteCount, deallocator: .none).write(to: url)
        self.weight = nil
        weightFile = url
    }

    /// The weight in memory, or mapped from its file until `release`.
    private func currentWeight() throws -> Tensor {
        if let weight { return weight }
        if let mapped { return mapped.tensor }
        guard let weightFile else { throw RunError.invalidSetting("bench collect: encoder \(layer) has no weight") }
        let file = try MappedFile(path: weightFile.path)
        guard file.size == dIn * width * 4 else {
            throw RunError.mismatch("\(weightFile.path): \(file.size) bytes, expected \(dIn * width * 4)")
        }
        let tensor = Tensor(shape: [dIn, width], dtype: .f32,
                            storage: TensorStorage(borrowing: file.bytes, byteCount: file.size, owner: file))
        mapped = (file, tensor)
        return tensor
    }

    func resetCounters() {
        rowsEncoded = 0
        activeCount = 0
        encodeSeconds = 0
    }

    func encode(_ x: UnsafePointer<Float>, count: Int, into z: UnsafeMutablePointer<Float>) throws {
        let t0 = DispatchTime.now()
        try preActivations(x, count: count, into: z)
        let theta = threshold
        var active = 0
        for i in 0..<(count * width) {
            let p = z[i]
            if p > theta && p > 0 { active += 1 } else { z[i] = 0 }
        }
        rowsEncoded += count
        activeCount += active
        encodeSeconds += ModelBenchmark.seconds(since: t0)
    }

    private func preActivations(_ x: UnsafePointer<Float>, count: Int, into z: UnsafeMutablePointer<Float>) throws {
        MatMul.gemm(x, UnsafePointer(try currentWeight().floatPointer), into: z, m: count, k: dIn, n: width)
        bias.withUnsafeBufferPointer { b in
            for r in 0..<count { VectorMath.add(b.baseAddress!, into: z + r * width, count: width) }
        }
    }

    func calibrate(rows: [Float], count: Int, activeFeatures: Int) throws {
        var z = [Float](repeating: 0, count: count * width)
        try rows.withUnsafeBufferPointer { x in
            try z.withUnsafeMutableBufferPointer { try preActivations(x.baseAddress!, count: count, into: $0.baseAddress!) }
        }
        z.sort(by: >)
        let index = min(z.count - 1, max(0, count * activeFeatures - 1))
        threshold = max(0, z[index])
    }
}

/// Keeps a copy of the generation rows at some sites (for threshold calibration).
final class RowCapture: ResidualHook {
    let requests: [HookSite: HookPositions]
    private(set) var rows: [HookSite: [Float]] = [:]

    init(sites: [HookSite]) {
        requests = Dictionary(uniqueKeysWithValues: sites.map { ($0, .generation) })
    }

    func observe(site: HookSite, rows: UnsafePointer<Float>, count: Int, width: Int, tags: [RowTag]) {
        self.rows[site, default: []] += Array(UnsafeBufferPointer(start: rows, count: count * width))
    }
}
