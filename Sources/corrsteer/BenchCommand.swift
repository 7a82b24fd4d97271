import ArgumentParser
import Benchmarks
import CorrSteer
import Foundation
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
            """,
        subcommands: [BenchModelCommand.self, BenchCollectCommand.self],
        defaultSubcommand: BenchModelCommand.self)
}

// Typed at parse time: a misspelt shape is a usage error before gigabytes of random weights are built.
extension BenchmarkShape: ExpressibleByArgument {}
extension MatMulPrecision: ExpressibleByArgument {}

/// Options both benchmarks share.
struct BenchCommonOptions: ParsableArguments {
    @Option(name: .long, help: "Model shape.")
    var shape: BenchmarkShape = .gemma2_2b

    @Option(name: .long, help: "Products with bf16 weights: exact (f32 activations) or fast (bf16 activations).")
    var precision: MatMulPrecision = MatMul.defaultPrecision

    @Option(name: .long, help: "Seed of the random weights and prompts.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Print the figures as one JSON object.")
    var json = false
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

func reportProgress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prefill tok/s per prompt length, decode tok/s per batch size, peak RSS (the default).")

    @OptionGroup var common: BenchCommonOptions

    @Option(name: .long, help: "Prompt lengths to prefill, comma-separated.")
    var prompt: String = "128,512"

    @Option(name: .long, help: "Decode batch sizes, comma-separated.")
    var batch: String = "1,8"

    @Option(name: .long, help: "Decode steps timed per batch size.")
    var steps: Int = 16

    @Option(name: .long, help: "Times each prefill is run (the best counts).")
    var repetitions: Int = 2

    func run() throws {
        let options = ModelBenchmarkOptions(
            shape: common.shape, promptLengths: try parseCounts(prompt, option: "--prompt"),
            batchSizes: try parseCounts(batch, option: "--batch"), decodeSteps: steps, repetitions: repetitions,
            precision: common.precision, seed: common.seed)
        let result = try ModelBenchmark.run(options, progress: reportProgress)
        if common.json {
            try printJSON(result)
            return
        }
        print("shape \(result.shape): \(result.parameters) parameters, \(result.weightDType) weights, precision \(result.precision), kernels \(result.kernelPath), \(result.threads) threads")
        for p in result.prefill {
            print(String(format: "prefill %5d tokens  %8.1f tok/s  (best %.3f s, median %.3f s; %.1f CPU-s)",
                         p.promptTokens, p.tokensPerSecond, p.bestSeconds, p.medianSeconds, p.cpuSeconds))
        }
        for d in result.decode {
            print(String(format: "decode batch %3d     %8.2f tok/s  (median step %.4f s over %d steps after %d tokens; best %.2f tok/s)",
                         d.batch, d.tokensPerSecond, d.medianStepSeconds, d.steps, d.after, d.bestTokensPerSecond))
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
        abstract: "Samples/s of a CorrSteer collection on MMLU-length prompts with random JumpReLU SAEs of the real shapes.")

    @OptionGroup var common: BenchCommonOptions

    @Option(name: .long, help: "Prompts to collect.")
    var samples: Int = 64

    @Option(name: .long, help: "Prompts per batch.")
    var batch: Int = 8

    @Option(name: .long, help: "SAEs at blocks.L.hook_resid_pre for L = 1…layers (default: every block but the first).")
    var layers: Int?

    @Option(name: .long, help: "Features per SAE.")
    var saeWidth: Int = 16_384

    @Option(name: .long, help: "Features active per token the thresholds are calibrated to.")
    var activeFeatures: Int = 80

    @Option(name: .long, help: "Tokens generated per prompt (MMLU: 1).")
    var maxNewTokens: Int = 1

    func run() throws {
        let options = CollectBenchmarkOptions(
            shape: common.shape, samples: samples, batchSize: batch, layers: layers, saeWidth: saeWidth,
            activeFeatures: activeFeatures, maxNewTokens: maxNewTokens, precision: common.precision,
            seed: common.seed)
        let result = try CollectBenchmark.run(options, progress: reportProgress)
        if common.json {
            try printJSON(result)
            return
        }
        print("shape \(result.shape), \(result.layers) SAEs × \(result.saeWidth), batch \(result.batchSize), \(result.maxNewTokens) new token(s), precision \(result.precision), kernels \(result.kernelPath), \(result.threads) threads")
        print(String(format: "prompts: %d, %.1f tokens on average (%d–%d)", result.samples, result.meanPromptTokens,
                     result.minPromptTokens, result.maxPromptTokens))
        print(String(format: "collection: %.3f samples/s (%.1f s; SAE encoding %.1f s; %.1f active features per row)",
                     result.samplesPerSecond, result.seconds, result.encodeSeconds, result.meanActiveFeatures))
        print(String(format: "peak RSS %.2f GB (with SAEs); %.1f CPU-s in the loop", Double(result.peakResidentBytes) / 1e9, result.cpuSeconds))
        if let before = result.loadBefore, let after = result.loadAfter {
            print(String(format: "load average %.2f before, %.2f after", before, after))
        }
    }
}
