import Foundation

/// The pieces of text between pre-tokenization steps: byte ranges into one buffer.
struct Pieces {
    var bytes: [UInt8] = []
    var starts: [Int] = []
    var ends: [Int] = []
    /// Whether piece 0 starts at offset 0 of the original text (Metaspace's `prepend_scheme: first`).
    var firstStartsText = false

    var count: Int { starts.count }

    mutating func reset(firstStartsText: Bool) {
        bytes.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        self.firstStartsText = firstStartsText
    }

    /// Adds a non-empty range (the reference drops empty pieces).
    @inline(__always)
    mutating func appendRange(_ start: Int, _ end: Int) {
        if end > start {
            starts.append(start)
            ends.append(end)
        }
    }
}

/// How a split keeps the delimiters it finds (the reference's `SplitDelimiterBehavior`).
enum SplitBehavior: String {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    /// Turns the segments of one piece (covering it, in order) into the pieces to keep.
    func apply(_ segments: [Segment], into pieces: inout Pieces) {
        switch self {
        case .isolated:
            for segment in segments { pieces.appendRange(segment.start, segment.end) }
        case .removed:
            for segment in segments where !segment.isMatch { pieces.appendRange(segment.start, segment.end) }
        case .contiguous:
            var previousMatch = false
            var pending: (start: Int, end: Int)?
            for segment in segments {
                if segment.isMatch == previousMatch, let open = pending {
                    pending = (open.start, segment.end)
                } else {
                    if let open = pending { pieces.appendRange(open.start, open.end) }
                    pending = (segment.start, segment.end)
                }
                previousMatch = segment.isMatch
            }
            if let open = pending { pieces.appendRange(open.start, open.end) }
        case .mergedWithPrevious:
            var previousMatch = false
            var pending: (start: Int, end: Int)?
            for segment in segments {
                if segment.isMatch && !previousMatch, let open = pending {
                    pending = (open.start, segment.end)
                } else {
                    if let open = pending { pieces.appendRange(open.start, open.end) }
                    pending = (segment.start, segment.end)
                }
                previousMatch = segment.isMatch
            }
            if let open = pending { pieces.appendRange(open.start, open.end) }
        case .mergedWithNext:
            var previousMatch = false
            var reversed: [(start: Int, end: Int)] = []
            for segment in segments.reversed() {
                if segment.isMatch && !previousMatch, let last = reversed.last {
                    reversed[reversed.count - 1] = (segment.start, last.end)
                } else {
                    reversed.append((segment.start, segment.end))
                }
                previousMatch = segment.isMatch
            }
            for range in reversed.reversed() { pieces.appendRange(range.start, range.end) }
        }
    }
}

/// A stretch of a piece that a pattern matched (or did not).
struct Segment {
    var start: Int
    var end: Int
    var isMatch: Bool
}

/// Finds the non-overlapping occurrences of a literal byte string, leftmost first.
enum LiteralMatcher {
    /// Segments covering `text[start..<end]`, matches of `pattern` flagged.
    static func segments(of pattern: [UInt8], in text: UnsafePointer<UInt8>, from start: Int, to end: Int,
                         into segments: inout [Segment]) {
        segments.removeAll(keepingCapacity: true)
        let length = pattern.count
        var previous = start
        var i = start
        pattern.withUnsafeBufferPointer { pattern in
            let first = pattern[0]
            while i + length <= end {
                if text[i] == first && (length == 1 || memcmp(text + i + 1, pattern.baseAddress! + 1, length - 1) == 0) {
                    if previous < i { segments.append(Segment(start: previous, end: i, isMatch: false)) }
                    segments.append(Segment(start: i, end: i + length, isMatch: true))
                    i += length
                    previous = i
                } else {
                    i += 1
                }
            }
        }
        if previous < end { segments.append(Segment(start: previous, end: end, isMatch: false)) }
    }
}
