/// Character classes used by the pre-tokenizer scanners, matching the regex classes of the
/// reference (`\p{L}`, `\p{N}`, `\s` = Unicode White_Space).
enum CharacterClass {
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 3

    /// Classes of planes 0–3 (where nearly all assigned characters are), computed once; the
    /// other planes are looked up directly.
    private static let tableLimit = 0x40000
    private static let table: [UInt8] = {
        var table = [UInt8](repeating: other, count: tableLimit)
        for value in 0..<tableLimit {
            table[value] = computeClass(UInt32(value))
        }
        return table
    }()

    @inline(__always)
    static func of(_ scalar: UInt32) -> UInt8 {
        if scalar < 0x80 { return ascii[Int(scalar)] }
        if scalar < tableLimit { return table.withUnsafeBufferPointer { $0[Int(scalar)] } }
        return computeClass(scalar)
    }

    /// Letters and numbers first assigned in Unicode 17.0. Swift's tables know them; the
    /// reference's regex engine (Oniguruma in `tokenizers` 0.23, Unicode 16.0) does not, so
    /// for it they are neither `\p{L}` nor `\p{N}`. Found by comparing every code point.
    private static let newerThanReference: [ClosedRange<UInt32>] = [
        0x088F...0x088F, 0x0C5C...0x0C5C, 0x0CDC...0x0CDC, 0xA7CE...0xA7CF, 0xA7D2...0xA7D2, 0xA7D4...0xA7D4,
        0xA7F1...0xA7F1, 0x10940...0x10959, 0x10EC5...0x10EC7, 0x11DB0...0x11DDB, 0x11DE0...0x11DE9,
        0x16EA0...0x16EB8, 0x16EBB...0x16ED3, 0x16FF2...0x16FF6, 0x187F8...0x187FF, 0x18D09...0x18D1E,
        0x18D80...0x18DF2, 0x1E6C0...0x1E6DE, 0x1E6E0...0x1E6E2, 0x1E6E4...0x1E6E5, 0x1E6E7...0x1E6ED,
        0x1E6F0...0x1E6F4, 0x1E6FE...0x1E6FF, 0x2B73A...0x2B73F, 0x2CEA2...0x2CEAD, 0x323B0...0x33479,
    ]

    private static let ascii: [UInt8] = (0..<128).map { computeClass(UInt32($0)) }

    static func computeClass(_ value: UInt32) -> UInt8 {
        if isWhitespace(value) { return whitespace }
        guard let scalar = Unicode.Scalar(value) else { return other }
        if newerThanReference.contains(where: { $0.contains(value) }) { return other }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return other
        }
    }

    /// Rust's `char::is_numeric` (the Digits pre-tokenizer): Nd, Nl or No in current Unicode,
    /// including the characters the reference's regex tables predate.
    static func isNumeric(_ value: UInt32) -> Bool {
        let cls = of(value)
        if cls == number { return true }
        guard cls == other, newerThanReference.contains(where: { $0.contains(value) }),
              let scalar = Unicode.Scalar(value) else { return false }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// The Unicode White_Space property (what `\s` and Rust's `char::is_whitespace` match).
    @inline(__always)
    static func isWhitespace(_ value: UInt32) -> Bool {
        switch value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Rust regex `\w`: Alphabetic, marks, decimal digits, connector punctuation, joiners.
    static func isWordCharacter(_ value: UInt32) -> Bool {
        guard let scalar = Unicode.Scalar(value) else { return false }
        if value == 0x200C || value == 0x200D { return true }
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }
}

/// UTF-8 decoding of text that is known to be valid (it came from a Swift `String`).
enum UTF8Scalars {
    /// The scalar starting at `index` and its length in bytes.
    @inline(__always)
    static func decode(_ bytes: UnsafePointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(bytes[index])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 {
            return ((b0 & 0x1F) << 6 | UInt32(bytes[index + 1]) & 0x3F, 2)
        }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | (UInt32(bytes[index + 1]) & 0x3F) << 6 | UInt32(bytes[index + 2]) & 0x3F, 3)
        }
        let value = (b0 & 0x07) << 18 | (UInt32(bytes[index + 1]) & 0x3F) << 12
            | (UInt32(bytes[index + 2]) & 0x3F) << 6 | UInt32(bytes[index + 3]) & 0x3F
        return (value, 4)
    }

    /// Length in bytes of the scalar whose first byte is `lead`.
    @inline(__always)
    static func length(lead: UInt8) -> Int {
        if lead < 0x80 { return 1 }
        if lead < 0xE0 { return 2 }
        if lead < 0xF0 { return 3 }
        return 4
    }

    /// The scalar that ends just before `end`.
    static func decodeBackward(_ bytes: UnsafePointer<UInt8>, before end: Int) -> (value: UInt32, length: Int) {
        var start = end - 1
        while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return decode(bytes, at: start)
    }

    static func append(_ value: UInt32, to output: inout [UInt8]) {
        if value < 0x80 {
            output.append(UInt8(value))
        } else if value < 0x800 {
            output.append(UInt8(0xC0 | value >> 6))
            output.append(UInt8(0x80 | value & 0x3F))
        } else if value < 0x10000 {
            output.append(UInt8(0xE0 | value >> 12))
            output.append(UInt8(0x80 | (value >> 6) & 0x3F))
            output.append(UInt8(0x80 | value & 0x3F))
        } else {
            output.append(UInt8(0xF0 | value >> 18))
            output.append(UInt8(0x80 | (value >> 12) & 0x3F))
            output.append(UInt8(0x80 | (value >> 6) & 0x3F))
            output.append(UInt8(0x80 | value & 0x3F))
        }
    }
}
