/// Error messages quote what they found in a user's file so the user can find it, but the file may be
/// hostile or simply huge: a 1 MB merge string must not become a 1 MB error line, and a control
/// character must not break the one-line-per-error rule or the terminal. Every error type that quotes
/// input passes it through here.
public enum QuotedInput {
    /// Characters of input an error message quotes before clipping.
    public static let defaultLimit = 200

    /// The backstop error descriptions apply to whole reasons (which may quote input already
    /// clipped): control characters escaped, quotes left alone, length bounded.
    public static func bounded(_ reason: String) -> String {
        escaped(reason, limit: 4 * defaultLimit, escapingQuotes: false)
    }

    /// `text` with control characters, non-printable scalars, backslashes and double quotes escaped
    /// (`\n`, `\"`, `\u{7F}`), cut after `limit` characters with a note saying how much was left out.
    /// The result has no surrounding quotes, so callers keep their own quoting style.
    /// With `escapingQuotes: false`, quotes and backslashes pass through, which makes the call
    /// idempotent: error descriptions use it as a backstop on text that may already hold escapes.
    public static func escaped<S: StringProtocol>(_ text: S, limit: Int = defaultLimit, escapingQuotes: Bool = true) -> String {
        var out = ""
        var kept = 0, keptBytes = 0
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index != scalars.endIndex, kept < limit {
            let scalar = scalars[index]
            append(scalar, to: &out, escapingQuotes: escapingQuotes)
            kept += 1
            keptBytes += UTF8.width(scalar)
            index = scalars.index(after: index)
        }
        guard index != scalars.endIndex else { return out }
        // What is left, in UTF-8 bytes (O(1) for native strings).
        return out + "…(\(text.utf8.count - keptBytes) more bytes)"
    }

    /// `escaped(text)` in double quotes.
    public static func quoted<S: StringProtocol>(_ text: S, limit: Int = defaultLimit) -> String {
        "\"" + escaped(text, limit: limit) + "\""
    }

    private static func append(_ scalar: Unicode.Scalar, to out: inout String, escapingQuotes: Bool) {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\\" where escapingQuotes: out += "\\\\"
        case "\"" where escapingQuotes: out += "\\\""
        default:
            if isPrintable(scalar) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
    }

    /// Printable: not a control, format, surrogate, private-use or unassigned scalar, and not a line
    /// or paragraph separator (which would end the message's line in some terminals).
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return true
        }
    }
}
