import InputQuoting
/// The subset of Python literal syntax that `.npy` headers use: a dict of string keys whose values
/// are strings, booleans, integer tuples, or lists (structured dtypes, which are then rejected).
enum PythonLiteral: Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case tuple([Int])
    case list
    case dict([String: PythonLiteral])
}

struct PythonLiteralParser {
    struct Failure: Error { let message: String; init(_ message: String) { self.message = message } }

    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    mutating func parseValue() throws -> PythonLiteral {
        skipSpace()
        guard let c = peek() else { throw Failure("header ends where a value was expected") }
        switch c {
        case "{": return try parseDict()
        case "(": return .tuple(try parseIntegers(closing: ")"))
        case "[":
            try skipBalanced(open: "[", close: "]")
            return .list
        case "'", "\"": return .string(try parseString())
        case "T", "F": return .bool(try parseBool())
        default:
            if c == "-" || ("0"..."9").contains(c) { return .int(try parseInt()) }
            throw Failure("unexpected character '\(QuotedInput.escaped(String(c)))' at header position \(index)")
        }
    }

    private mutating func parseDict() throws -> PythonLiteral {
        try expect("{")
        var result: [String: PythonLiteral] = [:]
        while true {
            skipSpace()
            if peek() == "}" { index += 1; break }
            let key = try parseString()
            skipSpace()
            try expect(":")
            result[key] = try parseValue()
            skipSpace()
            if peek() == "," { index += 1; continue }
            skipSpace()
            try expect("}")
            break
        }
        return .dict(result)
    }

    private mutating func parseIntegers(closing: Unicode.Scalar) throws -> [Int] {
        index += 1
        var values: [Int] = []
        while true {
            skipSpace()
            if peek() == closing { index += 1; return values }
            values.append(try parseInt())
            skipSpace()
            if peek() == "," { index += 1; continue }
            try expect(closing)
            return values
        }
    }

    private mutating func parseInt() throws -> Int {
        let start = index
        if peek() == "-" { index += 1 }
        while let c = peek(), ("0"..."9").contains(c) { index += 1 }
        let digits = String(String.UnicodeScalarView(scalars[start..<index]))
        // Headers written by Python 2 spell long integers with an L suffix.
        if peek() == "L" { index += 1 }
        guard let value = Int(digits) else { throw Failure("'\(QuotedInput.escaped(digits))' is not an integer") }
        return value
    }

    private mutating func parseString() throws -> String {
        guard let quote = peek(), quote == "'" || quote == "\"" else { throw Failure("expected a quoted string at header position \(index)") }
        index += 1
        var out = String.UnicodeScalarView()
        while let c = peek() {
            index += 1
            if c == quote { return String(out) }
            if c == "\\", let next = peek() { index += 1; out.append(next); continue }
            out.append(c)
        }
        throw Failure("unterminated string in header")
    }

    private mutating func parseBool() throws -> Bool {
        for (word, value) in [("True", true), ("False", false)] {
            let w = Array(word.unicodeScalars)
            if index + w.count <= scalars.count, Array(scalars[index..<index + w.count]) == w {
                index += w.count
                return value
            }
        }
        throw Failure("expected True or False at header position \(index)")
    }

    private mutating func skipBalanced(open: Unicode.Scalar, close: Unicode.Scalar) throws {
        var depth = 0
        while let c = peek() {
            index += 1
            if c == open { depth += 1 }
            if c == close { depth -= 1; if depth == 0 { return } }
        }
        throw Failure("unbalanced '\(open)' in header")
    }

    private mutating func expect(_ c: Unicode.Scalar) throws {
        guard peek() == c else {
            throw Failure("expected '\(c)' at header position \(index), found \(peek().map { "'\(QuotedInput.escaped(String($0)))'" } ?? "the end")")
        }
        index += 1
    }

    private mutating func skipSpace() {
        while let c = peek(), c == " " || c == "\n" || c == "\t" || c == "\r" { index += 1 }
    }

    private func peek() -> Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }
}
