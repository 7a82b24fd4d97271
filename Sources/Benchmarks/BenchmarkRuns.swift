import Dispatch
import CorrSteer
import Foundation
import LanguageModels
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `corrsteer bench` measures on a model shape with random weights.
public struct ModelBenchmarkOptions: Sendable {
    public var shape: BenchmarkShape
    public var promptLengths: [Int]
    public var batchSizes: [Int]
    /// Decode steps timed per batch size (after `decodeAfter` prompt tokens).
    public var decodeSteps: Int
    public var decodeAfter: Int
    /// Each prefill is timed this many times; the best is reported (as the PyTorch anchors do).
    public var repetitions: Int
    public var precision: MatMulPrecision
    public var seed: UInt64
    /// The machine's ceilings to state every figure against (nil: figures only).
    public var ceilings: MachineCeilings?

    public init(shape: BenchmarkShape = .gemma2_2b, promptLengths: [Int] = [128, 512], batchSizes: [Int] = [1, 8],
                decodeSteps: Int = 16, decodeAfter: Int = 128, repetitions: Int = 2,
                precision: MatMulPrecision = MatMul.defaultPrecision, seed: UInt64 = 0, ceilings: MachineCeilings? = nil) {
        self.shape = shape
        self.promptLengths = promptLengths
        self.batchSizes = batchSizes
        self.decodeSteps = decodeSteps
        self.decodeAfter = decodeAfter
        self.repetitions = repetitions
        self.precision = precision
        self.seed = seed
        self.ceilings = ceilings
    }
}

/// The figures of one `corrsteer bench` run. Field names are the JSON output's.
public struct ModelBenchmarkResult: Codable, Sendable {
    public struct Prefill: Codable, Sendable {
        public var promptTokens: Int
        public var bestSeconds: Double
        public var medianSeconds: Double
        public var tokensPerSecond: Double
        /// CPU time of the process during the best run (all threads): on a shared machine,
        /// tokens / (cpuSeconds / threads) shows what the run would give with the cores to itself.
        public var cpuSeconds: Double
        /// tok/s as arithmetic against the compute peak (absent without ceilings).
        public var shareOfCeiling: CeilingShare?
    }

    public struct Decode: Codable, Sendable {
        public var batch: Int
        public var after: Int
        public var steps: Int
        public var medianStepSeconds: Double
        /// Tokens per second over the whole batch, from the median step.
        public var tokensPerSecond: Double
        public var bestTokensPerSecond: Double
        /// tok/s against the bound of the step: reading the weights once (small batches) or the
        /// arithmetic of the batch, whichever takes longer at the machine's peaks.
        public var shareOfCeiling: CeilingShare?
    }

    public var shape: String
    public var parameters: Int
    public var weightDType: String
    public var precision: String
    /// What `--precision` asked for and why `precision` followed (absent when no choice was made).
    public var precisionChoice: String?
    public var precisionReason: String?
    public var kernelPath: String
    public var threads: Int
    public var buildSeconds: Double
    /// Time to build the LM head's greedy screen before the measurements (`GreedyScreen`: greedy steps
    /// of up to four rows then read an int8 copy of the head and compute only the logits that can win).
    public var greedyScreenSeconds: Double?
    public var prefill: [Prefill] = []
    public var decode: [Decode] = []
    /// Highest resident memory of the process so far (VmHWM), in bytes.
    public var peakResidentBytes: Int = 0
    /// 1-minute load average before and after the measurements (Linux), to judge how shared the machine was.
    public var loadBefore: Double?
    public var loadAfter: Double?
    public var ceilings: MachineCeilings?
}

public enum ModelBenchmark {
    /// Builds the model and times prefill per prompt length and decode per batch size. `progress`
    /// receives a line per finished measurement.
    public static func run(_ options: ModelBenchmarkOptions, progress: (String) -> Void = { _ in }) throws -> ModelBenchmarkResult {
        guard options.promptLengths.allSatisfy({ $0 >= 1 }), options.batchSizes.allSatisfy({ $0 >= 1 }),
              options.decodeSteps >= 1, options.decodeAfter >= 1, options.repetitions >= 1 else {
            throw RunError.invalidSetting("bench: prompt lengths, batch sizes, steps and repetitions must be at least 1")
        }
        let saved = MatMul.defaultPrecision
        MatMul.defaultPrecision = options.precision
        defer { MatMul.defaultPrecision = saved }

        let started = DispatchTime.now()
        let model = try options.shape.randomModel(seed: options.seed)
        var result = ModelBenchmarkResult(
            shape: options.shape.rawValue, parameters: try options.shape.parameterCount(),
            weightDType: model.weightDType.rawValue, precision: options.precision.rawValue,
            kernelPath: MatMul.kernelPath, threads: Parallel.threadCount, buildSeconds: seconds(since: started))
        if let decision = PrecisionSelector.current, decision.precision == options.precision {
            result.precisionChoice = decision.choice.rawValue
            result.precisionReason = decision.reason
        }
        progress("built \(options.shape.rawValue) with random weights in \(String(format: "%.1f", result.buildSeconds)) s")
        result.ceilings = options.ceilings
        let work = ModelWork(model.config, weightDType: model.weightDType)
        let bf16Dot = MatMul.hasBF16DotProduct

        var rng = BenchmarkRandom(seed: options.seed &+ 1)
        let vocabulary = model.config.vocabularySize
        func prompt(_ length: Int) -> [Int] { (0..<length).map { _ in rng.int(in: 3...(vocabulary - 1)) } }

        let generator = Generator(model: model)
        _ = try generator.forward(tokens: [prompt(16)])  // warm-up: first-touch of buffers
        // Built as a long greedy generation would build it; its one-time cost is reported, not timed in the steps.
        let screenStart = DispatchTime.now()
        let screenBytes = model.prepareGreedyScreen()
        result.greedyScreenSeconds = seconds(since: screenStart)
        progress(String(format: "greedy screen: %.0f MB in %.2f s", Double(screenBytes) / 1e6, result.greedyScreenSeconds ?? 0))
        result.loadBefore = SystemLoad.oneMinute()
        for length in options.promptLengths {
            let tokens = prompt(length)
            var runs: [(wall: Double, cpu: Double)] = []
            for _ in 0..<options.repetitions {
                // A generation's prefill, to the start of its first decode step: the keys and values go
                // into the cache, as before any decoding (a plain forward pass would skip that).
                let timer = StepTimer()
                let t0 = DispatchTime.now().uptimeNanoseconds, c0 = ProcessClock.cpuSeconds()
                _ = try generator.generate(GenerationRequest(prompts: [tokens], maxNewTokens: 2, stopTokenIDs: []),
                                           hooks: [timer])
                guard let end = timer.start(ofStep: 1) else {
                    throw RunError.invalidSetting("bench: the prefill of \(length) tokens ran no decode step")
                }
                runs.append((Double(end.nanoseconds - t0) / 1e9, end.cpuSeconds - c0))
            }
            runs.sort { $0.wall < $1.wall }
            let entry = ModelBenchmarkResult.Prefill(
                promptTokens: length, bestSeconds: runs[0].wall, medianSeconds: runs[runs.count / 2].wall,
                tokensPerSecond: Double(length) / runs[0].wall, cpuSeconds: runs[0].cpu,
                shareOfCeiling: options.ceilings?.computeShare(
                    flopsPerSecond: Double(length) / runs[0].wall * work.prefillFLOPsPerToken(length: length),
                    precision: options.precision, bf16DotInUse: bf16Dot))
            result.prefill.append(entry)
            progress("prefill \(length) tokens: \(String(format: "%.1f", entry.tokensPerSecond)) tok/s")
        }

        for batch in options.batchSizes {
            let timer = StepTimer()
            let request = GenerationRequest(
                prompts: (0..<batch).map { _ in prompt(options.decodeAfter) },
                maxNewTokens: options.decodeSteps + 2, stopTokenIDs: [])
            _ = try generator.generate(request, hooks: [timer])
            let steps = timer.decodeStepSeconds().sorted()
            guard !steps.isEmpty else { continue }
            let median = steps[steps.count / 2]
            let entry = ModelBenchmarkResult.Decode(
                batch: batch, after: options.decodeAfter, steps: steps.count, medianStepSeconds: median,
                tokensPerSecond: Double(batch) / median, bestTokensPerSecond: Double(batch) / steps[0],
                shareOfCeiling: options.ceilings.map {
                    decodeShare(ceilings: $0, work: work, batch: batch, context: options.decodeAfter, stepSeconds: median,
                                precision: options.precision, bf16Dot: bf16Dot)
                })
            result.decode.append(entry)
            progress("decode batch \(batch): \(String(format: "%.2f", entry.tokensPerSecond)) tok/s")
        }
        result.peakResidentBytes = ProcessMemory.peakResidentBytes()
        result.loadAfter = SystemLoad.oneMinute()
        return result
    }

    /// A decode step reads every weight once and does `batch` tokens' arithmetic; whichever of the two
    /// takes longer at the machine's peaks bounds it, and the share is stated in that ceiling's unit.
    static func decodeShare(ceilings: MachineCeilings, work: ModelWork, batch: Int, context: Int, stepSeconds: Double,
                            precision: MatMulPrecision, bf16Dot: Bool) -> CeilingShare {
        let flops = Double(batch) * work.decodeFLOPsPerToken(context: context)
        let bytes = work.greedyDecodeBytesPerStep(batch: batch, compact: precision == .fast && bf16Dot)
        let readSeconds = bytes / (ceilings.readGBPerSecond * 1e9)
        let computeSeconds = flops / (ceilings.computeGFLOPS(precision: precision, bf16DotInUse: bf16Dot) * 1e9)
        return readSeconds >= computeSeconds
            ? ceilings.readShare(bytesPerSecond: bytes / stepSeconds)
            : ceilings.computeShare(flopsPerSecond: flops / stepSeconds, precision: precision, bf16DotInUse: bf16Dot)
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

/// Stamps the start of every forward pass (the engine calls it at the input of block 0), so the
/// decode steps can be timed one by one: step k lasts from its stamp to step k + 1's.
final class StepTimer: ResidualHook {
    let requests: [HookSite: HookPositions] = [.residPre(layer: 0): .generation]
    private var stamps: [(step: Int, nanoseconds: UInt64, cpuSeconds: Double)] = []

    func observe(site: HookSite, rows: UnsafePointer<Float>, count: Int, width: Int, tags: [RowTag]) {
        stamps.append((tags.first?.step ?? 0, DispatchTime.now().uptimeNanoseconds, ProcessClock.cpuSeconds()))
    }

    /// When step `step` began (wall clock and process CPU time), if it ran.
    func start(ofStep step: Int) -> (nanoseconds: UInt64, cpuSeconds: Double)? {
        stamps.first { $0.step == step }.map { ($0.nanoseconds, $0.cpuSeconds) }
    }

    /// Durations of the complete decode steps (step ≥ 1 with a following stamp).
    func decodeStepSeconds() -> [Double] {
        zip(stamps, stamps.dropFirst()).compactMap { a, b in
            a.step >= 1 && b.step == a.step + 1 ? Double(b.nanoseconds - a.nanoseconds) / 1e9 : nil
        }
    }
}

/// Resident memory of this process.
public enum ProcessMemory {
    /// The peak resident set size: `VmHWM` of /proc/self/status on Linux, `ru_maxrss` elsewhere.
    public static func peakResidentBytes() -> Int {
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                if let kb = ProcessMemory.kilobytes(inStatusLine: line) { return kb * 1024 }
            }
        }
        return 0
        #else
        var usage = rusage()
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)
        #endif
    }
}

extension ProcessMemory {
    /// The number of a /proc status line such as "VmHWM:\t    2072 kB". The kernel pads the number
    /// to 8 columns after the tab, so from 8 digits on (≥ 10 GB) no space separates it from the tab.
    public static func kilobytes<S: StringProtocol>(inStatusLine line: S) -> Int? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return fields.count >= 2 ? Int(fields[1]) : nil
    }
}

/// CPU time of this process.
public enum ProcessClock {
    /// User plus system time of all threads so far, in seconds.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// How busy the machine is.
public enum SystemLoad {
    /// The 1-minute load average from /proc/loadavg, or nil where there is none.
    public static func oneMinute() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }
}
