import Foundation
import LanguageModels
import Tokenization

/// Limits applied to every request.
public struct RequestLimits: Sendable {
    public var maxBodyBytes = 1 << 20
    /// Largest `max_tokens` a request may ask for.
    public var maxTokens = 4096
    /// `max_tokens` of a chat request that gives none: the rest of the context, at most this.
    public var defaultChatTokens = 512

    public init() {}
}

/// Turns request bodies into generation jobs, checking every field (400 naming it on anything wrong).
struct RequestParser {
    let modelName: String
    let tokenizer: Tokenizer
    let eosTokenIDs: Set<Int>
    let vocabularySize: Int
    let contextLength: Int
    let limits: RequestLimits
    let registry: SteeringRegistry

    struct Parsed {
        var job: GenerationJob
        var stream: Bool
        var includeUsage: Bool
    }

    func completion(_ body: Data) throws -> Parsed {
        let fields = try decode(SamplingFields.self, body)
        let request = try decode(CompletionRequest.self, body)
        if request.echo == true { throw ServingError.invalid("echo is not supported", field: "echo") }
        let prompt: [Int]
        switch request.prompt {
        case let .text(text): prompt = tokenizer.encode(text)
        case let .tokens(ids):
            if let bad = ids.first(where: { $0 < 0 || $0 >= vocabularySize }) {
                throw ServingError.invalid("prompt token id \(bad) is outside the vocabulary (0…\(vocabularySize - 1))", field: "prompt")
            }
            prompt = ids
        }
        var logprobs: Int?
        if let n = request.logprobs {
            guard (0...20).contains(n) else { throw ServingError.invalid("logprobs must be in 0…20, got \(n)", field: "logprobs") }
            logprobs = n
        }
        return try parsed(fields, prompt: prompt, stops: eosTokenIDs, defaultMaxTokens: 16, logprobs: logprobs)
    }

    func chat(_ body: Data) throws -> Parsed {
        let fields = try decode(SamplingFields.self, body)
        let request = try decode(ChatRequest.self, body)
        if request.logprobs == true { throw ServingError.invalid("logprobs is supported on /v1/completions only", field: "logprobs") }
        guard !request.messages.isEmpty else { throw ServingError.invalid("messages is empty", field: "messages") }
        let text: String
        do {
            text = try tokenizer.renderChat(request.messages.map { ChatMessage(role: $0.role, content: $0.content) }, addGenerationPrompt: true)
        } catch {
            throw ServingError.invalid("the conversation cannot be formatted for this model: \(error)", field: "messages")
        }
        let prompt = tokenizer.encode(text, addSpecialTokens: false)
        // A chat turn ends at the format's end-of-turn token as well as at EOS.
        let stops = eosTokenIDs.union(tokenizer.endOfTurnTokenID.map { [$0] } ?? [])
        let room = max(1, contextLength - prompt.count)
        return try parsed(fields, prompt: prompt, stops: stops, defaultMaxTokens: min(room, limits.defaultChatTokens), logprobs: nil)
    }

    private func parsed(_ fields: SamplingFields, prompt: [Int], stops: Set<Int>, defaultMaxTokens: Int, logprobs: Int?) throws -> Parsed {
        if let model = fields.model, model != modelName {
            throw ServingError.notFound("the model '\(model)' does not exist; this server serves '\(modelName)'")
        }
        if let n = fields.n, n != 1 { throw ServingError.invalid("n must be 1", field: "n") }
        guard !prompt.isEmpty else { throw ServingError.invalid("the prompt is empty", field: "prompt") }
        let maxTokens = fields.maxTokens ?? fields.maxCompletionTokens ?? defaultMaxTokens
        guard maxTokens >= 1 else { throw ServingError.invalid("max_tokens must be at least 1, got \(maxTokens)", field: "max_tokens") }
        guard maxTokens <= limits.maxTokens else {
            throw ServingError.invalid("max_tokens \(maxTokens) is more than this server allows (\(limits.maxTokens))", field: "max_tokens")
        }
        guard prompt.count + maxTokens <= contextLength else {
            throw ServingError.invalid("the prompt (\(prompt.count) tokens) plus max_tokens (\(maxTokens)) exceeds the server's context of \(contextLength) tokens", field: "max_tokens")
        }
        let temperature = fields.temperature ?? 1
        guard temperature.isFinite, (0...2).contains(temperature) else {
            throw ServingError.invalid("temperature must be in 0…2", field: "temperature")
        }
        let topP = fields.topP ?? 1
        guard topP.isFinite, topP > 0, topP <= 1 else { throw ServingError.invalid("top_p must be in (0, 1]", field: "top_p") }
        let stopStrings = fields.stop?.strings ?? []
        guard stopStrings.count <= 4, stopStrings.allSatisfy({ !$0.isEmpty && $0.count <= 256 }) else {
            throw ServingError.invalid("stop takes up to 4 non-empty strings of at most 256 characters", field: "stop")
        }
        let sampling: Sampling = temperature == 0
            ? .greedy
            : .random(temperature: Float(temperature), topK: nil, topP: topP < 1 ? Float(topP) : nil, seed: fields.seed ?? UInt64.random(in: .min ... .max))
        let job = GenerationJob(prompt: prompt, maxTokens: maxTokens, sampling: sampling,
                                stopTokenIDs: fields.ignoreEos == true ? [] : stops, stopStrings: stopStrings,
                                logprobs: logprobs, steering: try registry.resolve(fields.steering))
        return Parsed(job: job, stream: fields.stream ?? false, includeUsage: fields.streamOptions?.includeUsage ?? false)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        do {
            return try JSONCoding.decoder().decode(type, from: body)
        } catch let error as DecodingError {
            throw ServingError.invalid(Self.describe(error))
        } catch {
            throw ServingError.invalid("the body is not valid JSON: \(error)")
        }
    }

    /// One sentence naming the field at fault, with JSON's snake_case names.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { key in key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue) }.joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, context):
            let parent = path(context.codingPath)
            return "missing field '\(parent.isEmpty ? "" : parent + ".")\(snakeCase(key.stringValue))'"
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            return "field '\(path(context.codingPath))' has the wrong type: \(context.debugDescription)"
        case let .dataCorrupted(context):
            return context.codingPath.isEmpty
                ? "the body is not valid JSON"
                : "field '\(path(context.codingPath))': \(context.debugDescription)"
        @unknown default:
            return "the body could not be read: \(error)"
        }
    }

    static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
        return out
    }
}
