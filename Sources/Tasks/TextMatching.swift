import Foundation

/// The reference's free-text comparisons (`config.py` `normalized_exact_match`, `token_f1`) and the
/// number comparison behind `--lenient-numbers`.
public enum TextMatching {
    /// Lowercase, strip, remove every character that is neither `\w` nor `\s`, collapse `\s+` to one
    /// space, strip again.
    public static func normalize(_ text: String) -> String {
        let lowered = PythonText.strip(PythonText.lower(text))
        var kept = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in lowered.unicodeScalars {
            if PythonText.isSpace(scalar) {
                pendingSpace = true
            } else if PythonText.isWordCharacter(scalar) {
                if pendingSpace && !kept.isEmpty { kept.append(" ") }
                pendingSpace = false
                kept.append(scalar)
            }
        }
        return String(kept)
    }

    /// 1 if the normalized texts are equal, else 0.
    public static func normalizedExactMatch(_ prediction: String, _ gold: String) -> Double {
        normalize(prediction) == normalize(gold) ? 1 : 0
    }

    /// F1 between the *sets* of lowercased whitespace-separated words (the reference uses sets, not bags).
    public static func tokenF1(_ prediction: String, _ gold: String) -> Double {
        let predicted = Set(PythonText.split(PythonText.lower(prediction)))
        let expected = Set(PythonText.split(PythonText.lower(gold)))
        if predicted.isEmpty && expected.isEmpty { return 1 }
        if predicted.isEmpty || expected.isEmpty { return 0 }
        let common = Double(predicted.intersection(expected).count)
        let precision = common / Double(predicted.count)
        let recall = common / Double(expected.count)
        if precision + recall == 0 { return 0 }
        return 2 * precision * recall / (precision + recall)
    }

    /// Whether the normalized gold occurs as whole words inside the normalized prediction.
    public static func containsAnswer(_ prediction: String, _ gold: String) -> Bool {
        let needle = normalize(gold)
        guard !needle.isEmpty else { return false }
        return (" " + normalize(prediction) + " ").contains(" " + needle + " ")
    }

    /// Numbers equal by value once thousands separators are removed ("18.0" = "18", "1,000" = "1000");
    /// anything that is not a plain decimal number compares as text.
    public static func numbersMatch(_ prediction: String, _ gold: String) -> Bool {
        let a = PythonText.strip(prediction).replacingOccurrences(of: ",", with: "")
        let b = PythonText.strip(gold).replacingOccurrences(of: ",", with: "")
        if a == b { return true }
        guard let x = decimalValue(a), let y = decimalValue(b) else { return false }
        return x == y
    }

    private static func decimalValue(_ text: String) -> Decimal? {
        // Only `-?digits(.digits)?`: Decimal(string:) alone would accept "12abc" as 12.
        var scalars = Substring(text)
        if scalars.first == "-" { scalars = scalars.dropFirst() }
        let parts = scalars.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count),
              parts.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy { $0.value >= 0x30 && $0.value <= 0x39 } })
        else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }
}
