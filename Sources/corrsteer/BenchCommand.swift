import ArgumentParser
import Benchmarks
import CorrSteer
import Foundation
import SparseAutoencoders
import Tensors

/// `corrsteer bench`: speed on a named real shape with random weights built in memory.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed (or a whole collection) on a real model shape with random weights.",
        discussion: """
            Nothing is read from disk: the model (and for `collect` the SAEs) are random tensors of the real \
            shapes. Figures go to stdout, progress to stderr. Compare with scripts/bench/torch_anchors.py and \
            scripts/bench/python_reference_collect.py run in the same session.

            Examples:
              corrsteer bench --shape tiny --prompt 16 --batch-size 1,2
              corrsteer bench collect --shape tiny --samples 8
              corrsteer bench sae-encode --rows 8
              corrsteer bench ceilings

            Environment:
              CORRSTEER_THREADS    threads for matrix products (default: every core)
              CORRSTEER_PRECISION  default of --precision (else auto)
            """,
        subcommands: [BenchModelCommand.self, BenchCollectCommand.self, BenchSAEEncodeCommand.self, BenchCeilingsCommand.self, BenchServeCommand.self],
        defaultSubcommand: BenchModelCommand.self)
}

// Typed at parse time: a misspelt shape is a usage error before gigabytes of random weights are built.
extension BenchmarkShape: ExpressibleByArgument {}

/// Options both benchmarks share.
struct BenchCommonOptions: ParsableArguments {
    @Option(name: .long, help: "Model shape.")
    var shape: BenchmarkShape = .gemma2_2b

    @OptionGroup var precision: PrecisionOption

    @Option(name: .long, help: "Seed of the random weights and prompts.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Print the figures as one JSON object.")
    var json = false

    @Flag(name: .customLong("no-ceilings"), help: "Skip measuring the machine's ceilings (about 2 s) and the shares of them.")
    var skipCeilings = false

    @OptionGroup var output: QuietOption

    /// The machine's ceilings, measured in this run so that they share its conditions.
    func ceilings() -> MachineCeilings? {
        guard !skipCeilings else { return nil }
        output.note("measuring this machine's ceilings (--no-ceilings skips)")
        let ceilings = MachineCeilingProbe.measure(seconds: 0.1, readBytes: 512 << 20)
        output.note(ceilings.summary)
        return ceilings
    }
}

/// Parses "128,512" into [128, 512].
func parseCounts(_ text: String, option: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
        throw ValidationError("\(option) '\(text)': expected positive integers separated by commas")
    }
    return values.map { $0! }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Progress lines of a benchmark on stderr, unless `--quiet`.
func progressReporter(_ output: QuietOption) -> (String) -> Void {
    { output.note($0) }
}

struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prefill tok/s per prompt length, decode tok/s per batch size, peak RSS (the default).",
        discussion: HelpText.discussion(examples: ["corrsteer bench model --shape tiny --prompt 16 --batch-size 1"]))

    @OptionGroup var common: BenchCommonOptions

    @Option(name: .long, help: "Prompt lengths to prefill, comma-separated.")
    var prompt: String = "128,512"

    @Option(name: .customLong("batch-size"), help: "Decode batch sizes, comma-separated.")
    var batchSizes: String = "1,8"

    /// The option's name before `--batch-size` was used everywhere; still accepted, not shown.
    @Option(name: .customLong("batch"), help: ArgumentHelp("Deprecated spelling of --batch-size.", visibility: .hidden))
    var deprecatedBatch: String?

    @Option(name: .long, help: "Decode steps timed per batch size.")
    var steps: Int = 16

    @Option(name: .long, help: "Times each prefill is run (the best counts).")
    var repetitions: Int = 2

    func validate() throws {
        _ = try parseCounts(prompt, option: "--prompt")
        _ = try parseCounts(deprecatedBatch ?? batchSizes, option: "--batch-size")
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
    }

    func run() throws {
        let options = ModelBenchmarkOptions(
            shape: common.shape, promptLengths: try parseCounts(prompt, option: "--prompt"),
            batchSizes: try parseCounts(deprecatedBatch ?? batchSizes, option: "--batch-size"), decodeSteps: steps, repetitions: repetitions,
            precision: common.precision.apply(common.output).precision, seed: common.seed, ceilings: common.ceilings())
        let result = try ModelBenchmark.run(options, progress: progressReporter(common.output))
        if common.json {
            try printJSON(result)
            return
        }
        print("shape \(result.shape): \(result.parameters) parameters, \(result.weightDType) weights, precision \(result.precision), kernels \(result.kernelPath), \(result.threads) threads")
        for p in result.prefill {
            print(String(format: "prefill %5d tokens  %8.1f tok/s  (best %.3f s, median %.3f s; %.1f CPU-s)",
                         p.promptTokens, p.tokensPerSecond, p.bestSeconds, p.medianSeconds, p.cpuSeconds)
                  + (p.shareOfCeiling.map { "  \($0.summary)" } ?? ""))
        }
        for d in result.decode {
            print(String(format: "decode batch %3d     %8.2f tok/s  (median step %.4f s over %d steps after %d tokens; best %.2f tok/s)",
                         d.batch, d.tokensPerSecond, d.medianStepSeconds, d.steps, d.after, d.bestTokensPerSecond)
                  + (d.shareOfCeiling.map { "  \($0.summary)" } ?? ""))
        }
        print(String(format: "peak RSS %.2f GB", Double(result.peakResidentBytes) / 1e9))
        if let before = result.loadBefore, let after = result.loadAfter {
            print(String(format: "load average %.2f before, %.2f after", before, after))
        }
    }
}

struct BenchCollectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Samples/s of a CorrSteer collection on MMLU-length prompts with random JumpReLU SAEs of the real shapes.",
        discussion: HelpText.discussion(examples: ["corrsteer bench collect --shape tiny --samples 8 --batch-size 4"]))

    @OptionGroup var common: BenchCommonOptions

    @Option(name: .long, help: "Prompts to collect.")
    var samples: Int = 64

    @Option(name: .customLong("batch-size"), help: "Prompts per batch.")
    var batchSize: Int = 8

    /// The option's name before `--batch-size` was used everywhere; still accepted, not shown.
    @Option(name: .customLong("batch"), help: ArgumentHelp("Deprecated spelling of --batch-size.", visibility: .hidden))
    var deprecatedBatch: Int?

    @Option(name: .long, help: "SAEs at blocks.L.hook_resid_pre for L = 1…layers (default: every block but the first).")
    var layers: Int?

    @Option(name: .long, help: "Features per SAE.")
    var saeWidth: Int = 16_384

    @Option(name: .long, help: "Features active per token the thresholds are calibrated to.")
    var activeFeatures: Int = 80

    @Option(name: .long, help: "Tokens generated per prompt (MMLU: 1).")
    var maxNewTokens: Int = 1

    @OptionGroup var memory: MemoryPlanOption

    func validate() throws {
        for (name, value) in [("--samples", samples), ("--batch-size", deprecatedBatch ?? batchSize), ("--sae-width", saeWidth),
                              ("--active-features", activeFeatures), ("--max-new-tokens", maxNewTokens)] where value < 1 {
            throw ValidationError("\(name) must be at least 1, got \(value)")
        }
        if let layers, layers < 1 { throw ValidationError("--layers must be at least 1, got \(layers)") }
    }

    func run() throws {
        let options = CollectBenchmarkOptions(
            shape: common.shape, samples: samples, batchSize: deprecatedBatch ?? batchSize, layers: layers, saeWidth: saeWidth,
            activeFeatures: activeFeatures, maxNewTokens: maxNewTokens, precision: common.precision.apply(common.output).precision,
            seed: common.seed, ceilings: common.ceilings())
        var planned = options
        planned.memoryPlan = memory.memoryPlan
        let result = try CollectBenchmark.run(planned, progress: progressReporter(common.output))
        if common.json {
            try printJSON(result)
            return
        }
        print("shape \(result.shape), \(result.layers) SAEs × \(result.saeWidth), batch \(result.batchSize), \(result.maxNewTokens) new token(s), precision \(result.precision), kernels \(result.kernelPath), \(result.threads) threads")
        print(String(format: "prompts: %d, %.1f tokens on average (%d–%d)", result.samples, result.meanPromptTokens,
                     result.minPromptTokens, result.maxPromptTokens))
        print(String(format: "collection: %.3f samples/s (%.1f s; SAE encoding %.1f s; %.1f active features per row)",
                     result.samplesPerSecond, result.seconds, result.encodeSeconds, result.meanActiveFeatures)
              + (result.shareOfCeiling.map { "  \($0.summary)" } ?? ""))
        print(String(format: "peak RSS %.2f GB (with SAEs); %.1f CPU-s in the loop", Double(result.peakResidentBytes) / 1e9, result.cpuSeconds))
        if let plan = result.memoryPlan { print(plan.summary) }
        if let before = result.loadBefore, let after = result.loadAfter {
            print(String(format: "load average %.2f before, %.2f after", before, after))
        }
    }
}

/// `corrsteer bench sae-encode`: SAE encoding against a plain f32 GEMM of the same shape.
struct BenchSAEEncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sae-encode",
        abstract: "GFLOP/s of SAE encoding against a plain f32 GEMM of the Gemma Scope 16k shape, random weights.",
        discussion: HelpText.discussion(examples: ["corrsteer bench sae-encode --rows 8 --json"]))

    @Option(name: .long, help: "Rows per call.")
    var rows: Int = 64

    @Flag(name: .long, help: "Print the figures as one JSON object.")
    var json = false

    @OptionGroup var output: QuietOption

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1, got \(rows)") }
    }

    func run() throws {
        let result = SAEBenchmark.encodeVersusGEMM(rows: rows)
        if json { return try printJSON(result) }
        print(String(format: "%d × %d encoder, %d rows, %d threads: GEMM %.1f GFLOP/s (%.2f ms); encode %.1f GFLOP/s (%.2f ms) = %.1f%% of GEMM; unaligned (npz-like) encoder %.1f GFLOP/s = %.1f%%",
                     result.dIn, result.dSAE, result.rows, result.threads, result.gemmGFLOPS, result.gemmSeconds * 1e3,
                     result.encodeGFLOPS, result.encodeSeconds * 1e3, 100 * result.ratio,
                     result.encodeUnalignedGFLOPS, 100 * result.unalignedRatio))
    }
}

/// `corrsteer bench ceilings`: what this machine can do at most, the yardstick of every other figure.
struct BenchCeilingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceilings",
        abstract: "This machine's f32 FMA and bf16 dot-product peaks and read bandwidth, on 1 thread and all.",
        discussion: HelpText.discussion(examples: ["corrsteer bench ceilings --json"]))

    @Option(name: .long, help: "Seconds per compute run (each figure is the best of three).")
    var seconds: Double = 0.5

    @Option(name: .customLong("read-mib"), help: "MiB streamed per bandwidth run.")
    var readMiB: Int = 2048

    @Flag(name: .long, help: "Print the figures as one JSON object.")
    var json = false

    @OptionGroup var output: QuietOption

    func validate() throws {
        guard seconds > 0, seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60], got \(seconds)") }
        guard (64...65_536).contains(readMiB) else { throw ValidationError("--read-mib must be in 64…65536, got \(readMiB)") }
    }

    func run() throws {
        let ceilings = MachineCeilingProbe.measure(seconds: seconds, readBytes: readMiB << 20)
        if json { return try printJSON(ceilings) }
        print(ceilings.summary)
        print(String(format: "f32 FMA (%@): %.1f GFLOP/s on 1 thread", ceilings.fmaWidth, ceilings.fmaF32GFLOPSOneThread))
        if let dot = ceilings.bf16DotGFLOPSOneThread {
            print(String(format: "bf16 dot (vdpbf16ps): %.1f GFLOP/s on 1 thread", dot))
        }
        print(String(format: "read: %.1f GB/s on 1 thread", ceilings.readGBPerSecondOneThread))
    }
}
