/// Hand-written scanners for the pre-tokenizer regexes found in real tokenizer.json files. Each
/// one reproduces the leftmost-first, backtracking semantics of its regex (as the reference's
/// Oniguruma engine runs it) without a general regex engine. Both patterns match every
/// character, so the matches tile the input and a scanner only has to report where each ends.
enum SplitScanner: Equatable {
    /// The tiktoken pattern of Llama-3 (`\p{N}{1,3}`, `maxDigits = 3`) and Qwen-2 (`\p{N}`):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case tiktoken(maxDigits: Int)
    /// GPT-2's pattern (also the ByteLevel pre-tokenizer's):
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2

    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The scanner for a regex string, if it is one of the known patterns.
    init?(pattern: String) {
        switch pattern {
        case Self.llama3Pattern: self = .tiktoken(maxDigits: 3)
        case Self.qwen2Pattern: self = .tiktoken(maxDigits: 1)
        case Self.gpt2Pattern: self = .gpt2
        default: return nil
        }
    }

    /// Calls `emit(end)` for the end offset of every match, in order; the last end is `count`.
    @inline(__always)
    func scan(_ text: UnsafePointer<UInt8>, count: Int, emit: (Int) -> Void) {
        var position = 0
        switch self {
        case let .tiktoken(maxDigits):
            while position < count {
                position = Self.tiktokenMatch(text, count, position, maxDigits)
                emit(position)
            }
        case .gpt2:
            while position < count {
                position = Self.gpt2Match(text, count, position)
                emit(position)
            }
        }
    }

    private static let apostrophe: UInt32 = 0x27
    private static let space: UInt32 = 0x20

    @inline(__always)
    private static func isLineBreak(_ c: UInt32) -> Bool { c == 0x0A || c == 0x0D }

    /// Case folding restricted to the letters of the contractions (`ſ` folds to `s`).
    @inline(__always)
    private static func fold(_ c: UInt32) -> UInt32 {
        if c >= 0x41 && c <= 0x5A { return c + 0x20 }
        if c == 0x17F { return 0x73 }
        return c
    }

    /// End of the run of scalars of class `cls` starting at `start`.
    @inline(__always)
    private static func runEnd(_ text: UnsafePointer<UInt8>, _ count: Int, from start: Int, class cls: UInt8) -> Int {
        var j = start
        while j < count {
            let (c, length) = UTF8Scalars.decode(text, at: j)
            if CharacterClass.of(c) != cls { break }
            j += length
        }
        return j
    }

    private static func tiktokenMatch(_ text: UnsafePointer<UInt8>, _ count: Int, _ i: Int, _ maxDigits: Int) -> Int {
        let (c, length) = UTF8Scalars.decode(text, at: i)
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if c == apostrophe && i + 1 < count {
            let (c1, l1) = UTF8Scalars.decode(text, at: i + 1)
            switch fold(c1) {
            case 0x73, 0x74, 0x6D, 0x64: // s t m d
                return i + 1 + l1
            case 0x72, 0x76, 0x6C: // r v l
                let second: UInt32 = fold(c1) == 0x6C ? 0x6C : 0x65
                if i + 1 + l1 < count {
                    let (c2, l2) = UTF8Scalars.decode(text, at: i + 1 + l1)
                    if fold(c2) == second { return i + 1 + l1 + l2 }
                }
            default:
                break
            }
        }
        let cls = CharacterClass.of(c)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if cls == CharacterClass.letter {
            return runEnd(text, count, from: i + length, class: CharacterClass.letter)
        }
        if cls != CharacterClass.number && !isLineBreak(c) && i + length < count {
            let (c1, l1) = UTF8Scalars.decode(text, at: i + length)
            if CharacterClass.of(c1) == CharacterClass.letter {
                return runEnd(text, count, from: i + length + l1, class: CharacterClass.letter)
            }
        }
        // \p{N}{1,maxDigits}
        if cls == CharacterClass.number {
            var j = i + length
            var digits = 1
            while j < count && digits < maxDigits {
                let (cj, lj) = UTF8Scalars.decode(text, at: j)
                if CharacterClass.of(cj) != CharacterClass.number { break }
                j += lj
                digits += 1
            }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        if let end = optionalSpaceThenRun(text, count, i, c, length, lineBreaks: true) { return end }
        // Only whitespace is left: `\s*[\r\n]+`, then `\s+(?!\S)`, then `\s+`.
        var j = i
        var lastBreakEnd = -1
        var lastStart = i
        while j < count {
            let (cj, lj) = UTF8Scalars.decode(text, at: j)
            if !CharacterClass.isWhitespace(cj) { break }
            if isLineBreak(cj) { lastBreakEnd = j + lj }
            lastStart = j
            j += lj
        }
        if lastBreakEnd >= 0 { return lastBreakEnd }
        if j == count || lastStart == i { return j }
        return lastStart
    }

    /// ` ?[^\s\p{L}\p{N}]+` (plus `[\r\n]*` for tiktoken), or nil if it does not match at `i`.
    @inline(__always)
    private static func optionalSpaceThenRun(_ text: UnsafePointer<UInt8>, _ count: Int, _ i: Int, _ c: UInt32,
                                             _ length: Int, lineBreaks: Bool) -> Int? {
        var j = i
        var cj = c
        var lj = length
        if c == space {
            j = i + 1
            if j >= count { return nil }
            (cj, lj) = UTF8Scalars.decode(text, at: j)
        }
        if CharacterClass.of(cj) != CharacterClass.other { return nil }
        j = runEnd(text, count, from: j + lj, class: CharacterClass.other)
        if lineBreaks {
            while j < count && (text[j] == 0x0A || text[j] == 0x0D) { j += 1 }
        }
        return j
    }

    private static func gpt2Match(_ text: UnsafePointer<UInt8>, _ count: Int, _ i: Int) -> Int {
        let (c, length) = UTF8Scalars.decode(text, at: i)
        // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
        if c == apostrophe && i + 1 < count {
            let c1 = text[i + 1]
            switch c1 {
            case 0x73, 0x74, 0x6D, 0x64:
                return i + 2
            case 0x72, 0x76:
                if i + 2 < count && text[i + 2] == 0x65 { return i + 3 }
            case 0x6C:
                if i + 2 < count && text[i + 2] == 0x6C { return i + 3 }
            default:
                break
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        var j = i
        var cj = c
        var lj = length
        if c == space && i + 1 < count {
            j = i + 1
            (cj, lj) = UTF8Scalars.decode(text, at: j)
        }
        let cls = CharacterClass.of(cj)
        if cls != CharacterClass.whitespace {
            return runEnd(text, count, from: j + lj, class: cls)
        }
        // `\s+(?!\S)`, then `\s+`
        j = i
        var lastStart = i
        while j < count {
            let (cw, lw) = UTF8Scalars.decode(text, at: j)
            if !CharacterClass.isWhitespace(cw) { break }
            lastStart = j
            j += lw
        }
        if j == count || lastStart == i { return j }
        return lastStart
    }
}
