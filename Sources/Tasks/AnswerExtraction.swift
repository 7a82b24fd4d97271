/// An extracted answer and the text before it (the reference's "think" part).
public struct ExtractedAnswer: Sendable, Equatable {
    public let reasoning: String
    public let answer: String
}

/// Reads the predicted label from a generation (`utils.py` `extract_answer`, method §7.2).
///
/// select and answer tasks: the whole generation, stripped. reason tasks, first that matches:
/// 1. `####\s*(-?\d+(?:\.\d+)?)` anywhere;
/// 2. `[Tt]he answer is\s*(-?\d+(?:\.\d+)?)`;
/// 3. `(\d+(?:\.\d+)?)\s*$` on the stripped text;
/// 4. the last `-?\d+(?:\.\d+)?` anywhere;
/// 5. the last whitespace-separated word; else "".
/// With `lenientNumbers`, every number pattern also accepts thousands separators (`1,000`), which are
/// then removed from the answer.
public struct AnswerExtractor: Sendable {
    public let kind: TaskKind
    public let lenientNumbers: Bool

    public init(kind: TaskKind, lenientNumbers: Bool = false) {
        self.kind = kind
        self.lenientNumbers = lenientNumbers
    }

    public func extractAnswer(from output: String) -> String {
        extract(from: output).answer
    }

    public func extract(from output: String) -> ExtractedAnswer {
        switch kind {
        case .select, .answer:
            return ExtractedAnswer(reasoning: "", answer: PythonText.strip(output))
        case .reason:
            return extractNumber(from: output)
        }
    }

    private func extractNumber(from output: String) -> ExtractedAnswer {
        let text = Array(output.unicodeScalars)
        let scanner = NumberScanner(allowThousands: lenientNumbers)
        func result(_ before: ArraySlice<Unicode.Scalar>, _ number: ArraySlice<Unicode.Scalar>) -> ExtractedAnswer {
            ExtractedAnswer(reasoning: PythonText.strip(Self.string(before)), answer: scanner.canonical(Self.string(number)))
        }
        // 1. "####" then optional whitespace then a number.
        for start in text.indices where Self.hasPrefix(text, at: start, "####") {
            var index = start + 4
            while index < text.count && PythonText.isSpace(text[index]) { index += 1 }
            if let end = scanner.matchSigned(text, at: index) {
                return result(text[..<start], text[index..<end])
            }
        }
        // 2. "The answer is" / "the answer is".
        for start in text.indices where (text[start] == "T" || text[start] == "t") && Self.hasPrefix(text, at: start + 1, "he answer is") {
            var index = start + 13
            while index < text.count && PythonText.isSpace(text[index]) { index += 1 }
            if let end = scanner.matchSigned(text, at: index) {
                return result(text[..<start], text[index..<end])
            }
        }
        // 3. A number that ends the stripped text (leftmost start that reaches the end).
        let stripped = Array(PythonText.strip(output).unicodeScalars)
        for start in stripped.indices where PythonText.isDecimalDigit(stripped[start]) {
            if scanner.matchUnsigned(stripped, at: start, mustEndAt: stripped.count) {
                // The reference slices the original response with an index found in the stripped one.
                return result(text.prefix(start), stripped[start...])
            }
        }
        // 4. The last number anywhere; the reasoning ends at that number's last occurrence.
        if let last = scanner.allSigned(text).last {
            // `re.finditer(re.escape(answer), response)`: non-overlapping occurrences, keep the last.
            let number = Array(text[last])
            var lastOccurrence = last.lowerBound
            var index = 0
            while index + number.count <= text.count {
                if text[index..<(index + number.count)].elementsEqual(number) {
                    lastOccurrence = index
                    index += number.count
                } else {
                    index += 1
                }
            }
            return result(text[..<lastOccurrence], text[last])
        }
        // 5. The last word.
        let words = PythonText.split(output)
        if let lastWord = words.last {
            return ExtractedAnswer(reasoning: words.dropLast().joined(separator: " "), answer: lastWord)
        }
        return ExtractedAnswer(reasoning: PythonText.strip(output), answer: "")
    }

    private static func hasPrefix(_ text: [Unicode.Scalar], at start: Int, _ literal: String) -> Bool {
        var index = start
        for scalar in literal.unicodeScalars {
            guard index < text.count, text[index] == scalar else { return false }
            index += 1
        }
        return true
    }

    /// GSM8K's gold: `####\s*(-?\d+)` on the reference solution (integers only, so "1,080" gives "1"
    /// unless `lenientNumbers`), else the stripped solution.
    public static func goldNumber(fromSolution solution: String, lenientNumbers: Bool = false) -> String {
        let text = Array(solution.unicodeScalars)
        let scanner = NumberScanner(allowThousands: lenientNumbers)
        for start in text.indices where hasPrefix(text, at: start, "####") {
            var index = start + 4
            while index < text.count && PythonText.isSpace(text[index]) { index += 1 }
            if let end = scanner.matchSignedInteger(text, at: index) {
                return scanner.canonical(string(text[index..<end]))
            }
        }
        return PythonText.strip(solution)
    }

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}

/// Matches `-?\d+(?:\.\d+)?` (and, leniently, `\d{1,3}(?:,\d{3})+` integer parts) at a position.
struct NumberScanner {
    let allowThousands: Bool

    /// End of the longest `-?number` starting exactly at `start`, or nil.
    func matchSigned(_ text: [Unicode.Scalar], at start: Int) -> Int? {
        if start < text.count && text[start] == "-" {
            // If no digit follows, `-?` backtracking to empty cannot help: "-" is not a digit.
            return matchUnsigned(text, at: start + 1)
        }
        return matchUnsigned(text, at: start)
    }

    /// End of the longest `-?\d+` (integer part only) starting exactly at `start`, or nil.
    func matchSignedInteger(_ text: [Unicode.Scalar], at start: Int) -> Int? {
        let digitsStart = start < text.count && text[start] == "-" ? start + 1 : start
        return integerPart(text, at: digitsStart)
    }

    /// End of the longest number starting exactly at `start`, or nil.
    func matchUnsigned(_ text: [Unicode.Scalar], at start: Int) -> Int? {
        guard let integerEnd = integerPart(text, at: start) else { return nil }
        if integerEnd < text.count && text[integerEnd] == ".", let fractionEnd = digits(text, at: integerEnd + 1) {
            return fractionEnd
        }
        return integerEnd
    }

    /// Whether a number starting at `start` can end exactly at `end` (trying with and without a fraction).
    func matchUnsigned(_ text: [Unicode.Scalar], at start: Int, mustEndAt end: Int) -> Bool {
        guard let integerEnd = integerPart(text, at: start) else { return false }
        if integerEnd < text.count && text[integerEnd] == ".", let fractionEnd = digits(text, at: integerEnd + 1), fractionEnd == end {
            return true
        }
        return integerEnd == end
    }

    /// Every non-overlapping `-?number`, left to right (`re.findall`).
    func allSigned(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var matches: [Range<Int>] = []
        var index = 0
        while index < text.count {
            if let end = matchSigned(text, at: index) {
                matches.append(index..<end)
                index = end
            } else {
                index += 1
            }
        }
        return matches
    }

    /// The answer as compared: thousands separators dropped when they were accepted.
    func canonical(_ number: String) -> String {
        allowThousands ? number.replacingOccurrences(of: ",", with: "") : number
    }

    private func integerPart(_ text: [Unicode.Scalar], at start: Int) -> Int? {
        guard let end = digits(text, at: start) else { return nil }
        guard allowThousands, end - start <= 3 else { return end }
        var groupEnd = end
        while groupEnd < text.count, text[groupEnd] == ",",
              let next = digits(text, at: groupEnd + 1), next - (groupEnd + 1) == 3 {
            groupEnd = next
        }
        return groupEnd
    }

    private func digits(_ text: [Unicode.Scalar], at start: Int) -> Int? {
        var index = start
        while index < text.count && PythonText.isDecimalDigit(text[index]) { index += 1 }
        return index > start ? index : nil
    }
}
