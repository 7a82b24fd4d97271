import Foundation

/// The results of an evaluation as a fixed-width text table for the terminal.
public enum ResultsTable {
    public static func render(_ metrics: [VariantMetrics]) -> String {
        let header = ["variant", "n", "accuracy (95% CI)", "Δ vs baseline (95% CI)", "SER", "NEG/POS", "McNemar p"]
        var rows = [header]
        for m in metrics {
            let accuracy = String(format: "%.1f%% [%.1f, %.1f]", 100 * m.accuracy, 100 * m.accuracyInterval.lower, 100 * m.accuracyInterval.upper)
            guard let c = m.comparison else {
                rows.append([m.variant, "\(m.count)", accuracy, "—", "—", "—", "—"])
                continue
            }
            let delta = String(format: "%+.1f [%+.1f, %+.1f]", 100 * c.delta, 100 * c.deltaInterval.lower, 100 * c.deltaInterval.upper)
            let ser = c.sideEffectRatio.map { String(format: "%.2f", $0) } ?? "n/a"
            let p = c.mcnemarP.map { $0 < 1e-4 ? String(format: "%.1e", $0) : String(format: "%.4f", $0) } ?? "n/a"
            rows.append([m.variant, "\(m.count)", accuracy, delta, ser, "\(c.negative)/\(c.positive)", p])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.enumerated().map { index, row in
            let line = row.enumerated().map { column, cell in
                cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            return index == 0 ? line + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") : line
        }.joined(separator: "\n")
    }
}
