/// Pre-tokenizers: split normalized text into the words the model encodes one at a time.
indirect enum PreTokenizer {
    enum Pattern {
        case literal([UInt8])
        case scanner(SplitScanner)
    }

    enum PrependScheme: String {
        case always, first, never
    }

    case split(Pattern, SplitBehavior, invert: Bool)
    /// `mapBytes: false` when the model's vocabulary was converted to raw bytes at load time, so
    /// the byte → character mapping (and its inverse) can be skipped entirely.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool, mapBytes: Bool)
    case metaspace(replacement: [UInt8], prependScheme: PrependScheme, split: Bool)
    case digits(individual: Bool)
    case whitespaceSplit
    case sequence([PreTokenizer])

    func apply(_ pieces: inout Pieces, _ workspace: EncodingWorkspace) {
        switch self {
        case let .sequence(steps):
            for step in steps { step.apply(&pieces, workspace) }
        case let .split(pattern, behavior, invert):
            Self.split(&pieces, workspace) { text, start, end, segments in
                switch pattern {
                case let .literal(bytes):
                    LiteralMatcher.segments(of: bytes, in: text, from: start, to: end, into: &segments)
                case let .scanner(scanner):
                    segments.removeAll(keepingCapacity: true)
                    var previous = start
                    scanner.scan(text + start, count: end - start) { matchEnd in
                        segments.append(Segment(start: previous, end: start + matchEnd, isMatch: true))
                        previous = start + matchEnd
                    }
                }
                if invert {
                    for i in segments.indices { segments[i].isMatch.toggle() }
                }
            } emit: { segments, out in
                behavior.apply(segments, into: &out)
            }
        case let .byteLevel(addPrefixSpace, useRegex, mapBytes):
            if addPrefixSpace { Self.prefixSpace(&pieces, workspace) }
            if useRegex {
                Self.isolate(&pieces, workspace, scanner: .gpt2)
            }
            if mapBytes { Self.mapBytes(&pieces, workspace) }
        case let .metaspace(replacement, prependScheme, split):
            Self.metaspace(&pieces, workspace, replacement: replacement, scheme: prependScheme, split: split)
        case let .digits(individual):
            Self.split(&pieces, workspace) { text, start, end, segments in
                Self.characterSegments(text, start, end, &segments) { CharacterClass.isNumeric($0) }
            } emit: { segments, out in
                (individual ? SplitBehavior.isolated : SplitBehavior.contiguous).apply(segments, into: &out)
            }
        case .whitespaceSplit:
            Self.split(&pieces, workspace) { text, start, end, segments in
                Self.characterSegments(text, start, end, &segments) { CharacterClass.isWhitespace($0) }
            } emit: { segments, out in
                SplitBehavior.removed.apply(segments, into: &out)
            }
        }
    }

    /// Whether this chain ends with a ByteLevel step (so the model may work on raw bytes).
    var endsWithByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case let .sequence(steps): return steps.last?.endsWithByteLevel ?? false
        default: return false
        }
    }

    /// The same chain with its final ByteLevel step told not to map bytes to characters.
    func withoutFinalByteMapping() -> PreTokenizer {
        switch self {
        case let .byteLevel(addPrefixSpace, useRegex, _):
            return .byteLevel(addPrefixSpace: addPrefixSpace, useRegex: useRegex, mapBytes: false)
        case let .sequence(steps):
            guard let last = steps.last else { return self }
            return .sequence(steps.dropLast() + [last.withoutFinalByteMapping()])
        default:
            return self
        }
    }

    // MARK: Steps

    /// Splits every piece; ranges stay in the same byte buffer.
    private static func split(_ pieces: inout Pieces, _ workspace: EncodingWorkspace,
                              segment: (UnsafePointer<UInt8>, Int, Int, inout [Segment]) -> Void,
                              emit: ([Segment], inout Pieces) -> Void) {
        var out = workspace.takeSparePieces()
        out.reset(firstStartsText: false)
        swap(&out.bytes, &pieces.bytes)
        var segments = workspace.segments
        out.bytes.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress ?? emptyBytePointer
            for k in 0..<pieces.count {
                let before = out.count
                segment(base, pieces.starts[k], pieces.ends[k], &segments)
                emit(segments, &out)
                if k == 0 && pieces.firstStartsText && out.count > before && out.starts[before] == pieces.starts[0] {
                    out.firstStartsText = true
                }
            }
        }
        workspace.segments = segments
        swap(&out, &pieces)
        workspace.returnSparePieces(out)
    }

    /// Isolated split with a scanner (the fast path of Llama-3 and GPT-2 pre-tokenization).
    private static func isolate(_ pieces: inout Pieces, _ workspace: EncodingWorkspace, scanner: SplitScanner) {
        split(&pieces, workspace) { text, start, end, segments in
            segments.removeAll(keepingCapacity: true)
            var previous = start
            scanner.scan(text + start, count: end - start) { matchEnd in
                segments.append(Segment(start: previous, end: start + matchEnd, isMatch: true))
                previous = start + matchEnd
            }
        } emit: { segments, out in
            for segment in segments { out.appendRange(segment.start, segment.end) }
        }
    }

    /// One segment per character matching the predicate, gaps in between (the reference's
    /// `Fn(char) -> bool` pattern).
    private static func characterSegments(_ text: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                                          _ segments: inout [Segment], _ predicate: (UInt32) -> Bool) {
        segments.removeAll(keepingCapacity: true)
        var previous = start
        var i = start
        while i < end {
            let (c, length) = UTF8Scalars.decode(text, at: i)
            if predicate(c) {
                if previous < i { segments.append(Segment(start: previous, end: i, isMatch: false)) }
                segments.append(Segment(start: i, end: i + length, isMatch: true))
                previous = i + length
            }
            i += length
        }
        if previous < end { segments.append(Segment(start: previous, end: end, isMatch: false)) }
    }

    private static func prefixSpace(_ pieces: inout Pieces, _ workspace: EncodingWorkspace) {
        var out = workspace.takeSparePieces()
        out.reset(firstStartsText: pieces.firstStartsText)
        for k in 0..<pieces.count {
            let start = out.bytes.count
            if pieces.bytes[pieces.starts[k]] != 0x20 { out.bytes.append(0x20) }
            out.bytes.append(contentsOf: pieces.bytes[pieces.starts[k]..<pieces.ends[k]])
            out.appendRange(start, out.bytes.count)
        }
        swap(&out, &pieces)
        workspace.returnSparePieces(out)
    }

    private static func mapBytes(_ pieces: inout Pieces, _ workspace: EncodingWorkspace) {
        var out = workspace.takeSparePieces()
        out.reset(firstStartsText: pieces.firstStartsText)
        pieces.bytes.withUnsafeBufferPointer { bytes in
            for k in 0..<pieces.count {
                let start = out.bytes.count
                ByteLevelAlphabet.encode(UnsafeBufferPointer(rebasing: bytes[pieces.starts[k]..<pieces.ends[k]]),
                                         into: &out.bytes)
                out.appendRange(start, out.bytes.count)
            }
        }
        swap(&out, &pieces)
        workspace.returnSparePieces(out)
    }

    private static func metaspace(_ pieces: inout Pieces, _ workspace: EncodingWorkspace, replacement: [UInt8],
                                  scheme: PrependScheme, split: Bool) {
        var out = workspace.takeSparePieces()
        out.reset(firstStartsText: false)
        var segments = workspace.segments
        for k in 0..<pieces.count {
            let start = out.bytes.count
            for byte in pieces.bytes[pieces.starts[k]..<pieces.ends[k]] {
                if byte == 0x20 { out.bytes.append(contentsOf: replacement) } else { out.bytes.append(byte) }
            }
            let startsWithReplacement = out.bytes.count - start >= replacement.count
                && out.bytes[start..<(start + replacement.count)].elementsEqual(replacement)
            let prepend: Bool
            switch scheme {
            case .always: prepend = !startsWithReplacement
            case .first: prepend = !startsWithReplacement && k == 0 && pieces.firstStartsText
            case .never: prepend = false
            }
            if prepend { out.bytes.insert(contentsOf: replacement, at: start) }
            if split {
                out.bytes.withUnsafeBufferPointer { bytes in
                    LiteralMatcher.segments(of: replacement, in: bytes.baseAddress ?? emptyBytePointer, from: start,
                                            to: bytes.count, into: &segments)
                }
                SplitBehavior.mergedWithNext.apply(segments, into: &out)
            } else {
                out.appendRange(start, out.bytes.count)
            }
        }
        workspace.segments = segments
        swap(&out, &pieces)
        workspace.returnSparePieces(out)
    }
}
