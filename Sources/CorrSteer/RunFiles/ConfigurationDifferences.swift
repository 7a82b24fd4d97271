import Foundation
import InputQuoting

extension CollectionConfiguration {
    /// One setting whose value differs between two configurations.
    public struct Difference: Equatable, Sendable, CustomStringConvertible {
        /// The configuration field, by its manifest key (the CLI names its option).
        public let setting: RunSetting
        /// The stored run's value and the new one, as JSON (`null` when unset).
        public let stored: String
        public let requested: String

        public var message: RunMessage { "\(setting) (run: \(stored), now: \(requested))" }
        public var description: String { message.description }
    }

    /// The settings that differ from `stored`, in manifest field order. Compared through the stored JSON
    /// form so a field added to the configuration is compared without being listed here.
    public func differences(from stored: CollectionConfiguration) -> [Difference] {
        guard let mine = Self.fields(of: self), let theirs = Self.fields(of: stored) else {
            return self == stored ? [] : [Difference(setting: .configurationField("configuration"), stored: "?", requested: "?")]
        }
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            let a = theirs[key] ?? "null", b = mine[key] ?? "null"
            guard a != b else { return nil }
            return Difference(setting: .configurationField(key), stored: a, requested: b)
        }
    }

    /// Each top-level field as canonical JSON text (nested values with sorted keys).
    private static func fields(of configuration: CollectionConfiguration) -> [String: String]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(configuration),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        var fields: [String: String] = [:]
        for (key, value) in object {
            if let text = value as? String {
                // Stored values come from a file: quoted and clipped so an error line stays one short line.
                fields[key] = "'\(QuotedInput.escaped(text, limit: 80))'"
            } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]) {
                fields[key] = QuotedInput.escaped(String(decoding: data, as: UTF8.self), limit: 80)
            }
        }
        return fields
    }
}
