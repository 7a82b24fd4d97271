import Foundation

/// The JSON-lines streams of `corrsteer tokenize`: `{"text": …}` → `{"ids": […]}` and back.
/// The whole input is checked before anything is written, so a bad line leaves no output.
public enum TokenizationJSONLines {
    /// Lines encoded per batch (bounds the memory held for results).
    static let batchSize = 4096

    /// Reads one `{"text": "…"}` object per line and writes one `{"ids": [...]}` line each.
    public static func encode(_ input: Data, source: String, tokenizer: Tokenizer, addSpecialTokens: Bool = true,
                              maxConcurrency: Int? = nil, write: (Data) throws -> Void) throws {
        let texts = try lines(of: input, source: source).map { line -> String in
            guard case let .object(object) = line.value, case let .string(text)? = object["text"] else {
                throw TokenizerError.invalidInputLine(source: source, line: line.number,
                                                      reason: "expected a JSON object with a string field \"text\"")
            }
            return text
        }
        var start = 0
        while start < texts.count {
            let batch = Array(texts[start..<min(texts.count, start + batchSize)])
            var output: [UInt8] = []
            for ids in tokenizer.encodeBatch(batch, addSpecialTokens: addSpecialTokens, maxConcurrency: maxConcurrency) {
                output.append(contentsOf: #"{"ids":["#.utf8)
                for (index, id) in ids.enumerated() {
                    if index > 0 { output.append(UInt8(ascii: ",")) }
                    output.append(contentsOf: String(id).utf8)
                }
                output.append(contentsOf: "]}\n".utf8)
            }
            try write(Data(output))
            start += batchSize
        }
    }

    /// Reads one `{"ids": [...]}` object per line and writes one `{"text": "…"}` line each.
    public static func decode(_ input: Data, source: String, tokenizer: Tokenizer, skipSpecialTokens: Bool = false,
                              write: (Data) throws -> Void) throws {
        let sequences = try lines(of: input, source: source).map { line -> [Int] in
            guard case let .object(object) = line.value, case let .array(values)? = object["ids"] else {
                throw TokenizerError.invalidInputLine(source: source, line: line.number,
                                                      reason: "expected a JSON object with an array field \"ids\"")
            }
            return try values.map { value in
                guard case let .integer(id) = value else {
                    throw TokenizerError.invalidInputLine(source: source, line: line.number,
                                                          reason: "\"ids\" should hold integers only")
                }
                return id
            }
        }
        var output: [UInt8] = []
        for (index, ids) in sequences.enumerated() {
            output.append(contentsOf: #"{"text":"#.utf8)
            appendJSONString(tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens), to: &output)
            output.append(contentsOf: "}\n".utf8)
            if output.count > 1 << 20 || index == sequences.count - 1 {
                try write(Data(output))
                output.removeAll(keepingCapacity: true)
            }
        }
    }

    /// The non-empty lines, parsed; a blank line in the middle is an error, a final newline is not.
    private static func lines(of input: Data, source: String) throws -> [(number: Int, value: JSONValue)] {
        var result: [(number: Int, value: JSONValue)] = []
        var lineStart = input.startIndex
        var number = 0
        while lineStart < input.endIndex {
            number += 1
            let lineEnd = input[lineStart...].firstIndex(of: 0x0A) ?? input.endIndex
            let line = input[lineStart..<lineEnd]
            lineStart = lineEnd < input.endIndex ? lineEnd + 1 : lineEnd
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                throw TokenizerError.invalidInputLine(source: source, line: number, reason: "empty line (expected one JSON object per line)")
            }
            do {
                result.append((number, try JSONParser.parse(Data(line))))
            } catch let failure as JSONParser.Failure {
                throw TokenizerError.invalidInputLine(source: source, line: number,
                                                      reason: "not valid JSON (\(JSONParser.describe(failure, in: Data(line))))")
            }
        }
        return result
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, and the
    /// characters some line readers treat as line ends (U+0085, U+2028, U+2029); the rest raw UTF-8.
    static func appendJSONString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: output.append(contentsOf: #"\""#.utf8)
            case 0x5C: output.append(contentsOf: #"\\"#.utf8)
            case 0x0A: output.append(contentsOf: #"\n"#.utf8)
            case 0x0D: output.append(contentsOf: #"\r"#.utf8)
            case 0x09: output.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20, 0x85, 0x2028, 0x2029:
                let hex = String(scalar.value, radix: 16)
                output.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default:
                UTF8Scalars.append(scalar.value, to: &output)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
