import Foundation
import InputQuoting

extension CollectionConfiguration {
    /// One option whose value differs between two configurations, named as on the command line.
    public struct Difference: Equatable, Sendable, CustomStringConvertible {
        /// The command-line option (`--batch-size`), or the manifest field when no option sets it.
        public let option: String
        /// The stored run's value and the new one, as JSON (`null` when unset).
        public let stored: String
        public let requested: String

        public var description: String { "\(option) (run: \(stored), now: \(requested))" }
    }

    /// The options that differ from `stored`, in manifest field order. Compared through the stored JSON
    /// form so a field added to the configuration is compared without being listed here.
    public func differences(from stored: CollectionConfiguration) -> [Difference] {
        guard let mine = Self.fields(of: self), let theirs = Self.fields(of: stored) else {
            return self == stored ? [] : [Difference(option: "configuration", stored: "?", requested: "?")]
        }
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            let a = theirs[key] ?? "null", b = mine[key] ?? "null"
            guard a != b else { return nil }
            return Difference(option: Self.optionName(ofField: key), stored: a, requested: b)
        }
    }

    /// The field's command-line spelling where it is not `--` plus the field with `-` for `_`.
    private static let optionNames: [String: String] = [
        "custom_task_file": "--task-file", "custom_task_kind": "--custom-kind", "mutual_information": "--mi",
        "reverse_rewards": "--reverse",
    ]

    static func optionName(ofField key: String) -> String {
        optionNames[key] ?? "--" + key.replacingOccurrences(of: "_", with: "-")
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
