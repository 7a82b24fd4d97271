import Foundation

/// A JSON value with the file and the field path it came from, so that every type error can
/// say exactly where it is.
struct JSONNode {
    let value: JSONValue?
    let file: String
    let field: String

    static func parse(_ data: Data, file: String) throws -> JSONNode {
        do {
            return JSONNode(value: try JSONParser.parse(data), file: file, field: "")
        } catch let failure as JSONParser.Failure {
            throw TokenizerError.invalidJSON(path: file, reason: JSONParser.describe(failure, in: data))
        }
    }

    static func read(_ url: URL) throws -> JSONNode {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: describe(error))
        }
        return try parse(data, file: url.path)
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return ns.localizedDescription
    }

    var isNull: Bool {
        guard let value else { return true }
        if case .null = value { return true }
        return false
    }

    var isPresent: Bool { !isNull }

    var stringValue: String? {
        if case let .string(string)? = value { return string }
        return nil
    }

    subscript(key: String) -> JSONNode {
        var child: JSONValue?
        if case let .object(object)? = value { child = object[key] }
        return JSONNode(value: child, file: file, field: field.isEmpty ? key : "\(field).\(key)")
    }

    func wrongType(_ expected: String) -> TokenizerError {
        if isNull { return .missingField(path: file, field: field) }
        return .invalidField(path: file, field: field, reason: "should be \(expected)")
    }

    func object() throws -> JSONObject {
        guard case let .object(object)? = value else { throw wrongType("an object") }
        return object
    }

    func array() throws -> [JSONValue] {
        guard case let .array(array)? = value else { throw wrongType("an array") }
        return array
    }

    func elements() throws -> [JSONNode] {
        try array().enumerated().map { JSONNode(value: $1, file: file, field: "\(field)[\($0)]") }
    }

    func string() throws -> String {
        guard let string = stringValue else { throw wrongType("a string") }
        return string
    }

    func optionalString() throws -> String? {
        if isNull { return nil }
        return try string()
    }

    func bool(default fallback: Bool) throws -> Bool {
        if isNull { return fallback }
        guard case let .bool(flag)? = value else { throw wrongType("true or false") }
        return flag
    }

    func optionalBool() throws -> Bool? {
        if isNull { return nil }
        return try bool(default: false)
    }

    func int() throws -> Int {
        switch value {
        case let .integer(number)?: return number
        case let .double(number)? where number.rounded() == number && abs(number) < 9.0e15: return Int(number)
        default: throw wrongType("an integer")
        }
    }

    func optionalInt() throws -> Int? {
        if isNull { return nil }
        return try int()
    }

    var doubleValue: Double? {
        switch value {
        case let .integer(number)?: return Double(number)
        case let .double(number)?: return number
        default: return nil
        }
    }

    /// A token given either as a plain string or as an AddedToken object `{"content": …}`.
    func tokenContent() throws -> String? {
        if isNull { return nil }
        if let string = stringValue { return string }
        if case .object? = value { return try self["content"].string() }
        throw wrongType("a string or an object with \"content\"")
    }
}
