/// Decoders: turn token strings back into text, as a chain over the list of token strings
/// (the reference's `decode_chain`), joined at the end.
indirect enum TokenDecoder {
    case byteLevel
    case replace(pattern: String, content: String)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PreTokenizer.PrependScheme)
    case bpeSuffix(String)
    case sequence([TokenDecoder])

    /// Whether this decoder is exactly ByteLevel (its tokens can be precomputed as bytes).
    var isByteLevel: Bool {
        if case .byteLevel = self { return true }
        return false
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case let .sequence(steps):
            return steps.reduce(tokens) { $1.decodeChain($0) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens { Self.appendByteLevelBytes(of: token, to: &bytes) }
            return [String(decoding: bytes, as: UTF8.self)]
        case let .replace(pattern, content):
            return tokens.map { $0.replacingAll(pattern, with: content) }
        case .byteFallback:
            return Self.byteFallback(tokens)
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { Self.strip($0, content: content, start: start, stop: stop) }
        case let .metaspace(replacement, scheme):
            return tokens.enumerated().map { index, token in
                var scalars = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar == replacement {
                        if index == 0 && scheme != .never { continue }
                        scalars.append(" ")
                    } else {
                        scalars.append(scalar)
                    }
                }
                return String(scalars)
            }
        case let .bpeSuffix(suffix):
            return tokens.enumerated().map { index, token in
                token.replacingAll(suffix, with: index == tokens.count - 1 ? "" : " ")
            }
        }
    }

    /// The bytes a byte-level token stands for; a token with a character outside the alphabet
    /// (an added token, say) stands for its own UTF-8.
    static func appendByteLevelBytes(of token: String, to bytes: inout [UInt8]) {
        let start = bytes.count
        for scalar in token.unicodeScalars {
            let byte = ByteLevelAlphabet.byte(for: scalar.value)
            if byte < 0 {
                bytes.removeSubrange(start...)
                bytes.append(contentsOf: token.utf8)
                return
            }
            bytes.append(UInt8(byte))
        }
    }

    /// `<0xAB>` tokens become bytes; each run of them becomes its text if it is valid UTF-8,
    /// otherwise one U+FFFD per byte.
    private static func byteFallback(_ tokens: [String]) -> [String] {
        var output: [String] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let text = String(validating: pending, as: UTF8.self) {
                output.append(text)
            } else {
                output.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
            }
            pending.removeAll()
        }
        for token in tokens {
            if let byte = fallbackByte(token) {
                pending.append(byte)
            } else {
                flush()
                output.append(token)
            }
        }
        flush()
        return output
    }

    /// The byte of a `<0xAB>` token (parsed like Rust's `u8::from_str_radix(_, 16)`).
    static func fallbackByte(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E else { return nil }
        let digits = String(decoding: utf8[3...4], as: UTF8.self)
        if digits.hasPrefix("+") { return UInt8(digits.dropFirst(), radix: 16) }
        if digits.hasPrefix("-") { return nil }
        return UInt8(digits, radix: 16)
    }

    private static func strip(_ token: String, content: Unicode.Scalar, start: Int, stop: Int) -> String {
        let scalars = Array(token.unicodeScalars)
        var startCut = 0
        for i in 0..<min(start, scalars.count) {
            guard scalars[i] == content else { break }
            startCut = i + 1
        }
        var stopCut = scalars.count
        for i in 0..<min(stop, scalars.count) {
            let index = scalars.count - i - 1
            guard scalars[index] == content else { break }
            stopCut = index
        }
        if stopCut <= startCut { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[startCut..<stopCut])
        return String(view)
    }
}

extension String {
    /// Every non-overlapping occurrence of `pattern`, leftmost first, replaced (byte-wise on UTF-8).
    func replacingAll(_ pattern: String, with replacement: String) -> String {
        guard !pattern.isEmpty else { return self }
        let bytes = Array(utf8)
        let needle = Array(pattern.utf8)
        var segments: [Segment] = []
        bytes.withUnsafeBufferPointer { text in
            LiteralMatcher.segments(of: needle, in: text.baseAddress ?? emptyBytePointer, from: 0, to: text.count,
                                    into: &segments)
        }
        if !segments.contains(where: { $0.isMatch }) { return self }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        for segment in segments {
            if segment.isMatch {
                output.append(contentsOf: replacement.utf8)
            } else {
                output.append(contentsOf: bytes[segment.start..<segment.end])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
