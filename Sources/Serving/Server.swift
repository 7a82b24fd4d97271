import Foundation
import Hummingbird
import LanguageModels
import Logging
import Tokenization

/// Everything the routes need: the model's scheduler, the registered plans and the limits.
public struct ServerSetup: Sendable {
    public var modelName: String
    public var model: LanguageModel
    public var tokenizer: Tokenizer
    public var registry: SteeringRegistry
    public var scheduler: Scheduler
    public var metrics: ServingMetrics
    public var limits: RequestLimits

    public init(modelName: String, model: LanguageModel, tokenizer: Tokenizer, registry: SteeringRegistry,
                scheduler: Scheduler, metrics: ServingMetrics, limits: RequestLimits) {
        self.modelName = modelName
        self.model = model
        self.tokenizer = tokenizer
        self.registry = registry
        self.scheduler = scheduler
        self.metrics = metrics
        self.limits = limits
    }
}

/// The OpenAI-compatible HTTP API on Hummingbird.
public enum Server {
    /// The application listening on `host:port` (port 0 = any free port; `onRunning` receives the port).
    public static func application(
        _ setup: ServerSetup, host: String, port: Int, logger: Logger? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let routes = Routes(setup: setup)
        let router = Router()
        router.get("health") { _, _ in routes.health() }
        router.get("metrics") { _, _ in routes.metricsText() }
        router.get("v1/models") { _, _ in routes.models() }
        router.get("v1/steering/plans") { _, _ in routes.plans() }
        router.post("v1/completions") { request, _ in await routes.generate(request, chat: false) }
        router.post("v1/chat/completions") { request, _ in await routes.generate(request, chat: true) }
        var quiet = Logger(label: "corrsteer.serve")
        quiet.logLevel = .warning
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "corrsteer"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger ?? quiet)
    }
}

struct Routes: Sendable {
    let setup: ServerSetup
    let created = Int(Date().timeIntervalSince1970)

    private var parser: RequestParser {
        RequestParser(modelName: setup.modelName, tokenizer: setup.tokenizer, eosTokenIDs: Set(setup.model.config.eosTokenIDs),
                      vocabularySize: setup.model.config.vocabularySize, contextLength: setup.scheduler.options.contextLength,
                      limits: setup.limits, registry: setup.registry)
    }

    func health() -> Response {
        let load = setup.scheduler.load
        return json(["status": "ok", "queued": "\(load.queued)", "running": "\(load.running)"])
    }

    func metricsText() -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: setup.metrics.text())))
    }

    func models() -> Response {
        json(ModelList(data: [.init(id: setup.modelName, created: created)]))
    }

    func plans() -> Response {
        let data = setup.registry.plans.values.sorted { $0.name < $1.name }.map { registered in
            PlanList.Plan(
                name: registered.name, strategy: registered.plan.strategy?.rawValue,
                layers: Array(Set(registered.plan.entries.map(\.layer))).sorted(),
                entries: registered.plan.entries.map { .init(layer: $0.layer, site: $0.site, feature: $0.feature, coefficient: $0.coefficient) })
        }
        return json(PlanList(data: data))
    }

    func generate(_ request: Request, chat: Bool) async -> Response {
        do {
            var request = request
            let limit = setup.limits.maxBodyBytes
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: limit)
            } catch {
                throw ServingError.bodyTooLarge(limit: limit)
            }
            let body = Data(buffer.readableBytesView)
            let parsed = try chat ? parser.chat(body) : parser.completion(body)
            let job = try setup.scheduler.submit(parsed.job)
            let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased()
            let style = ResponseStyle(id: id, model: setup.modelName, created: Int(Date().timeIntervalSince1970), chat: chat)
            if parsed.stream { return streaming(job, request: request, style: style, includeUsage: parsed.includeUsage) }
            let response = try await whileConnected(request, cancelling: job) {
                try await collected(job.events, style: style)
            }
            return Self.closingConnection(response)
        } catch let error as ServingError {
            return errorResponse(error)
        } catch {
            return errorResponse(.failed("\(error)"))
        }
    }

    /// Runs `operation` while watching the client's connection, and cancels `job` (freeing its slot at the
    /// next step) as soon as the client closes it. Hummingbird neither cancels a handler's task nor fails
    /// anything when a client goes away while nothing is being written, so the connection's inbound side
    /// is the only signal: once the request body has been read, its end means the client has gone.
    /// Watching consumes the connection's inbound stream, so the connection closes after the response.
    private func whileConnected<Value: Sendable>(
        _ request: Request, cancelling job: SubmittedJob, _ operation: () async throws -> Value
    ) async throws -> Value {
        let scheduler = setup.scheduler
        return try await request.body.consumeWithInboundCloseHandler({ replayed in
            // The watcher first replays the body already collected; drain it so the watcher reaches the
            // connection itself.
            for try await _ in replayed {}
            return try await operation()
        }, onInboundClosed: {
            // Also called when `operation` returns; cancelling a finished job does nothing.
            scheduler.cancel(job.id)
        })
    }

    /// Tells the client the connection closes after this response (the disconnect watch used it up).
    private static func closingConnection(_ response: Response) -> Response {
        var response = response
        response.headers[.connection] = "close"
        return response
    }

    private func collected(_ events: AsyncStream<JobEvent>, style: ResponseStyle) async throws -> Response {
        var text = ""
        var logprobs: CompletionLogprobs?
        for await event in events {
            switch event {
            case let .text(delta, tokens):
                if !tokens.isEmpty { style.append(tokens, to: &logprobs, offset: text.utf8.count) }
                text += delta
            case let .finished(reason, prompt, completion):
                return json(style.body(text: text, logprobs: logprobs, reason: reason, usage: Usage(prompt: prompt, completion: completion), final: true))
            case let .failed(error):
                throw error
            }
        }
        // The stream ended without an outcome: the request was cancelled.
        throw ServingError.unavailable("the request was cancelled")
    }

    private func streaming(_ job: SubmittedJob, request: Request, style: ResponseStyle, includeUsage: Bool) -> Response {
        let scheduler = setup.scheduler
        let body = ResponseBody { writer in
            do {
                try await whileConnected(request, cancelling: job) {
                    try await writeEvents(job.events, style: style, includeUsage: includeUsage, to: &writer)
                }
            } catch {
                // A write failed: the client went away.
                scheduler.cancel(job.id)
                throw error
            }
        }
        return Self.closingConnection(Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body))
    }

    private func writeEvents(_ events: AsyncStream<JobEvent>, style: ResponseStyle, includeUsage: Bool,
                             to writer: inout any ResponseBodyWriter) async throws {
        func send(_ data: Data) async throws {
            var buffer = ByteBuffer(string: "data: ")
            buffer.writeBytes(data)
            buffer.writeString("\n\n")
            try await writer.write(buffer)
        }
        if style.chat { try await send(JSONCoding.encode(style.roleChunk())) }
        var offset = 0
        for await event in events {
            switch event {
            case let .text(delta, tokens):
                var logprobs: CompletionLogprobs?
                if !tokens.isEmpty { style.append(tokens, to: &logprobs, offset: offset) }
                offset += delta.utf8.count
                try await send(JSONCoding.encode(style.body(text: delta, logprobs: logprobs, reason: nil, usage: nil, final: false)))
            case let .finished(reason, prompt, completion):
                try await send(JSONCoding.encode(style.body(text: "", logprobs: nil, reason: reason, usage: nil, final: false)))
                if includeUsage { try await send(JSONCoding.encode(style.usageChunk(Usage(prompt: prompt, completion: completion)))) }
            case let .failed(error):
                try await send(JSONCoding.encode(Self.errorBody(error)))
            }
        }
        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
        try await writer.finish(nil)
    }

    private func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONCoding.encode(value))))
    }

    /// The status with its standard reason phrase.
    static func status(_ code: Int) -> HTTPResponse.Status {
        let known: [HTTPResponse.Status] = [.badRequest, .notFound, .contentTooLarge, .tooManyRequests, .internalServerError,
                                            .serviceUnavailable, .gatewayTimeout]
        return known.first { $0.code == code } ?? HTTPResponse.Status(code: code)
    }

    static func errorBody(_ error: ServingError) -> ErrorBody {
        ErrorBody(error: .init(message: error.message, type: error.kind, param: error.parameter, code: nil))
    }

    private func errorResponse(_ error: ServingError) -> Response {
        var response = json(Self.errorBody(error), status: Self.status(error.status))
        if let seconds = error.retryAfter { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}

/// Builds the response objects of one request, completions or chat, whole or as stream chunks.
struct ResponseStyle: Sendable {
    let id: String
    let model: String
    let created: Int
    let chat: Bool

    func body(text: String, logprobs: CompletionLogprobs?, reason: String?, usage: Usage?, final: Bool) -> AnyEncodable {
        if chat {
            let message = ChatMessageOut(role: final ? "assistant" : nil, content: text.isEmpty && reason != nil && !final ? nil : text)
            let choice = final ? ChatChoice(message: message, finishReason: reason) : ChatChoice(delta: message, finishReason: reason)
            return AnyEncodable(ChatResponse(id: id, object: final ? "chat.completion" : "chat.completion.chunk",
                                             created: created, model: model, choices: [choice], usage: usage))
        }
        return AnyEncodable(CompletionResponse(id: id, created: created, model: model,
                                               choices: [CompletionChoice(text: text, logprobs: logprobs, finishReason: reason)], usage: usage))
    }

    func roleChunk() -> AnyEncodable {
        AnyEncodable(ChatResponse(id: id, object: "chat.completion.chunk", created: created, model: model,
                                  choices: [ChatChoice(delta: ChatMessageOut(role: "assistant", content: ""))], usage: nil))
    }

    /// The last chunk with `stream_options.include_usage`: no choices, the counts.
    func usageChunk(_ usage: Usage) -> AnyEncodable {
        chat
            ? AnyEncodable(ChatResponse(id: id, object: "chat.completion.chunk", created: created, model: model, choices: [], usage: usage))
            : AnyEncodable(CompletionResponse(id: id, created: created, model: model, choices: [], usage: usage))
    }

    func append(_ tokens: [TokenLogprob], to logprobs: inout CompletionLogprobs?, offset: Int) {
        var value = logprobs ?? CompletionLogprobs()
        for token in tokens {
            value.tokens.append(token.token)
            value.tokenLogprobs.append(token.logprob)
            value.topLogprobs.append(Dictionary(token.top.map { ($0.token, $0.logprob) }, uniquingKeysWith: { a, _ in a }))
            value.textOffset.append(offset)
        }
        logprobs = value
    }
}

struct AnyEncodable: Encodable {
    private let encodeValue: (Encoder) throws -> Void
    init<T: Encodable>(_ value: T) { encodeValue = value.encode }
    func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}
