import Foundation

/// The selected feature of each layer (or one layer's candidates) as a text table.
public enum FeatureListing {
    public static func render(_ candidates: FeatureCandidates, layer: Int?) -> String {
        var rows = [["layer", "site", "rank", "feature", "r", "coefficient", "active %", "link"]]
        for entry in candidates.layers where layer == nil || entry.layer == layer {
            let list = layer == nil ? (entry.selected.map { [$0] } ?? []) : entry.topPositive + entry.topNegative
            if list.isEmpty { rows.append(["\(entry.layer)", entry.site, "—", "none", "", "", "", entry.warnings.first ?? ""]) }
            for (rank, c) in list.enumerated() {
                rows.append(["\(entry.layer)", entry.site, "\(rank + 1)", "\(c.feature)", String(format: "%.4f", c.correlation),
                             String(format: "%.4g", c.coefficient), String(format: "%.1f", c.frequency), c.neuronpediaURL ?? ""])
            }
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
