/// A token added on top of the model's vocabulary (special tokens, chat markers, user-defined
/// pieces), with the matching options of the reference's `AddedToken`.
struct AddedToken {
    let id: Int32
    let content: String
    let singleWord: Bool
    let leftStrip: Bool
    let rightStrip: Bool
    let normalized: Bool
    let special: Bool
}

/// A stretch of input after added tokens were cut out: either an added token or plain text.
enum TextSegment {
    case token(Int32)
    case text(start: Int, end: Int)
}

/// Finds added tokens in text, leftmost-longest first, honouring lstrip / rstrip / single_word,
/// the way the reference's `AddedVocabulary::find_matches` does.
struct AddedTokenMatcher {
    private let trie: ByteTrie
    private let tokens: [AddedToken]
    let isEmpty: Bool

    /// `patterns[i]` is the text to look for for `tokens[i]`.
    init(tokens: [AddedToken], patterns: [[UInt8]]) {
        self.tokens = tokens
        trie = ByteTrie(patterns)
        isEmpty = tokens.isEmpty
    }

    /// Calls `emit` for the segments covering `text[0..<count]`, in order.
    func split(_ text: UnsafePointer<UInt8>, count: Int, emit: (TextSegment) -> Void) {
        if isEmpty || count == 0 {
            if count > 0 { emit(.text(start: 0, end: count)) }
            return
        }
        var covered = 0
        var position = 0
        while position < count {
            guard let match = trie.leftmostLongest(text, count: count, from: position) else { break }
            // The reference's matcher resumes after the match even when the match is discarded.
            position = match.end
            let token = tokens[match.pattern]
            var start = match.start
            var stop = match.end
            if start < covered { continue }
            if token.singleWord {
                let startsWord = start == 0 || !Self.endsWithWordCharacter(text, start)
                let stopsWord = stop == count || !Self.startsWithWordCharacter(text, stop, count)
                if !startsWord || !stopsWord { continue }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > 0 {
                    let (c, length) = UTF8Scalars.decodeBackward(text, before: newStart)
                    if !CharacterClass.isWhitespace(c) { break }
                    newStart -= length
                }
                start = max(newStart, covered)
            }
            if token.rightStrip {
                while stop < count {
                    let (c, length) = UTF8Scalars.decode(text, at: stop)
                    if !CharacterClass.isWhitespace(c) { break }
                    stop += length
                }
                position = max(position, stop)
            }
            if covered < start { emit(.text(start: covered, end: start)) }
            emit(.token(token.id))
            covered = stop
        }
        if covered < count { emit(.text(start: covered, end: count)) }
    }

    private static func endsWithWordCharacter(_ text: UnsafePointer<UInt8>, _ end: Int) -> Bool {
        CharacterClass.isWordCharacter(UTF8Scalars.decodeBackward(text, before: end).value)
    }

    private static func startsWithWordCharacter(_ text: UnsafePointer<UInt8>, _ start: Int, _ count: Int) -> Bool {
        start < count && CharacterClass.isWordCharacter(UTF8Scalars.decode(text, at: start).value)
    }
}

/// A byte trie over a set of patterns, for leftmost-longest search.
struct ByteTrie {
    /// Child of the root for each first byte (-1: no pattern starts with it).
    private var rootChildren = [Int32](repeating: -1, count: 256)
    /// Per node: its outgoing edges (byte, child) and the pattern ending there (-1 if none).
    private var edges: [[(byte: UInt8, child: Int32)]] = [[]]
    private var terminal: [Int32] = [-1]

    init(_ patterns: [[UInt8]]) {
        for (index, pattern) in patterns.enumerated() where !pattern.isEmpty {
            var node = 0
            for (depth, byte) in pattern.enumerated() {
                if depth == 0 {
                    if rootChildren[Int(byte)] < 0 { rootChildren[Int(byte)] = newNode() }
                    node = Int(rootChildren[Int(byte)])
                } else if let edge = edges[node].first(where: { $0.byte == byte }) {
                    node = Int(edge.child)
                } else {
                    let child = newNode()
                    edges[node].append((byte, child))
                    node = Int(child)
                }
            }
            terminal[node] = Int32(index)
        }
    }

    private mutating func newNode() -> Int32 {
        edges.append([])
        terminal.append(-1)
        return Int32(edges.count - 1)
    }

    /// The first position at or after `from` where a pattern starts, with the longest pattern there.
    func leftmostLongest(_ text: UnsafePointer<UInt8>, count: Int, from: Int) -> (start: Int, end: Int, pattern: Int)? {
        var start = from
        while start < count {
            var node = rootChildren[Int(text[start])]
            if node >= 0 {
                var best: (end: Int, pattern: Int)?
                var i = start + 1
                while true {
                    let pattern = terminal[Int(node)]
                    if pattern >= 0 { best = (i, Int(pattern)) }
                    if i >= count { break }
                    let byte = text[i]
                    guard let edge = edges[Int(node)].first(where: { $0.byte == byte }) else { break }
                    node = edge.child
                    i += 1
                }
                if let best { return (start, best.end, best.pattern) }
            }
            start += 1
        }
        return nil
    }
}
