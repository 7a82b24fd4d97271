import Foundation

/// Typed reads from a JSON object that came with some weights (a model's `config.json`, an SAE's
/// `cfg.json`), with errors that name the file and the field. The module reading the file turns a
/// `Problem` into its own error type, so its users see one kind of error per module.
public struct JSONFields {
    /// What is wrong with the file (`field` nil: the file as a whole) or with one of its fields.
    public struct Problem: Error, Equatable, Sendable {
        public let path: String
        public let field: String?
        public let reason: String

        public init(path: String, field: String?, reason: String) {
            self.path = path
            self.field = field
            self.reason = reason
        }
    }

    public let object: [String: Any]
    public let path: String
    /// Prepended to field names in errors: "text_config." for the fields of a nested object.
    public let fieldPrefix: String
    private let error: (Problem) -> Error

    /// Reads and parses `url`; `error` makes the thrown error of each problem.
    public init(contentsOf url: URL, error: @escaping (Problem) -> Error) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch let failure {
            throw error(Problem(path: url.path, field: nil, reason: "cannot read: \(failure.localizedDescription)"))
        }
        try self.init(data: data, path: url.path, error: error)
    }

    public init(data: Data, path: String, error: @escaping (Problem) -> Error) throws {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch let failure {
            throw error(Problem(path: path, field: nil, reason: "not valid JSON (\(failure.localizedDescription))"))
        }
        guard let object = parsed as? [String: Any] else {
            throw error(Problem(path: path, field: nil, reason: "not a JSON object"))
        }
        self.init(object: object, path: path, error: error)
    }

    public init(object: [String: Any], path: String, fieldPrefix: String = "", error: @escaping (Problem) -> Error) {
        self.object = object
        self.path = path
        self.fieldPrefix = fieldPrefix
        self.error = error
    }

    /// Whether the field is present and not null.
    public func has(_ key: String) -> Bool {
        guard let value = object[key] else { return false }
        return !(value is NSNull)
    }

    /// The error for a field the caller found wrong.
    public func invalid(_ key: String, _ reason: String) -> Error {
        error(Problem(path: path, field: fieldPrefix + key, reason: reason))
    }

    public func missing(_ key: String) -> Error { invalid(key, "missing") }

    public func string(_ key: String) throws -> String {
        guard has(key) else { throw missing(key) }
        guard let value = object[key] as? String else { throw invalid(key, "expected a string") }
        return value
    }

    public func optionalString(_ key: String) throws -> String? {
        has(key) ? try string(key) : nil
    }

    public func int(_ key: String) throws -> Int {
        guard has(key) else { throw missing(key) }
        return try integer(object[key]!, key: key)
    }

    public func optionalInt(_ key: String) throws -> Int? {
        has(key) ? try int(key) : nil
    }

    public func positiveInt(_ key: String) throws -> Int {
        let value = try int(key)
        guard value > 0 else { throw invalid(key, "must be positive, got \(value)") }
        return value
    }

    /// A positive integer no larger than `limit` (a sane bound checked before anything is sized by it).
    public func positiveInt(_ key: String, atMost limit: Int) throws -> Int {
        let value = try positiveInt(key)
        guard value <= limit else { throw invalid(key, "\(value) is larger than the \(limit) this engine accepts") }
        return value
    }

    public func double(_ key: String) throws -> Double {
        guard has(key) else { throw missing(key) }
        guard let number = object[key] as? NSNumber, !Self.isBoolean(number), number.doubleValue.isFinite else {
            throw invalid(key, "expected a number")
        }
        return number.doubleValue
    }

    public func optionalDouble(_ key: String) throws -> Double? {
        has(key) ? try double(key) : nil
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        guard has(key) else { return nil }
        guard let number = object[key] as? NSNumber, Self.isBoolean(number) else { throw invalid(key, "expected true or false") }
        return number.boolValue
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        try optionalBool(key) ?? fallback
    }

    /// An integer or a list of integers (as `eos_token_id` may be).
    public func intList(_ key: String) throws -> [Int]? {
        guard has(key) else { return nil }
        if let list = object[key] as? [Any] {
            return try list.map { try integer($0, key: key) }
        }
        return [try int(key)]
    }

    public func stringList(_ key: String) throws -> [String]? {
        guard has(key) else { return nil }
        guard let list = object[key] as? [String] else { throw invalid(key, "expected a list of strings") }
        return list
    }

    /// The fields of a nested object; errors name them `key.field`.
    public func nested(_ key: String) throws -> JSONFields? {
        guard has(key) else { return nil }
        guard let inner = object[key] as? [String: Any] else { throw invalid(key, "expected an object") }
        return JSONFields(object: inner, path: path, fieldPrefix: fieldPrefix + key + ".", error: error)
    }

    private func integer(_ value: Any, key: String) throws -> Int {
        guard let number = value as? NSNumber, !Self.isBoolean(number) else { throw invalid(key, "expected an integer") }
        let d = number.doubleValue
        guard d.rounded() == d, abs(d) < 1e15 else { throw invalid(key, "expected an integer, got \(d)") }
        return Int(d)
    }

    /// JSON true/false arrive as the boolean NSNumber subclass; `as? Bool` would also accept 0 and 1,
    /// and `as? NSNumber` accepts true as an integer.
    private static func isBoolean(_ number: NSNumber) -> Bool {
        String(describing: type(of: number)).contains("Boolean")
    }
}
