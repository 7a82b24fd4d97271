import ArgumentParser
import Benchmarks
import CorrSteer
import Foundation
import LanguageModels
import Serving

/// `corrsteer bench serve`: total tok/s and request latency of the serving scheduler for 1, 4, 16 clients.
struct BenchServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Total tok/s and p50/p99 latency of `serve`'s continuous batching for several concurrent clients with mixed steering.",
        discussion: HelpText.discussion(
            "Clients run in process against the scheduler `corrsteer serve` uses (no HTTP). Client i steers with a "
                + "random vector at one layer (every third client is unsteered), so every batch mixes steerings.",
            examples: ["corrsteer bench serve --demo --clients 1,4 --requests 1",
                       "corrsteer bench serve --shape tiny --clients 1,2 --max-tokens 8"]))

    @Option(name: .long, help: "Model shape (random weights).")
    var shape: BenchmarkShape = .gemma2_2b

    @Flag(name: .long, help: "Use the bundled demo model instead of --shape.")
    var demo = false

    @OptionGroup var precision: PrecisionOption
    @OptionGroup var output: QuietOption

    @Option(name: .long, help: "Concurrent client counts, comma-separated.")
    var clients = "1,4,16"

    @Option(name: .long, help: "Requests each client sends, one after another.")
    var requests = 2

    @Option(name: .customLong("prompt-tokens"), help: "Prompt length of every request.")
    var promptTokens = 32

    @Option(name: .customLong("max-tokens"), help: "Tokens generated per request.")
    var maxTokens = 32

    @Option(name: .customLong("max-batch"), help: "Scheduler slots.")
    var maxBatch = 16

    @Option(name: .long, help: "Seed of the random weights, prompts and steering vectors.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Print one JSON object per client count.")
    var json = false

    func validate() throws {
        _ = try parseCounts(clients, option: "--clients")
        guard requests >= 1, promptTokens >= 1, maxTokens >= 1 else { throw ValidationError("--requests, --prompt-tokens and --max-tokens must be at least 1") }
        guard (1...256).contains(maxBatch) else { throw ValidationError("--max-batch must be in 1…256, got \(maxBatch)") }
    }

    func run() throws {
        precision.apply(output)
        let model = demo
            ? try LanguageModel.load(directory: DemoBundle.installed().root.appendingPathComponent("model"))
            : try shape.randomModel(seed: seed)
        let config = model.config
        var random = BenchmarkRandom(seed: seed &+ 1)
        let prompts = (0..<8).map { _ in (0..<promptTokens).map { _ in random.int(in: 3...(config.vocabularySize - 1)) } }
        let steerings: [SteeringVectors?] = (0..<6).map { i in
            guard i % 3 != 0 else { return nil }
            let vector = (0..<config.hiddenSize).map { _ in 0.5 * (random.unit() - 0.5) }
            return SteeringVectors(sites: [.residPost(layer: (i * 7) % config.layerCount): vector], allPositions: false)
        }
        var options = Scheduler.Options()
        options.maxBatch = maxBatch
        options.maxQueue = 1024
        options.contextLength = promptTokens + maxTokens
        let scheduler = try Scheduler(model: model, tokenizer: nil, options: options, metrics: ServingMetrics())
        scheduler.start()
        defer { scheduler.shutdown() }
        let name = demo ? "demo" : shape.rawValue
        for count in try parseCounts(clients, option: "--clients") {
            output.note("\(name): \(count) client(s) × \(requests) request(s)")
            let load = loadAverage()
            let result = try blocking {
                try await ServeLoad.run(scheduler: scheduler, clients: count, requestsPerClient: requests, prompts: prompts,
                                        maxTokens: maxTokens, steerings: steerings)
            }
            if json {
                try printJSON(result)
            } else {
                print(String(format: "%@  %3d clients  %8.2f tok/s total  p50 %.3f s  p99 %.3f s  (%d requests, %d tokens, %.1f s; load average %.2f before)",
                             name, count, result.tokensPerSecond, result.p50Seconds, result.p99Seconds, result.requests,
                             result.generatedTokens, result.seconds, load))
            }
        }
    }

    private func loadAverage() -> Double {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return Double(text.split(separator: " ").first ?? "") ?? .nan
    }

    private func blocking(_ work: @escaping @Sendable () async throws -> ServeLoadResult) throws -> ServeLoadResult {
        let box = ResultBox()
        try AsyncBridge.run { box.value = try await work() }
        guard let value = box.value else { throw ValidationError("the load run produced no result") }
        return value
    }

    private final class ResultBox: @unchecked Sendable {
        var value: ServeLoadResult?
    }
}
