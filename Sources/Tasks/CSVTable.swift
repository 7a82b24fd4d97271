import Foundation

/// A CSV file read into memory: the header and one record per row, each remembering the line it started on.
///
/// RFC 4180 with the leniencies real exports need: an optional UTF-8 byte-order mark, `\n`, `\r\n` or `\r`
/// record ends, quoted fields that hold commas, quotes (`""`) and line breaks (kept byte for byte, so a
/// CRLF inside a quoted field stays CRLF). Blank lines are skipped. Anything else — a stray character
/// after a closing quote, a quote left open, a row with the wrong number of fields — is an error that
/// names the line.
struct CSVTable {
    struct Record {
        let line: Int
        let fields: [String]
    }

    let path: String
    let header: [String]
    let records: [Record]

    static func read(_ url: URL) throws -> CSVTable {
        let bytes = try DataFile.bytes(url)
        return try parse(bytes, path: url.path)
    }

    static func parse(_ input: [UInt8], path: String) throws -> CSVTable {
        var rows = try CSVScanner(bytes: input, path: path).records()
        guard !rows.isEmpty else { throw TaskError.emptyDataset(path: path, detail: "the CSV file has no header row") }
        let headerRow = rows.removeFirst()
        for row in rows where row.fields.count != headerRow.fields.count {
            throw TaskError.malformedCSV(
                path: path, line: row.line,
                reason: "expected \(headerRow.fields.count) fields as in the header, found \(row.fields.count)")
        }
        return CSVTable(path: path, header: headerRow.fields, records: rows)
    }

    /// The position of each named column; a missing one is an error naming the column.
    func columns(_ names: [String]) throws -> [Int] {
        try names.map { name in
            guard let index = header.firstIndex(of: name) else {
                throw TaskError.missingColumn(path: path, column: name, found: header)
            }
            return index
        }
    }
}

private struct CSVScanner {
    let bytes: [UInt8]
    let path: String

    private static let quote = UInt8(ascii: "\"")
    private static let comma = UInt8(ascii: ",")
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    func records() throws -> [CSVTable.Record] {
        var index = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { index = 3 }
        var line = 1
        var result: [CSVTable.Record] = []
        while index < bytes.count {
            let recordLine = line
            // A blank line is not a record (Python's csv.DictReader skips it too).
            if bytes[index] == Self.lf || bytes[index] == Self.cr {
                index = skipLineEnd(from: index)
                line += 1
                continue
            }
            var fields: [String] = []
            var atRecordEnd = false
            while !atRecordEnd {
                let fieldLine = line
                var fieldBytes: [UInt8] = []
                if index < bytes.count && bytes[index] == Self.quote {
                    index += 1
                    var closed = false
                    while index < bytes.count {
                        let byte = bytes[index]
                        if byte == Self.quote {
                            if index + 1 < bytes.count && bytes[index + 1] == Self.quote {
                                fieldBytes.append(Self.quote)
                                index += 2
                                continue
                            }
                            index += 1
                            closed = true
                            break
                        }
                        if byte == Self.lf || (byte == Self.cr && !(index + 1 < bytes.count && bytes[index + 1] == Self.lf)) {
                            line += 1
                        }
                        fieldBytes.append(byte)
                        index += 1
                    }
                    guard closed else {
                        throw TaskError.malformedCSV(path: path, line: fieldLine, reason: "a quoted field is never closed")
                    }
                    if index < bytes.count && bytes[index] != Self.comma && bytes[index] != Self.cr && bytes[index] != Self.lf {
                        throw TaskError.malformedCSV(
                            path: path, line: line, reason: "unexpected character after a closing quote (quotes inside a field must be doubled)")
                    }
                } else {
                    while index < bytes.count {
                        let byte = bytes[index]
                        if byte == Self.comma || byte == Self.cr || byte == Self.lf { break }
                        fieldBytes.append(byte)
                        index += 1
                    }
                }
                guard let field = String(bytes: fieldBytes, encoding: .utf8) else {
                    throw TaskError.invalidUTF8(path: path, line: fieldLine)
                }
                fields.append(field)
                if index < bytes.count && bytes[index] == Self.comma {
                    index += 1
                } else {
                    atRecordEnd = true
                    if index < bytes.count {
                        index = skipLineEnd(from: index)
                        line += 1
                    }
                }
            }
            result.append(CSVTable.Record(line: recordLine, fields: fields))
        }
        return result
    }

    private func skipLineEnd(from index: Int) -> Int {
        if bytes[index] == Self.cr && index + 1 < bytes.count && bytes[index + 1] == Self.lf { return index + 2 }
        return index + 1
    }
}
