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

    @Flag(name: .long, help: "First time single passes (1 and N prompts, 1 and N decode rows; N = the most clients, at most --max-batch) and the tok/s ratio they allow.")
    var profile = false

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
        if profile { try profilePasses(model: model, prompts: prompts, rows: min(maxBatch, try parseCounts(clients, option: "--clients").max() ?? 1)) }
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

    /// Times one pass of each kind the scheduler runs, on a fresh slot batch without hooks: what a step
    /// costs by its rows, and the ratio of N clients' tok/s to 1 client's that these costs allow when
    /// each client's prompt goes through in one pass and its tokens in `max-tokens − 1` steps.
    private func profilePasses(model: LanguageModel, prompts: [[Int]], rows n: Int) throws {
        let batch = try SlotBatch(model: model, slots: n, contextLength: promptTokens + maxTokens)
        func prefill(_ count: Int) -> [SlotBatch.Input] {
            (0..<count).map { SlotBatch.Input(slot: $0, tokens: prompts[$0 % prompts.count], position: 0, endsInput: true) }
        }
        func decode(_ count: Int) -> [SlotBatch.Input] {
            (0..<count).map { SlotBatch.Input(slot: $0, tokens: [prompts[$0 % prompts.count][0]], position: promptTokens, endsInput: true) }
        }
        func seconds(_ inputs: [SlotBatch.Input], label: String) throws -> Double {
            let start = ContinuousClock.now
            _ = try batch.run(inputs, step: 1)
            let elapsed = ContinuousClock.now - start
            let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let rows = inputs.map(\.tokens.count).reduce(0, +)
            print(String(format: "pass %@: %.3f s (%.1f rows/s; load average %.2f)", label, value, Double(rows) / value, loadAverage()))
            return value
        }
        _ = try batch.run(prefill(n), step: 0)  // warm-up: buffers at their largest, weights paged in
        let prefillOne = try seconds(prefill(1), label: "prefill 1 × \(promptTokens)")
        let prefillAll = try seconds(prefill(n), label: "prefill \(n) × \(promptTokens)")
        let decodeOne = try seconds(decode(1), label: "decode 1 row")
        let decodeAll = try seconds(decode(n), label: "decode \(n) rows")
        let steps = Double(maxTokens - 1)
        let ratio = Double(n) * (prefillOne + steps * decodeOne) / (prefillAll + steps * decodeAll)
        print(String(format: "passes allow %d clients %.2f× the tok/s of 1 client", n, ratio))
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
