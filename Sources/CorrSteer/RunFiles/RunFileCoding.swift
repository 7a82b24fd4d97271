import Foundation
import InputQuoting
import WeightFiles

/// A run-directory JSON file that cannot be read or is not what it should be.
public enum RunFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .malformed(path, reason): return "\(path): \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write: \(reason)"
        }
    }
}

/// JSON encoding shared by every run-directory file: sorted keys, pretty-printed, non-finite numbers as
/// the strings "inf", "-inf", "nan"; writes are atomic; decoding errors name the file and the field path.
public enum RunFileCoding {
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try writeAtomically(to: url) { try encoder().encode(value) + Data("\n".utf8) }
    }

    /// Writes the bytes `make` produces in one atomic replace; any failure is one error naming the file.
    public static func writeAtomically(to url: URL, _ make: () throws -> Data) throws {
        do {
            try AtomicFile.write(try make(), to: url)
        } catch {
            throw RunFileError.unwritable(path: url.path, reason: "\(error)")
        }
    }

    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw RunFileError.unreadable(path: url.path, reason: RunFileCoding.readFailure(url, error))
        }
        return try decode(type, from: data, path: url.path)
    }

    /// Why reading `url` failed, in words (Foundation's Linux messages are generic).
    public static func readFailure(_ url: URL, _ error: Error) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "is a directory, expected a file" }
        return (error as NSError).localizedDescription
    }

    /// Decodes `data`; `path` (and `line`, for JSON Lines) name the source in errors.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String, line: Int? = nil) throws -> T {
        do {
            return try decoder().decode(type, from: data)
        } catch let error as DecodingError {
            let place = line.map { "line \($0): " } ?? ""
            throw RunFileError.malformed(path: path, reason: place + describe(error))
        } catch {
            throw RunFileError.malformed(path: path, reason: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [CodingKey]) -> String {
            guard !path.isEmpty else { return "top level" }
            var text = ""
            for key in path {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return "field '\(text)'"
        }
        switch error {
        case let .keyNotFound(key, context):
            let parent = context.codingPath.isEmpty ? "" : " in \(field(context.codingPath))"
            return "missing field '\(key.stringValue)'\(parent)"
        case let .typeMismatch(type, context):
            return "\(field(context.codingPath)) should be \(typeName(type))"
        case let .valueNotFound(type, context):
            return "\(field(context.codingPath)) is null, expected \(typeName(type))"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            // The description may quote the offending value (an unknown enum string) at any length.
            return "\(field(context.codingPath)): \(QuotedInput.escaped(context.debugDescription))"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}
