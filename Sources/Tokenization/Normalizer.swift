import Foundation

/// Normalizers: rewrite a stretch of text (as UTF-8) before pre-tokenization.
indirect enum Normalizer {
    enum UnicodeForm { case nfc, nfd, nfkc, nfkd }

    case replace(pattern: [UInt8], content: [UInt8])
    case prepend([UInt8])
    case unicode(UnicodeForm)
    case lowercase
    case strip(left: Bool, right: Bool)
    case stripAccents
    case byteLevel
    case sequence([Normalizer])

    func apply(_ input: [UInt8]) -> [UInt8] {
        switch self {
        case let .sequence(steps):
            var text = input
            for step in steps { text = step.apply(text) }
            return text
        case let .replace(pattern, content):
            return Self.replace(input, pattern: pattern, content: content)
        case let .prepend(prefix):
            return input.isEmpty ? input : prefix + input
        case let .unicode(form):
            let string = String(decoding: input, as: UTF8.self)
            let normalized: String
            switch form {
            case .nfc: normalized = string.precomposedStringWithCanonicalMapping
            case .nfd: normalized = string.decomposedStringWithCanonicalMapping
            case .nfkc: normalized = string.precomposedStringWithCompatibilityMapping
            case .nfkd: normalized = string.decomposedStringWithCompatibilityMapping
            }
            return Array(normalized.utf8)
        case .lowercase:
            // Character by character, like Rust's `char::to_lowercase` (no final-sigma context).
            var output: [UInt8] = []
            output.reserveCapacity(input.count)
            for scalar in String(decoding: input, as: UTF8.self).unicodeScalars {
                if scalar.isASCII {
                    let v = scalar.value
                    output.append(UInt8(v >= 0x41 && v <= 0x5A ? v + 0x20 : v))
                } else {
                    output.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                }
            }
            return output
        case let .strip(left, right):
            return Self.strip(input, left: left, right: right)
        case .stripAccents:
            var output: [UInt8] = []
            for scalar in String(decoding: input, as: UTF8.self).unicodeScalars {
                switch scalar.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark: continue
                default: UTF8Scalars.append(scalar.value, to: &output)
                }
            }
            return output
        case .byteLevel:
            var output: [UInt8] = []
            input.withUnsafeBufferPointer { ByteLevelAlphabet.encode($0, into: &output) }
            return output
        }
    }

    private static func replace(_ input: [UInt8], pattern: [UInt8], content: [UInt8]) -> [UInt8] {
        var segments: [Segment] = []
        input.withUnsafeBufferPointer { bytes in
            LiteralMatcher.segments(of: pattern, in: bytes.baseAddress ?? emptyBytePointer, from: 0, to: bytes.count,
                                    into: &segments)
        }
        if !segments.contains(where: { $0.isMatch }) { return input }
        var output: [UInt8] = []
        output.reserveCapacity(input.count + input.count / 4)
        for segment in segments {
            if segment.isMatch {
                output.append(contentsOf: content)
            } else {
                output.append(contentsOf: input[segment.start..<segment.end])
            }
        }
        return output
    }

    private static func strip(_ input: [UInt8], left: Bool, right: Bool) -> [UInt8] {
        input.withUnsafeBufferPointer { bytes -> [UInt8] in
            guard let base = bytes.baseAddress else { return [] }
            var start = 0
            var end = bytes.count
            if left {
                while start < end {
                    let (c, length) = UTF8Scalars.decode(base, at: start)
                    if !CharacterClass.isWhitespace(c) { break }
                    start += length
                }
            }
            if right {
                while end > start {
                    let (c, length) = UTF8Scalars.decodeBackward(base, before: end)
                    if !CharacterClass.isWhitespace(c) { break }
                    end -= length
                }
            }
            return Array(bytes[start..<end])
        }
    }
}
