import InputQuoting

/// A setting the server was started with, as an error at startup names it: in words here, as a flag in
/// the CLI.
public enum ServingSetting: MessageSetting {
    case plan, run, maxBatch, maxQueue, contextLength, requestTimeout

    public var description: String {
        switch self {
        case .plan: return "plan"
        case .run: return "run"
        case .maxBatch: return "largest batch"
        case .maxQueue: return "queue length"
        case .contextLength: return "context length"
        case .requestTimeout: return "request timeout"
        }
    }
}

/// A request the server refuses or could not finish, with the HTTP status it answers with.
public struct ServingError: Error, CustomStringConvertible, Equatable, Sendable {
    public var status: Int
    /// OpenAI's error `type` (`invalid_request_error`, …).
    public var kind: String
    public var message: String
    /// The request field at fault, when one is.
    public var parameter: String?
    /// Seconds a client should wait before retrying (429).
    public var retryAfter: Int?
    /// For a server set up wrongly rather than a bad request: the message, naming the setting by concept.
    public var setup: SettingMessage<ServingSetting>?

    public var description: String { message }

    public static func invalid(_ message: String, field: String? = nil) -> ServingError {
        ServingError(status: 400, kind: "invalid_request_error", message: message, parameter: field)
    }

    public static func invalidSetup(_ message: SettingMessage<ServingSetting>) -> ServingError {
        ServingError(status: 400, kind: "invalid_request_error", message: message.description, setup: message)
    }

    public static func notFound(_ message: String) -> ServingError {
        ServingError(status: 404, kind: "not_found_error", message: message)
    }

    public static func bodyTooLarge(limit: Int) -> ServingError {
        ServingError(status: 413, kind: "invalid_request_error", message: "the request body is larger than \(limit) bytes")
    }

    public static func queueFull(capacity: Int) -> ServingError {
        ServingError(status: 429, kind: "rate_limit_error",
                     message: "the server's queue is full (\(capacity) waiting requests); retry later", retryAfter: 1)
    }

    public static func unavailable(_ message: String) -> ServingError {
        ServingError(status: 503, kind: "server_error", message: message)
    }

    public static func timeout(seconds: Double) -> ServingError {
        ServingError(status: 504, kind: "timeout_error", message: "the request did not finish within \(seconds) s")
    }

    public static func failed(_ message: String) -> ServingError {
        ServingError(status: 500, kind: "server_error", message: message)
    }
}
