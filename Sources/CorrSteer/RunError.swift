/// Errors of the CorrSteer pipeline that are not a parse error of some input file.
public enum RunError: Error, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)
    case invalidRun(path: String, reason: String)
    case invalidOption(String)
    case mismatch(String)
    case noSamples(String)
    /// Another process writes this run (`RunLock`).
    case locked(path: String, holder: String)

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): return "\(path): cannot write: \(reason)"
        case let .invalidRun(path, reason): return "\(path): \(reason)"
        case let .invalidOption(message): return message
        case let .mismatch(message): return message
        case let .noSamples(message): return message
        case let .locked(path, holder):
            return "\(path): another corrsteer process is writing this run (\(holder)); wait for it to finish or stop it"
        }
    }

    /// Text from a file or an option as it may appear inside an error: at most `limit` characters,
    /// control and non-ASCII-printable characters escaped, so a hostile input cannot flood or garble
    /// the terminal.
    public static func quoted(_ text: String, limit: Int = 200) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit { return out + "…(\(text.unicodeScalars.count - limit) more characters)" }
            count += 1
            switch scalar.value {
            case 0x20..<0x7f where scalar != "\\": out.unicodeScalars.append(scalar)
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x09: out += "\\t"
            case 0xa0...0x10ffff where scalar.properties.isAlphabetic || scalar.properties.generalCategory == .decimalNumber:
                out.unicodeScalars.append(scalar)
            default: out += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return out
    }
}
