import Foundation

/// Number formatting shared by the Markdown and HTML reports.
enum ReportFormat {
    static func percent(_ fraction: Double) -> String { String(format: "%.2f", fraction * 100) }

    /// "55.48 % [54.66, 56.30]"
    static func accuracy(_ value: Double, _ interval: Interval) -> String {
        "\(percent(value)) % [\(percent(interval.lower)), \(percent(interval.upper))]"
    }

    /// Signed percentage points: "+3.27 pp [+2.60, +3.94]".
    static func delta(_ value: Double, _ interval: Interval) -> String {
        "\(signedPoints(value)) pp [\(signedPoints(interval.lower)), \(signedPoints(interval.upper))]"
    }

    static func signedPoints(_ fraction: Double) -> String { String(format: "%+.2f", fraction * 100) }

    static func ser(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "–" }

    static func pValue(_ p: Double?) -> String {
        guard let p else { return "–" }
        if p == 0 { return "0" }
        return p < 1e-4 ? String(format: "%.1e", p) : String(format: "%.4f", p)
    }

    static func correlation(_ r: Double) -> String { String(format: "%.4f", r) }

    static func coefficient(_ c: Double) -> String { String(format: "%.4g", c) }

    static func number(_ number: NSNumber) -> String {
        // JSON booleans arrive as NSNumber with the char type code.
        if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        let value = number.doubleValue
        if value.rounded() == value && abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }

    /// Text cut to `limit` characters with an ellipsis.
    static func truncated(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    /// The variant's comparison cells: Δ, SER, NEG / POS, McNemar p.
    static func comparisonCells(_ metrics: VariantMetrics) -> [String] {
        guard let c = metrics.comparison else { return ["–", "–", "–", "–"] }
        return [delta(c.delta, c.deltaInterval), ser(c.sideEffectRatio), "\(c.negative) / \(c.positive)", pValue(c.mcnemarP)]
    }

    static let resultHeaders = ["variant", "n", "accuracy [95 % CI]", "Δ vs baseline [95 % CI]", "SER", "NEG / POS", "McNemar p"]

    /// The "Broken answers" section: one sentence per steered variant that broke answers, or the single
    /// sentence that none did; nil when no variant was compared with the baseline.
    static func brokenSummary(_ variants: [VariantMetrics]) -> [String]? {
        let compared = variants.compactMap { v in v.comparison.map { (v.variant, $0) } }
        guard !compared.isEmpty else { return nil }
        let broke = compared.filter { $0.1.negative > 0 }
        guard !broke.isEmpty else { return ["No answer became wrong."] }
        return broke.map { name, c in
            "\(name): \(c.negative) answer\(c.negative == 1 ? "" : "s") became wrong (baseline right, steered wrong) "
                + "against \(c.positive) that became right; SER \(ser(c.sideEffectRatio))."
        }
    }

    static func histogramHeaders() -> [String] { ["layer", "features", "r min", "r max", "|r| ≥ 0.1", "|r| ≥ 0.2", "never active"] }

    /// One summary row of a layer's r distribution.
    static func histogramRow(_ h: CorrelationHistogram) -> [String] {
        [String(h.layer), String(h.features), correlation(h.smallest), correlation(h.largest),
         String(h.atLeastTenth), String(h.atLeastFifth), String(h.neverActive)]
    }

    /// The best correlation shown for a layer: its selected feature, else its strongest candidate.
    static func topCandidate(_ layer: LayerCandidates) -> FeatureCandidate? {
        layer.selected ?? (layer.topPositive + layer.topNegative).max { abs($0.correlation) < abs($1.correlation) }
    }

    /// One sentence per compared method present among `variants`: what it controls for.
    static func comparisonSentences(_ variants: [VariantMetrics]) -> [(String, String)] {
        variants.compactMap { v in ComparisonMethod(rawValue: v.variant).map { ($0.rawValue, $0.controlsFor) } }
    }

    static let seedHeaders = ["variant", "accuracy mean ± sd", "Δ mean ± sd", "Δ per seed (pp)"]

    /// The across-seeds table: means and sample standard deviations in percentage points.
    static func seedRows(_ summary: SeedSummary) -> [[String]] {
        func pm(_ mean: Double?, _ sd: Double?, signed: Bool) -> String {
            guard let mean else { return "–" }
            let m = signed ? signedPoints(mean) : percent(mean)
            return m + (sd.map { " ± " + percent($0) } ?? "")
        }
        return summary.variants.map { row in
            [row.variant, pm(row.accuracyMean, row.accuracySD, signed: false) + " %", pm(row.deltaMean, row.deltaSD, signed: true) + (row.deltaMean == nil ? "" : " pp"),
             row.delta.map { $0.map(signedPoints) ?? "–" }.joined(separator: ", ")]
        }
    }
}
