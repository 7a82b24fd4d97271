import Foundation

/// A JSON object read from a config file, with typed accessors whose errors name the file and field.
struct JSONConfig {
    let path: String
    let object: [String: Any]
    /// Prefix for nested objects in error messages (`metadata.`).
    let prefix: String

    init(url: URL) throws {
        path = url.path
        prefix = ""
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SAEError.invalidConfig(path: url.path, field: "(file)", reason: "cannot read: \(error.localizedDescription)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw SAEError.invalidConfig(path: url.path, field: "(file)", reason: "not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw SAEError.invalidConfig(path: url.path, field: "(file)", reason: "not a JSON object")
        }
        self.object = object
    }

    private init(path: String, object: [String: Any], prefix: String) {
        self.path = path
        self.object = object
        self.prefix = prefix
    }

    /// The value, or nil when absent or null.
    func value(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    func contains(_ key: String) -> Bool { value(key) != nil }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v as? String else { throw wrongType(key, "a string") }
        return s
    }

    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        if let n = v as? NSNumber, !isBool(n) {
            let d = n.doubleValue
            if d.rounded() == d, abs(d) < 1e15 { return Int(d) }
        }
        throw wrongType(key, "an integer")
    }

    func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let n = v as? NSNumber, !isBool(n) else { throw wrongType(key, "a number") }
        return n.doubleValue
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        if let n = v as? NSNumber, isBool(n) { return n.boolValue }
        throw wrongType(key, "true or false")
    }

    func object(_ key: String) throws -> JSONConfig? {
        guard let v = value(key) else { return nil }
        guard let o = v as? [String: Any] else { throw wrongType(key, "an object") }
        return JSONConfig(path: path, object: o, prefix: prefix + key + ".")
    }

    func requireInt(_ key: String) throws -> Int {
        guard let v = try int(key) else { throw missing(key) }
        return v
    }

    func requireDouble(_ key: String) throws -> Double {
        guard let v = try double(key) else { throw missing(key) }
        return v
    }

    func missing(_ key: String) -> SAEError {
        .invalidConfig(path: path, field: prefix + key, reason: "missing")
    }

    func invalid(_ key: String, _ reason: String) -> SAEError {
        .invalidConfig(path: path, field: prefix + key, reason: reason)
    }

    private func wrongType(_ key: String, _ expected: String) -> SAEError {
        .invalidConfig(path: path, field: prefix + key, reason: "expected \(expected), found \(object[key].map { "\($0)" } ?? "nothing")")
    }

    /// JSON true/false arrive as the boolean NSNumber subclass; `is Bool` would also accept 0 and 1.
    private func isBool(_ n: NSNumber) -> Bool {
        String(describing: type(of: n)).contains("Boolean")
    }
}

/// The layer number in a TransformerLens hook name such as `blocks.12.hook_resid_post`.
func layerOfHookName(_ hook: String) -> Int? {
    let parts = hook.split(separator: ".")
    guard parts.count >= 3, parts[0] == "blocks" else { return nil }
    return Int(parts[1])
}
