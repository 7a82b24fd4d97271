import ArgumentParser
import Foundation
import LanguageModels
import Serving

/// `corrsteer serve`: an OpenAI-compatible HTTP server whose requests each choose their steering.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible API; each request picks its own steering plan.",
        discussion: HelpText.discussion(
            "Endpoints: GET /health, /metrics, /v1/models, /v1/steering/plans; POST /v1/completions, "
                + "/v1/chat/completions (\"stream\": true for server-sent events). A request steers with the extra body field "
                + "\"steering\": {\"plan\": NAME, \"scale\": 1} or {\"vectors\": [{\"layer\": L, \"feature\": F, \"coefficient\": C}], "
                + "\"positions\": \"generation\"|\"all\"} (vectors need --sae). Requests with different plans share one "
                + "decode batch. SIGTERM or SIGINT finishes the running requests, then exits.",
            examples: [
                "corrsteer serve -m MODEL --run RUN --check",
                "corrsteer serve -m MODEL --plan a=RUN/plans/A.json --sae SAE --check",
            ],
            extra: [HelpText.environment]))

    @Option(name: [.customShort("m"), .long], help: "Model folder, or a Hugging Face id found in the local HF cache.")
    var model: String

    @OptionGroup var precision: PrecisionOption
    @OptionGroup var output: QuietOption

    @Option(help: "tokenizer.json file or folder (default: the model folder).")
    var tokenizer: String?

    @Option(name: .long, parsing: .singleValue, help: "Register a plan file as NAME (repeatable).")
    var plan: [String] = []

    @Option(name: .customLong("run"), parsing: .singleValue, help: "Register a run's plans S, A, P as RUNNAME/S, RUNNAME/A, RUNNAME/P (repeatable).")
    var runs: [String] = []

    @Option(help: "SAE folder whose decoder rows requests may name in steering.vectors.")
    var sae: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8080

    @Option(name: .customLong("max-batch"), help: "Most sequences decoded together.")
    var maxBatch = 8

    @Option(name: .customLong("max-queue"), help: "Most requests waiting for a slot; more get 429.")
    var maxQueue = 64

    @Option(name: .customLong("max-context"), help: "Positions per sequence (prompt + generated); default: the model's limit, at most 2048.")
    var maxContext: Int?

    @Option(name: .customLong("max-tokens"), help: "Largest max_tokens a request may ask for.")
    var maxTokens = 4096

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body.")
    var maxBodyBytes = 1 << 20

    @Option(name: .customLong("request-timeout"), help: "Seconds a request may take from acceptance to its last token.")
    var requestTimeout: Double = 600

    @Option(name: .customLong("served-model-name"), help: "The model's id in the API (default: the model folder's name).")
    var servedModelName: String?

    @Flag(help: "Load the model and plans, print what would be served, and exit without listening.")
    var check = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535, got \(port)") }
        guard (1...256).contains(maxBatch) else { throw ValidationError("--max-batch must be in 1…256, got \(maxBatch)") }
        guard (0...100_000).contains(maxQueue) else { throw ValidationError("--max-queue must be in 0…100000, got \(maxQueue)") }
        if let maxContext, maxContext < 2 { throw ValidationError("--max-context must be at least 2, got \(maxContext)") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1, got \(maxTokens)") }
        guard (1024...(256 << 20)).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes must be in 1024…268435456") }
        guard requestTimeout > 0, requestTimeout.isFinite else { throw ValidationError("--request-timeout must be a positive number of seconds") }
        for argument in plan where !argument.contains("=") { throw ValidationError("--plan takes NAME=PATH, got '\(argument)'") }
    }

    func run() throws {
        precision.apply(output)
        let languageModel = try LanguageModel.load(model)
        let textTokenizer = try TokenizerLocation.load(tokenizer, model: languageModel)
        var registry = SteeringRegistry(model: languageModel, decoderRows: try sae.map { try DecoderRowSource(path: URL(fileURLWithPath: $0)) })
        for argument in plan { try registry.registerPlan(argument: argument) }
        for folder in runs { _ = try registry.registerRun(path: folder) }
        var options = Scheduler.Options()
        options.maxBatch = maxBatch
        options.maxQueue = maxQueue
        options.contextLength = maxContext ?? min(languageModel.config.maxPositionEmbeddings, 2048)
        options.requestTimeout = requestTimeout
        var limits = RequestLimits()
        limits.maxTokens = maxTokens
        limits.maxBodyBytes = maxBodyBytes
        let metrics = ServingMetrics()
        let scheduler = try Scheduler(model: languageModel, tokenizer: textTokenizer, options: options, metrics: metrics)
        let name = servedModelName ?? languageModel.directory?.lastPathComponent ?? model
        let setup = ServerSetup(modelName: name, model: languageModel, tokenizer: textTokenizer, registry: registry,
                                scheduler: scheduler, metrics: metrics, limits: limits)
        let plans = registry.plans.keys.sorted()
        if check {
            print("model \(name): \(options.maxBatch) slots of \(options.contextLength) positions; plans: \(plans.isEmpty ? "none" : plans.joined(separator: ", "))"
                  + (sae == nil ? "" : "; SAE layers for steering.vectors: \(registry.decoderRows?.layers.map(String.init).joined(separator: ",") ?? "")"))
            return
        }
        output.note("\(plans.count) steering plan(s): \(plans.joined(separator: ", "))")
        scheduler.start()
        let (host, output) = (host, output)
        let app = Server.application(setup, host: host, port: port) { port in
            output.note("serving \(name) on http://\(host):\(port)/v1")
        }
        try AsyncBridge.run { try await app.runService() }
        scheduler.shutdown()
    }
}

/// Runs async work to completion from a synchronous command (the root command is synchronous).
enum AsyncBridge {
    static func run(_ work: @escaping @Sendable () async throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Task {
            do { try await work() } catch { outcome.error = error }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }

    private final class Outcome: @unchecked Sendable {
        var error: Error?
    }
}
