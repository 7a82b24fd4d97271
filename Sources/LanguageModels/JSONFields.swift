import Foundation

/// Typed reads from a parsed JSON object, with errors that name the file and the field.
struct JSONFields {
    let object: [String: Any]
    let path: String
    /// Prepended to field names in errors: "text_config." for the fields of a nested object.
    let fieldPrefix: String

    init(data: Data, path: String) throws {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw LanguageModelError.unreadableConfiguration(path: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any] else {
            throw LanguageModelError.unreadableConfiguration(path: path, reason: "not a JSON object")
        }
        self.init(object: object, path: path)
    }

    init(object: [String: Any], path: String, fieldPrefix: String = "") {
        self.object = object
        self.path = path
        self.fieldPrefix = fieldPrefix
    }

    func has(_ key: String) -> Bool {
        guard let value = object[key] else { return false }
        return !(value is NSNull)
    }

    func invalid(_ key: String, _ reason: String) -> LanguageModelError {
        .invalidConfiguration(path: path, field: fieldPrefix + key, reason: reason)
    }

    func string(_ key: String) throws -> String {
        guard has(key) else { throw invalid(key, "missing") }
        guard let value = object[key] as? String else { throw invalid(key, "expected a string") }
        return value
    }

    func optionalString(_ key: String) throws -> String? {
        has(key) ? try string(key) : nil
    }

    func int(_ key: String) throws -> Int {
        guard has(key) else { throw invalid(key, "missing") }
        return try Self.integer(object[key]!, key: key, fields: self)
    }

    func optionalInt(_ key: String) throws -> Int? {
        has(key) ? try int(key) : nil
    }

    func positiveInt(_ key: String) throws -> Int {
        let value = try int(key)
        guard value > 0 else { throw invalid(key, "must be positive, got \(value)") }
        return value
    }

    /// A positive integer no larger than `limit` (a sane bound checked before anything is sized by it).
    func positiveInt(_ key: String, atMost limit: Int) throws -> Int {
        let value = try positiveInt(key)
        guard value <= limit else { throw invalid(key, "\(value) is larger than the \(limit) this engine accepts") }
        return value
    }

    func double(_ key: String) throws -> Double {
        guard has(key) else { throw invalid(key, "missing") }
        guard let number = object[key] as? NSNumber, number.doubleValue.isFinite else {
            throw invalid(key, "expected a number")
        }
        return number.doubleValue
    }

    func optionalDouble(_ key: String) throws -> Double? {
        has(key) ? try double(key) : nil
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard has(key) else { return fallback }
        guard let value = object[key] as? Bool else { throw invalid(key, "expected true or false") }
        return value
    }

    /// An integer or a list of integers (as `eos_token_id` may be).
    func intList(_ key: String) throws -> [Int]? {
        guard has(key) else { return nil }
        if let list = object[key] as? [Any] {
            return try list.map { try Self.integer($0, key: key, fields: self) }
        }
        return [try int(key)]
    }

    func stringList(_ key: String) throws -> [String]? {
        guard has(key) else { return nil }
        guard let list = object[key] as? [String] else { throw invalid(key, "expected a list of strings") }
        return list
    }

    func nested(_ key: String) throws -> JSONFields? {
        guard has(key) else { return nil }
        guard let inner = object[key] as? [String: Any] else { throw invalid(key, "expected an object") }
        return JSONFields(object: inner, path: path, fieldPrefix: fieldPrefix + key + ".")
    }

    private static func integer(_ value: Any, key: String, fields: JSONFields) throws -> Int {
        guard let number = value as? NSNumber else { throw fields.invalid(key, "expected an integer") }
        let d = number.doubleValue
        guard d.rounded() == d, abs(d) < 1e15 else { throw fields.invalid(key, "expected an integer, got \(d)") }
        return Int(d)
    }
}
