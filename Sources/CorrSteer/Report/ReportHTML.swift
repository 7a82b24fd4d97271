import Foundation

/// `report.html`: one self-contained page (inline CSS and SVG; no scripts, fonts, images or style sheets
/// from anywhere). The markup is XHTML-compatible, so any XML parser reads it; the only URLs are
/// Neuronpedia links in `<a href>`.
public enum ReportHTML {
    public static func render(_ input: ReportInput) -> String {
        var body = "<h1>CorrSteer report: \(escape(input.title))</h1>\n"

        if !input.facts.isEmpty {
            body += "<h2>Run</h2>\n<table class=\"facts\"><tbody>\n"
            for fact in input.facts { body += "<tr><th>\(escape(fact.label))</th><td>\(escape(fact.value))</td></tr>\n" }
            body += "</tbody></table>\n"
        }

        if !input.variants.isEmpty {
            body += "<h2>Results</h2>\n"
            body += table(headers: ReportFormat.resultHeaders, rows: input.variants.map { v in
                [escape(v.variant), String(v.count), escape(ReportFormat.accuracy(v.accuracy, v.accuracyInterval))]
                    + ReportFormat.comparisonCells(v).map(escape)
            })
            if let bootstrap = input.variants.first?.bootstrap {
                body += "<p class=\"note\">Accuracy = mean reward. Intervals: percentile bootstrap, \(bootstrap.resamples) resamples, "
                    + "seed \(bootstrap.seed); Δ is paired by sample ID. SER = NEG / (POS + NEG) over answers that changed; "
                    + "McNemar: exact two-sided test on binary rewards.</p>\n"
            }
            let notes = input.variants.flatMap { v in v.notes.map { "\(v.variant): \($0)" } }
            if !notes.isEmpty {
                body += "<ul class=\"note\">" + notes.map { "<li>\(escape($0))</li>" }.joined() + "</ul>\n"
            }
            let bars = input.variants.map { v in
                ReportSVG.Bar(label: v.variant, value: v.accuracy * 100,
                              tooltip: "\(v.variant): \(ReportFormat.accuracy(v.accuracy, v.accuracyInterval))",
                              interval: Interval(lower: v.accuracyInterval.lower * 100, upper: v.accuracyInterval.upper * 100))
            }
            body += "<figure>" + ReportSVG.barChart(bars, title: "Accuracy (%) with 95 % bootstrap interval",
                                                    valueLabel: { String(format: "%.0f", $0) }, width: max(480, 70 * bars.count)) + "</figure>\n"
            let compared = input.variants.filter { $0.comparison != nil }
            if compared.contains(where: { ComparisonMethod(rawValue: $0.variant) != nil }) {
                let deltas = compared.map { v in
                    ReportSVG.Bar(label: v.variant, value: v.comparison!.delta * 100,
                                  tooltip: "\(v.variant): Δ \(ReportFormat.delta(v.comparison!.delta, v.comparison!.deltaInterval))",
                                  interval: Interval(lower: v.comparison!.deltaInterval.lower * 100, upper: v.comparison!.deltaInterval.upper * 100))
                }
                body += "<figure>" + ReportSVG.barChart(deltas, title: "Δ accuracy vs baseline (pp), paired 95 % interval",
                                                        valueLabel: { String(format: "%.0f", $0) }, width: max(480, 70 * deltas.count)) + "</figure>\n"
                let sers = compared.map { v in
                    ReportSVG.Bar(label: v.variant, value: v.comparison!.sideEffectRatio ?? 0,
                                  tooltip: "\(v.variant): SER \(ReportFormat.ser(v.comparison!.sideEffectRatio)) (NEG \(v.comparison!.negative) / POS \(v.comparison!.positive))",
                                  interval: nil)
                }
                body += "<figure>" + ReportSVG.barChart(sers, title: "Side Effect Ratio NEG / (POS + NEG) (undefined shown as 0)",
                                                        valueLabel: { String(format: "%.1f", $0) }, width: max(480, 70 * sers.count)) + "</figure>\n"
                body += "<h3>What each comparison controls for</h3>\n<ul>"
                    + ReportFormat.comparisonSentences(input.variants).map { "<li><b>\(escape($0.0))</b>: \(escape($0.1))</li>" }.joined()
                    + "</ul>\n"
            }
        }

        if !input.omitted.isEmpty {
            body += "<p class=\"note\">Not shown: \(escape(input.omitted.joined(separator: ", "))), evaluated earlier on other test items than the current baseline; evaluate them again to include them.</p>\n"
        }

        if let seeds = input.seeds {
            body += "<h2>Across \(seeds.controlSeeds.count) seeds</h2>\n"
            body += "<p class=\"note\">Each seed re-deals the held-out items between validation and test and draws new random controls; "
                + "the train split and the selected features stay the same. sd is the sample standard deviation over seeds.</p>\n"
            body += table(headers: ReportFormat.seedHeaders, rows: ReportFormat.seedRows(seeds).map { $0.map(escape) })
        }

        if let broken = ReportFormat.brokenSummary(input.variants) {
            body += "<h2>Broken answers</h2>\n"
            body += broken.count == 1 ? "<p>\(escape(broken[0]))</p>\n"
                : "<ul>" + broken.map { "<li>\(escape($0))</li>" }.joined() + "</ul>\n"
        }

        if !input.categories.isEmpty {
            let names = input.variants.map(\.variant)
            body += "<h2>Accuracy per category</h2>\n"
            body += table(headers: ["category", "n"] + names, rows: input.categories.map { c in
                [escape(c.category), String(c.count)] + names.map { c.accuracies[$0].map { ReportFormat.percent($0) + " %" } ?? "–" }
            })
        }

        if let validation = input.pValidation {
            body += "<h2>CorrSteer-P validation</h2>\n"
            body += "<p class=\"note\">Each layer's feature alone on the validation split; P keeps the layers that beat the "
                + "unsteered accuracy" + (validation.baseline.map { " (\(ReportFormat.percent($0)) %)" } ?? "") + ".</p>\n"
            var bars: [ReportSVG.Bar] = []
            if let baseline = validation.baseline {
                bars.append(ReportSVG.Bar(label: "base", value: baseline * 100, tooltip: "unsteered: \(ReportFormat.percent(baseline)) %", interval: nil))
            }
            bars += validation.layers.map { l in
                ReportSVG.Bar(label: String(l.layer), value: l.accuracy * 100,
                              tooltip: "layer \(l.layer): \(ReportFormat.percent(l.accuracy)) %\(l.kept ? " (kept)" : "")", interval: nil)
            }
            body += "<figure>" + ReportSVG.barChart(bars, title: "Validation accuracy (%): unsteered, then each layer alone",
                                                    valueLabel: { String(format: "%.0f", $0) }) + "</figure>\n"
            body += table(headers: ["layer", "validation accuracy", "Δ vs baseline", "kept"], rows: validation.layers.map { l in
                [String(l.layer), ReportFormat.percent(l.accuracy) + " %",
                 validation.baseline.map { ReportFormat.signedPoints(l.accuracy - $0) + " pp" } ?? "–", l.kept ? "yes" : "no"]
            })
        }

        if !input.layers.isEmpty {
            body += "<h2>Top correlation per layer</h2>\n"
            let bars = input.layers.map { layer -> ReportSVG.Bar in
                let top = ReportFormat.topCandidate(layer)
                let tooltip = top.map { "layer \(layer.layer), feature \($0.feature): r = \(ReportFormat.correlation($0.correlation))" }
                    ?? "layer \(layer.layer): no candidate"
                return ReportSVG.Bar(label: String(layer.layer), value: top?.correlation ?? 0, tooltip: tooltip, interval: nil)
            }
            body += "<figure>" + ReportSVG.barChart(bars, title: "Correlation r of each layer's selected feature",
                                                    valueLabel: { String(format: "%.2f", $0) }) + "</figure>\n"
            body += table(headers: ["layer", "site", "feature", "r", "coefficient", "active %", "Neuronpedia"], rows: input.layers.map { layer in
                guard let top = ReportFormat.topCandidate(layer) else {
                    return [String(layer.layer), escape(layer.site), "–", "–", "–", "–", escape(layer.warnings.joined(separator: "; "))]
                }
                return [String(layer.layer), escape(layer.site), String(top.feature), ReportFormat.correlation(top.correlation),
                        ReportFormat.coefficient(top.coefficient), String(format: "%.1f", top.frequency),
                        link(input.neuronpediaURL(layer: layer.layer, feature: top.feature))]
            })
        }

        if input.layers.contains(where: { !($0.topPositive.isEmpty && $0.topNegative.isEmpty) }) {
            body += "<h2>Candidates per layer</h2>\n"
            for layer in input.layers where !(layer.topPositive.isEmpty && layer.topNegative.isEmpty) {
                let negatives = layer.topNegative.isEmpty ? "" : ", \(layer.topNegative.count) negative"
                body += "<details><summary>layer \(layer.layer): \(layer.topPositive.count) positive\(negatives)</summary>\n"
                let rows = [("positive", layer.topPositive), ("negative", layer.topNegative)].flatMap { polarity, list in
                    list.enumerated().map { rank, c in
                        [polarity, String(rank + 1), String(c.feature), ReportFormat.correlation(c.correlation),
                         ReportFormat.coefficient(c.coefficient), String(format: "%.1f", c.frequency),
                         link(input.neuronpediaURL(layer: layer.layer, feature: c.feature))]
                    }
                }
                body += table(headers: ReportMarkdown.candidateHeaders, rows: rows)
                body += "</details>\n"
            }
        }

        if !input.histograms.isEmpty {
            body += "<h2>Distribution of r over all features</h2>\n"
            body += "<p class=\"note\">Per layer, how many features have each correlation with the reward (bar height on a "
                + "log scale; bins symmetric around 0). A useful feature stands out in a tail.</p>\n<div class=\"multiples\">"
            body += input.histograms.map { "<figure>" + ReportSVG.histogram($0) + "</figure>" }.joined()
            body += "</div>\n"
            body += table(headers: ReportFormat.histogramHeaders(), rows: input.histograms.map(ReportFormat.histogramRow))
        }

        if !input.plans.isEmpty {
            body += "<h2>Selected features</h2>\n"
            for plan in input.plans {
                body += "<h3>\(escape(plan.name))</h3>\n"
                if plan.choices.isEmpty { body += "<p>No feature (steering off).</p>\n"; continue }
                body += table(headers: ["layer", "site", "feature", "coefficient", "r", "Neuronpedia"], rows: plan.choices.map { c in
                    [String(c.layer), escape(c.site), String(c.feature), ReportFormat.coefficient(c.coefficient),
                     c.correlation.map(ReportFormat.correlation) ?? "–", link(input.neuronpediaURL(layer: c.layer, feature: c.feature))]
                })
            }
        }

        for examples in input.examples where !(examples.improved.isEmpty && examples.broken.isEmpty) {
            body += "<h2>Examples: \(escape(examples.variant)) vs baseline</h2>\n"
            for (title, items, cssClass) in [("Improved", examples.improved, "improved"), ("Broke", examples.broken, "broken")] where !items.isEmpty {
                body += "<h3>\(title)</h3>\n"
                for item in items {
                    body += "<div class=\"example \(cssClass)\"><p><strong>\(escape(item.id))</strong>: gold <code>\(escape(item.gold))</code>; "
                        + "baseline <code>\(escape(item.baselinePredicted))</code> (reward \(ReportFormat.coefficient(item.baselineReward))) → "
                        + "steered <code>\(escape(item.steeredPredicted))</code> (reward \(ReportFormat.coefficient(item.steeredReward)))</p>"
                        + "<details><summary>prompt and outputs</summary>"
                        + "<pre>\(escape(ReportFormat.truncated(item.prompt, 800)))</pre>"
                        + "<p>baseline output</p><pre>\(escape(ReportFormat.truncated(item.baselineOutput, 400)))</pre>"
                        + "<p>steered output</p><pre>\(escape(ReportFormat.truncated(item.steeredOutput, 400)))</pre>"
                        + "</details></div>\n"
                }
            }
        }

        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>CorrSteer report: \(escape(input.title))</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        \(body)</body>
        </html>

        """
    }

    static let style = """
    body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; color: #1f2328; }
    h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; } h3 { font-size: 1.05rem; }
    table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
    th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
    thead th { background: #f6f8fa; }
    table.facts th { background: #f6f8fa; font-weight: 600; }
    .note { color: #57606a; font-size: 0.85rem; }
    figure { margin: 1rem 0; }
    .multiples { display: flex; flex-wrap: wrap; gap: 0.5rem; } .multiples figure { margin: 0; }
    details { margin: 0.3rem 0; } summary { cursor: pointer; }
    svg.chart { max-width: 100%; height: auto; }
    svg .bar { fill: #4078c0; } svg .bar.negative { fill: #c0504d; }
    svg .grid { stroke: #eaeef2; stroke-width: 1; } svg .axis { stroke: #57606a; stroke-width: 1; }
    svg .whisker { stroke: #1f2328; stroke-width: 1.2; }
    svg .tick { font-size: 11px; fill: #57606a; } svg .chart-title { font-size: 13px; font-weight: 600; fill: #1f2328; }
    .example { border-left: 4px solid #d0d7de; padding: 0.2rem 0.8rem; margin: 0.6rem 0; }
    .example.improved { border-color: #2da44e; } .example.broken { border-color: #cf222e; }
    pre { background: #f6f8fa; padding: 0.5rem; white-space: pre-wrap; word-break: break-word; font-size: 0.82rem; }
    """

    static func table(headers: [String], rows: [[String]]) -> String {
        var out = "<table><thead><tr>" + headers.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for row in rows { out += "<tr>" + row.map { "<td>\($0)</td>" }.joined() + "</tr>\n" }
        return out + "</tbody></table>\n"
    }

    static func link(_ url: String?) -> String {
        url.map { "<a href=\"\(escape($0))\">open</a>" } ?? ""
    }

    /// Escapes text for element content and attribute values, and replaces characters XML forbids.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let value = scalar.value
                let allowed = (value >= 0x20 && value <= 0xD7FF) || (value >= 0xE000 && value <= 0xFFFD) || value >= 0x10000
                if allowed { out.unicodeScalars.append(scalar) } else { out += "\u{FFFD}" }
            }
        }
        return out
    }
}
