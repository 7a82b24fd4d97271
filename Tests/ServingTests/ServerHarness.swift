import AsyncHTTPClient
import CorrSteer
import Foundation
import LanguageModels
import NIOCore
import Serving
import SparseAutoencoders
import Tokenization
import XCTest

/// The bundled demo model (copied with the Gemma-2 chat template, so chat works), its SAEs, two plans
/// built from them, and a server on a free loopback port.
final class ServerHarness {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { url.deleteLastPathComponent() }
        return url
    }()
    static let demo = packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")
    static let saeFolder = demo.appendingPathComponent("sae")

    /// Loaded once for every test: the model folder with a chat template, the model and its tokenizer.
    static let shared: (folder: URL, model: LanguageModel, tokenizer: Tokenizer) = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("corrsteer-serving-\(UUID().uuidString)/demo-chat")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = demo.appendingPathComponent("model")
        for name in try! FileManager.default.contentsOfDirectory(atPath: source.path) where name != "tokenizer_config.json" {
            try! FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        var config = try! JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        config["chat_template"] = try! String(contentsOf: packageRoot.appendingPathComponent("Tests/Fixtures/serving/gemma-2-chat_template.jinja"), encoding: .utf8)
        try! JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        return (folder, try! LanguageModel.load(directory: folder), try! Tokenizer(directory: folder))
    }()

    /// Plans from the demo SAEs: one feature at one layer, and three features over two layers.
    static let plans: [String: SteeringPlan] = {
        let rows: SteeringPlan.DecoderRows = { layer, features in
            try SparseAutoencoder.load(path: saeFolder, layer: layer, encoderOnly: true).decoderRows(features)
        }
        func site(_ layer: Int) -> String { "blocks.\(layer).hook_resid_post" }
        let one = try! SteeringPlan.build(name: "one", choices: [SteeringChoice(layer: 1, site: site(1), feature: 7, coefficient: 40)], decoderRows: rows)
        let three = try! SteeringPlan.build(name: "three", choices: [
            SteeringChoice(layer: 0, site: site(0), feature: 3, coefficient: -30),
            SteeringChoice(layer: 2, site: site(2), feature: 11, coefficient: 25),
            SteeringChoice(layer: 2, site: site(2), feature: 19, coefficient: 25),
        ], decoderRows: rows)
        return ["one": one, "three": three]
    }()

    let scheduler: Scheduler
    let metrics = ServingMetrics()
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    private var serverTask: Task<Void, Error>?
    private(set) var port = 0

    /// Starts a server; plan "one" is registered by name, plan "three" through a run folder as "run/A".
    init(maxBatch: Int = 8, maxQueue: Int = 64, contextLength: Int = 128, limits: RequestLimits = RequestLimits()) async throws {
        let (folder, model, tokenizer) = Self.shared
        var registry = SteeringRegistry(model: model, decoderRows: try DecoderRowSource(path: Self.saeFolder))
        try registry.register(Self.plans["one"]!, as: "one")
        let run = folder.deletingLastPathComponent().appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run.appendingPathComponent("plans"), withIntermediateDirectories: true)
        try Self.plans["three"]!.save(to: run.appendingPathComponent("plans/A.json"))
        XCTAssertEqual(try registry.registerRun(path: run.path), ["run/A"])
        var options = Scheduler.Options()
        options.maxBatch = maxBatch
        options.maxQueue = maxQueue
        options.contextLength = contextLength
        scheduler = try Scheduler(model: model, tokenizer: tokenizer, options: options, metrics: metrics)
        scheduler.start()
        let setup = ServerSetup(modelName: "demo", model: model, tokenizer: tokenizer, registry: registry,
                                scheduler: scheduler, metrics: metrics, limits: limits)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Server.application(setup, host: "127.0.0.1", port: 0) { port in continuation.yield(port) }
        serverTask = Task { try await app.run() }
        for await port in ports {
            self.port = port
            break
        }
    }

    func stop() async throws {
        serverTask?.cancel()
        _ = try? await serverTask?.value
        scheduler.shutdown()
        try await client.shutdown()
    }

    /// Tokens generated so far (the Prometheus counter).
    func generatedTokens() -> Double {
        let line = metrics.text().split(separator: "\n").first { $0.hasPrefix("corrsteer_generated_tokens_total ") }
        return line.flatMap { Double($0.split(separator: " ").last!) } ?? .infinity
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func post(_ path: String, _ object: [String: Any]) async throws -> Reply {
        try await post(path, raw: JSONSerialization.data(withJSONObject: object))
    }

    func post(_ path: String, raw: Data) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(Array(raw))
        return try await send(request)
    }

    func get(_ path: String) async throws -> Reply {
        try await send(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"))
    }

    private func send(_ request: HTTPClientRequest) async throws -> Reply {
        let response = try await client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 16 << 20)
        var headers: [String: String] = [:]
        for field in response.headers { headers[field.name.lowercased()] = field.value }
        return Reply(status: Int(response.status.code), headers: headers, body: Data(body.readableBytesView))
    }

    /// The `data:` payloads of a server-sent-event body, in order.
    static func events(_ body: String) -> [String] {
        body.components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }

    /// What the library's `generate --plan` path produces for `prompt`: its tokens and their text
    /// (without the stop token).
    static func reference(_ prompt: [Int], maxTokens: Int, plan: SteeringPlan?, positions: PositionMode = .generation,
                          stops: Set<Int>? = nil) throws -> (tokens: [Int], text: String) {
        let (_, model, tokenizer) = shared
        let hooks: [ResidualHook] = try plan.map { [try SteeringHook(plan: $0, positions: positions)] } ?? []
        let request = GenerationRequest(prompts: [prompt], maxNewTokens: maxTokens, stopTokenIDs: stops)
        let result = try Generator(model: model).generate(request, hooks: hooks)[0]
        let visible = result.stoppedOnEOS ? Array(result.tokens.dropLast()) : result.tokens
        return (result.tokens, tokenizer.decode(visible, skipSpecialTokens: true))
    }
}
