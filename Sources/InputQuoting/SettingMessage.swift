/// A setting a library can be given (the layers to read, the batch size, …) that its error messages
/// name. The library spells it in words (`description`); only the front end knows how a user sets it
/// (the CLI: by a flag), so it renders messages with its own spelling.
public protocol MessageSetting: Hashable, Sendable, CustomStringConvertible {}

/// An error message that names settings by concept rather than by the CLI's flag: written as a string
/// literal whose interpolated settings are kept apart from the text around them, so the message reads
/// in words from the library (`description`) and with flag names from the CLI (`rendered(naming:)`).
public struct SettingMessage<Setting: MessageSetting>: Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringInterpolation {
    enum Part: Hashable, Sendable {
        case text(String)
        case setting(Setting)
    }

    private var parts: [Part]

    public init(_ text: String) { parts = [.text(text)] }

    public init(stringLiteral value: String) { self.init(value) }

    public init(stringInterpolation: Interpolation) { parts = stringInterpolation.parts }

    /// The settings the message names, in order.
    public var settings: [Setting] {
        parts.compactMap { if case let .setting(setting) = $0 { return setting } else { return nil } }
    }

    /// The message with every setting spelled by `name`.
    public func rendered(naming name: (Setting) -> String) -> String {
        parts.map { part in
            switch part {
            case let .text(text): return text
            case let .setting(setting): return name(setting)
            }
        }.joined()
    }

    /// The message in the library's words.
    public var description: String { rendered(naming: \.description) }

    public struct Interpolation: StringInterpolationProtocol {
        var parts: [Part] = []

        public init(literalCapacity: Int, interpolationCount: Int) {}

        public mutating func appendLiteral(_ literal: String) { appendText(literal) }

        public mutating func appendInterpolation(_ setting: Setting) { parts.append(.setting(setting)) }

        /// Another message, its settings kept.
        public mutating func appendInterpolation(_ message: SettingMessage) {
            for part in message.parts {
                switch part {
                case let .text(text): appendText(text)
                case .setting: parts.append(part)
                }
            }
        }

        public mutating func appendInterpolation<Value>(_ value: Value) { appendText(String(describing: value)) }

        private mutating func appendText(_ text: String) {
            guard !text.isEmpty else { return }
            if case let .text(previous)? = parts.last {
                parts[parts.count - 1] = .text(previous + text)
            } else {
                parts.append(.text(text))
            }
        }
    }
}
