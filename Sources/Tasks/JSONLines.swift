import Foundation

/// Reading whole files, with errors that name them.
enum DataFile {
    static func bytes(_ url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            if !FileManager.default.fileExists(atPath: url.path) {
                throw TaskError.unreadableFile(path: url.path, reason: "no such file")
            }
            throw TaskError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
    }
}

/// One JSON object from a JSONL file, with typed accessors whose errors name the file, line and field.
struct JSONRecord {
    let path: String
    let line: Int
    let object: [String: Any]

    func has(_ field: String) -> Bool {
        guard let value = object[field] else { return false }
        return !(value is NSNull)
    }

    func string(_ field: String) throws -> String {
        guard let value = object[field], !(value is NSNull) else {
            throw TaskError.missingField(path: path, line: line, field: field)
        }
        guard let text = value as? String else {
            throw TaskError.wrongFieldType(path: path, line: line, field: field, expected: "a string")
        }
        return text
    }

    func optionalString(_ field: String) throws -> String? {
        has(field) ? try string(field) : nil
    }

    func integer(_ field: String) throws -> Int {
        guard let value = object[field], !(value is NSNull) else {
            throw TaskError.missingField(path: path, line: line, field: field)
        }
        guard let number = Self.integerValue(value) else {
            throw TaskError.wrongFieldType(path: path, line: line, field: field, expected: "an integer")
        }
        return number
    }

    func stringArray(_ field: String) throws -> [String] {
        guard let value = object[field], !(value is NSNull) else {
            throw TaskError.missingField(path: path, line: line, field: field)
        }
        guard let array = value as? [Any], let strings = array as? [String] else {
            throw TaskError.wrongFieldType(path: path, line: line, field: field, expected: "an array of strings")
        }
        return strings
    }

    /// A field that may hold a string or a number, as text. Integral numbers print without a fraction.
    func scalarText(_ field: String) throws -> String {
        guard let value = object[field], !(value is NSNull) else {
            throw TaskError.missingField(path: path, line: line, field: field)
        }
        if let text = value as? String { return text }
        if let integer = Self.integerValue(value) { return String(integer) }
        if let number = value as? NSNumber, !Self.isBoolean(number) {
            let double = number.doubleValue
            if double.isFinite { return "\(double)" }
        }
        throw TaskError.wrongFieldType(path: path, line: line, field: field, expected: "a string or a number")
    }

    static func integerValue(_ value: Any) -> Int? {
        if value is String { return nil }
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.isFinite, double == double.rounded(), abs(double) < 9.0e15 else { return nil }
        if isBoolean(number) { return nil }
        return Int(double)
    }

    /// JSON `true`/`false` arrive as NSNumber too (type code "c"); they are not numbers here.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }
}

/// A JSONL file: one JSON object per line; blank lines are skipped; a trailing `\r` is ignored.
enum JSONLines {
    static func read(_ url: URL) throws -> [JSONRecord] {
        let bytes = try DataFile.bytes(url)
        return try parse(bytes, path: url.path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> [JSONRecord] {
        var records: [JSONRecord] = []
        var start = 0
        var line = 1
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var contentEnd = end
            if contentEnd > start && bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            let slice = bytes[start..<contentEnd]
            if slice.contains(where: { !($0 == 0x20 || $0 == 0x09) }) {
                records.append(try record(Data(slice), path: path, line: line))
            }
            start = end + 1
            line += 1
        }
        return records
    }

    private static func record(_ data: Data, path: String, line: Int) throws -> JSONRecord {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            if String(data: data, encoding: .utf8) == nil { throw TaskError.invalidUTF8(path: path, line: line) }
            throw TaskError.malformedJSONLine(path: path, line: line, reason: Self.reason(error))
        }
        guard let object = value as? [String: Any] else {
            throw TaskError.malformedJSONLine(path: path, line: line, reason: "the line is JSON but not an object")
        }
        return JSONRecord(path: path, line: line, object: object)
    }

    private static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return "invalid JSON"
    }
}
