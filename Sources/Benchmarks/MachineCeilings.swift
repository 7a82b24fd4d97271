import CKernels
import CorrSteer
import Foundation
import LanguageModels
import Tensors

/// What this machine can do at most, measured by `corrsteer bench ceilings` and beside every `bench`
/// figure, so that figures from different machines compare as shares of their own machine's peak.
/// Compute rates are per CPU-second of the probe threads (a busy machine slows a probe's wall clock, not
/// its peak); bandwidth is by the wall clock, so on a busy machine it is low (the load is recorded).
/// Field names are the JSON output's.
public struct MachineCeilings: Codable, Sendable {
    public var cpuModel: String
    public var threads: Int
    /// Widest f32 FMA the CPU runs: "zmm", "ymm" or "scalar".
    public var fmaWidth: String
    public var fmaF32GFLOPS: Double
    public var fmaF32GFLOPSOneThread: Double
    /// vdpbf16ps peak (64 flops per instruction); nil where the CPU has no bf16 dot product.
    public var bf16DotGFLOPS: Double?
    public var bf16DotGFLOPSOneThread: Double?
    /// Sequential read of a buffer far larger than the caches.
    public var readGBPerSecond: Double
    public var readGBPerSecondOneThread: Double
    public var loadBefore: Double?
    public var loadAfter: Double?

    // Spelled out: the snake-case strategy would glue "f32" to "gflops".
    enum CodingKeys: String, CodingKey {
        case cpuModel = "cpu_model", threads, fmaWidth = "fma_width", fmaF32GFLOPS = "fma_f32_gflops"
        case fmaF32GFLOPSOneThread = "fma_f32_gflops_one_thread", bf16DotGFLOPS = "bf16_dot_gflops"
        case bf16DotGFLOPSOneThread = "bf16_dot_gflops_one_thread", readGBPerSecond = "read_gb_per_second"
        case readGBPerSecondOneThread = "read_gb_per_second_one_thread", loadBefore = "load_before", loadAfter = "load_after"
    }

    public init(cpuModel: String, threads: Int, fmaWidth: String, fmaF32GFLOPS: Double, fmaF32GFLOPSOneThread: Double,
                bf16DotGFLOPS: Double?, bf16DotGFLOPSOneThread: Double?, readGBPerSecond: Double,
                readGBPerSecondOneThread: Double) {
        self.cpuModel = cpuModel
        self.threads = threads
        self.fmaWidth = fmaWidth
        self.fmaF32GFLOPS = fmaF32GFLOPS
        self.fmaF32GFLOPSOneThread = fmaF32GFLOPSOneThread
        self.bf16DotGFLOPS = bf16DotGFLOPS
        self.bf16DotGFLOPSOneThread = bf16DotGFLOPSOneThread
        self.readGBPerSecond = readGBPerSecond
        self.readGBPerSecondOneThread = readGBPerSecondOneThread
    }

    /// "AMD EPYC, 2 threads: f32 FMA (ymm) 120.3 GFLOP/s, bf16 dot none, read 21.4 GB/s".
    public var summary: String {
        let dot = bf16DotGFLOPS.map { String(format: "%.1f GFLOP/s", $0) } ?? "none"
        var text = String(format: "%@, %d threads: f32 FMA (%@) %.1f GFLOP/s, bf16 dot %@, read %.1f GB/s",
                          cpuModel, threads, fmaWidth, fmaF32GFLOPS, dot, readGBPerSecond)
        if let load = loadBefore { text += String(format: " (load average %.2f)", load) }
        return text
    }

    /// The compute peak a product at `precision` can reach: vdpbf16ps where the fast path uses it,
    /// f32 FMA otherwise (the exact path widens bf16 weights and multiplies in f32).
    public func computeGFLOPS(precision: MatMulPrecision, bf16DotInUse: Bool) -> Double {
        if precision == .fast, bf16DotInUse, let dot = bf16DotGFLOPS { return dot }
        return fmaF32GFLOPS
    }
}

public enum MachineCeilingProbe {
    /// Measures the ceilings on `threads` threads (1 thread too). `seconds` is the length of one compute
    /// run (each figure is the best of three); `readBytes` the buffer streamed for bandwidth.
    public static func measure(threads: Int = Parallel.threadCount, seconds: Double = 0.2,
                               readBytes: Int = 1 << 30) -> MachineCeilings {
        let threads = max(1, threads)
        let loadBefore = SystemLoad.oneMinute()
        let hasDot = MatMul.detectedKernelPath == "avx512bf16"
        var ceilings = MachineCeilings(
            cpuModel: PrecisionSetup.cpuModel, threads: threads, fmaWidth: String(cString: ck_probe_fma_width()),
            fmaF32GFLOPS: ck_probe_fma_gflops(Int32(threads), seconds),
            fmaF32GFLOPSOneThread: ck_probe_fma_gflops(1, seconds),
            bf16DotGFLOPS: hasDot ? ck_probe_bf16_dot_gflops(Int32(threads), seconds) : nil,
            bf16DotGFLOPSOneThread: hasDot ? ck_probe_bf16_dot_gflops(1, seconds) : nil,
            readGBPerSecond: ck_probe_read_gbs(Int32(threads), readBytes),
            readGBPerSecondOneThread: ck_probe_read_gbs(1, readBytes))
        ceilings.loadBefore = loadBefore
        ceilings.loadAfter = SystemLoad.oneMinute()
        return ceilings
    }
}

/// Arithmetic and weight traffic of one model shape, to turn tok/s into a share of a ceiling.
/// Counts multiply-adds of the weight matrices and of attention (2 flops each); norms, activations
/// and softmax are left out, as every anchor's ceiling leaves them out.
public struct ModelWork: Sendable {
    /// Weights of the transformer blocks (the matrices every token multiplies).
    public var blockMatrixParameters: Double
    public var headParameters: Double
    public var layers: Double
    public var queryWidth: Double
    public var weightBytesPerParameter: Double

    public init(_ config: ModelConfiguration, weightDType: DType = .bf16) {
        blockMatrixParameters = config.tensorShapes
            .filter { $0.shape.count == 2 && $0.name.hasPrefix("model.layers.") }
            .reduce(0) { $0 + Double($1.shape.reduce(1, *)) }
        headParameters = Double(config.vocabularySize * config.hiddenSize)
        layers = Double(config.layerCount)
        queryWidth = Double(config.attentionHeadCount * config.headDimension)
        weightBytesPerParameter = Double(weightDType.byteSize)
    }

    /// Scores and the value sum over `context` earlier positions, all layers, for one token.
    func attentionFLOPs(context: Double) -> Double { layers * 4 * queryWidth * context }

    /// Per token of a causal prefill of `length` tokens that returns the last position's logits.
    public func prefillFLOPsPerToken(length: Int) -> Double {
        let n = Double(length)
        return 2 * blockMatrixParameters + attentionFLOPs(context: (n + 1) / 2) + 2 * headParameters / n
    }

    /// Bytes a product reads per weight. `compact`: the bf16 dot-product kernel reads a bf16 weight's
    /// 12-bit compact copy (its lines kept whole, a few thousandths of them, are left out of the count).
    public func productBytesPerParameter(compact: Bool) -> Double {
        compact && weightBytesPerParameter == 2 ? 1.5 : weightBytesPerParameter
    }

    /// Bytes of weights one decode step reads (all blocks and the head), whatever the batch.
    public func decodeBytesPerStep(compact: Bool) -> Double {
        (blockMatrixParameters + headParameters) * productBytesPerParameter(compact: compact)
    }

    /// `decodeBytesPerStep` for a greedy step of `batch` rows: up to `GreedyScreen.maxRows` rows read the
    /// head's int8 screen (one byte per weight) instead of the head (the few candidate rows are negligible).
    public func greedyDecodeBytesPerStep(batch: Int, compact: Bool) -> Double {
        guard batch <= GreedyScreen.maxRows else { return decodeBytesPerStep(compact: compact) }
        return blockMatrixParameters * productBytesPerParameter(compact: compact) + headParameters
    }

    public func decodeFLOPsPerToken(context: Int) -> Double {
        2 * (blockMatrixParameters + headParameters) + attentionFLOPs(context: Double(context))
    }
}

/// A figure beside the ceiling it is bounded by.
public struct CeilingShare: Codable, Sendable {
    /// "fma_f32", "bf16_dot" or "read".
    public var ceiling: String
    /// The figure converted to the ceiling's unit (GFLOP/s or GB/s).
    public var achieved: Double
    public var share: Double

    public init(ceiling: String, achieved: Double, peak: Double) {
        self.ceiling = ceiling
        self.achieved = achieved
        share = peak > 0 ? achieved / peak : 0
    }

    /// "41% of fma_f32 (91 of 221 GFLOP/s)".
    public var summary: String {
        let unit = ceiling == "read" ? "GB/s" : "GFLOP/s"
        return String(format: "%.0f%% of %@ peak (%.1f %@)", 100 * share, ceiling, achieved, unit)
    }
}

extension MachineCeilings {
    /// A compute-bound figure: `flops` per second against the compute peak of `precision`.
    public func computeShare(flopsPerSecond: Double, precision: MatMulPrecision, bf16DotInUse: Bool) -> CeilingShare {
        let useDot = precision == .fast && bf16DotInUse && bf16DotGFLOPS != nil
        return CeilingShare(ceiling: useDot ? "bf16_dot" : "fma_f32", achieved: flopsPerSecond / 1e9,
                            peak: computeGFLOPS(precision: precision, bf16DotInUse: bf16DotInUse))
    }

    /// A bandwidth-bound figure: `bytes` per second against the read peak.
    public func readShare(bytesPerSecond: Double) -> CeilingShare {
        CeilingShare(ceiling: "read", achieved: bytesPerSecond / 1e9, peak: readGBPerSecond)
    }
}
