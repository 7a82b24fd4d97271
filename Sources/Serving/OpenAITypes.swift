import Foundation

// Request and response bodies of the OpenAI-compatible endpoints (the fields this server reads or
// writes; unknown request fields are ignored, as OpenAI-compatible servers do).

/// `steering`: a registered plan (optionally scaled) or SAE features with coefficients.
struct SteeringSpec: Decodable {
    struct Vector: Decodable {
        var layer: Int
        var feature: Int
        var coefficient: Double
    }

    var plan: String?
    var scale: Double?
    var vectors: [Vector]?
    var positions: String?
}

/// `prompt`: a string, one token-id list, or a one-element list of either.
enum PromptInput: Decodable {
    case text(String)
    case tokens([Int])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let tokens = try? container.decode([Int].self) {
            self = .tokens(tokens)
        } else if let texts = try? container.decode([String].self), texts.count == 1 {
            self = .text(texts[0])
        } else if let lists = try? container.decode([[Int]].self), lists.count == 1 {
            self = .tokens(lists[0])
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "prompt must be a string or a list of token ids (one prompt per request)")
        }
    }
}

/// `stop`: a string or a list of up to 4 strings.
struct StopInput: Decodable {
    var strings: [String]

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) {
            strings = [one]
        } else {
            strings = try container.decode([String].self)
        }
    }
}

/// Fields shared by both endpoints.
struct SamplingFields: Decodable {
    var model: String?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Double?
    var topP: Double?
    var seed: UInt64?
    var n: Int?
    var stop: StopInput?
    var stream: Bool?
    var streamOptions: StreamOptions?
    var ignoreEos: Bool?
    var steering: SteeringSpec?

    struct StreamOptions: Decodable {
        var includeUsage: Bool?
    }
}

struct CompletionRequest: Decodable {
    var prompt: PromptInput
    var logprobs: Int?
    var echo: Bool?
}

struct ChatRequest: Decodable {
    struct Message: Decodable {
        var role: String
        var content: String
    }

    var messages: [Message]
    var logprobs: Bool?
}

struct Usage: Encodable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int

    init(prompt: Int, completion: Int) {
        promptTokens = prompt
        completionTokens = completion
        totalTokens = prompt + completion
    }
}

/// Completions' `logprobs` object (legacy OpenAI layout).
struct CompletionLogprobs: Encodable {
    var tokens: [String] = []
    var tokenLogprobs: [Double] = []
    var topLogprobs: [[String: Double]] = []
    var textOffset: [Int] = []
}

struct CompletionChoice: Encodable {
    var index = 0
    var text: String
    var logprobs: CompletionLogprobs?
    var finishReason: String?

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(text, forKey: .text)
        try c.encode(logprobs, forKey: .logprobs)  // null when not asked for, as OpenAI sends it
        try c.encode(finishReason, forKey: .finishReason)
    }

    enum CodingKeys: String, CodingKey { case index, text, logprobs, finishReason }
}

struct CompletionResponse: Encodable {
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [CompletionChoice]
    var usage: Usage?
}

struct ChatMessageOut: Encodable {
    var role: String?
    var content: String?
}

struct ChatChoice: Encodable {
    var index = 0
    var message: ChatMessageOut?
    var delta: ChatMessageOut?
    var finishReason: String?

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encodeIfPresent(message, forKey: .message)
        try c.encodeIfPresent(delta, forKey: .delta)
        try c.encode(finishReason, forKey: .finishReason)
    }

    enum CodingKeys: String, CodingKey { case index, message, delta, finishReason }
}

struct ChatResponse: Encodable {
    var id: String
    var object: String
    var created: Int
    var model: String
    var choices: [ChatChoice]
    var usage: Usage?
}

struct ErrorBody: Encodable {
    struct Detail: Encodable {
        var message: String
        var type: String
        var param: String?
        var code: String?
    }

    var error: Detail
}

struct ModelList: Encodable {
    struct Model: Encodable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy = "corrsteer"
    }

    var object = "list"
    var data: [Model]
}

struct PlanList: Encodable {
    struct Entry: Encodable {
        var layer: Int
        var site: String
        var feature: Int
        var coefficient: Double
    }

    struct Plan: Encodable {
        var name: String
        var strategy: String?
        var layers: [Int]
        var entries: [Entry]
    }

    var object = "list"
    var data: [Plan]
}

enum JSONCoding {
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value encoded here is built by the server from finite numbers.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
