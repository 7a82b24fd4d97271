import Foundation

/// `report.md`: the same content as the HTML report, as GitHub-flavoured Markdown tables.
public enum ReportMarkdown {
    public static func render(_ input: ReportInput) -> String {
        var out = "# CorrSteer report: \(inline(input.title))\n\n"

        if !input.facts.isEmpty {
            out += "## Run\n\n"
            out += table(headers: ["", ""], rows: input.facts.map { [$0.label, $0.value] })
        }

        if !input.variants.isEmpty {
            out += "## Results\n\n"
            out += table(headers: ReportFormat.resultHeaders, rows: input.variants.map { v in
                [v.variant, String(v.count), ReportFormat.accuracy(v.accuracy, v.accuracyInterval)] + ReportFormat.comparisonCells(v)
            })
            if let bootstrap = input.variants.first?.bootstrap {
                out += "Accuracy = mean reward. Intervals: percentile bootstrap, \(bootstrap.resamples) resamples, seed \(bootstrap.seed); "
                    + "Δ is paired by sample ID. SER = NEG / (POS + NEG) over answers that changed; McNemar: exact two-sided test on binary rewards.\n\n"
            }
            let notes = input.variants.flatMap { v in v.notes.map { "\(v.variant): \($0)" } }
            for note in notes { out += "- \(inline(note))\n" }
            if !notes.isEmpty { out += "\n" }
            let sentences = ReportFormat.comparisonSentences(input.variants)
            if !sentences.isEmpty {
                out += "What each comparison controls for:\n\n"
                for (name, sentence) in sentences { out += "- **\(inline(name))**: \(inline(sentence))\n" }
                out += "\n"
            }
        }

        if !input.omitted.isEmpty {
            out += "Not shown: \(input.omitted.map(inline).joined(separator: ", ")), evaluated earlier on other test items than the current baseline; evaluate them again to include them.\n\n"
        }

        if let seeds = input.seeds {
            out += "## Across \(seeds.controlSeeds.count) seeds\n\n"
            out += "Each seed re-deals the held-out items between validation and test and draws new random controls; "
                + "the train split and the selected features stay the same. sd is the sample standard deviation over seeds.\n\n"
            out += table(headers: ReportFormat.seedHeaders, rows: ReportFormat.seedRows(seeds))
        }

        if let broken = ReportFormat.brokenSummary(input.variants) {
            out += "## Broken answers\n\n"
            for line in broken { out += (broken.count == 1 ? "" : "- ") + inline(line) + "\n" }
            out += "\n"
        }

        if !input.categories.isEmpty {
            let names = input.variants.map(\.variant)
            out += "## Accuracy per category\n\n"
            out += table(headers: ["category", "n"] + names, rows: input.categories.map { c in
                [c.category, String(c.count)] + names.map { c.accuracies[$0].map { ReportFormat.percent($0) + " %" } ?? "–" }
            })
        }

        if let validation = input.pValidation {
            out += "## CorrSteer-P validation\n\n"
            out += "Each layer's feature alone on the validation split; P keeps the layers that beat the unsteered accuracy"
                + (validation.baseline.map { " (\(ReportFormat.percent($0)) %)" } ?? "") + ".\n\n"
            out += table(headers: ["layer", "validation accuracy", "Δ vs baseline", "kept"], rows: validation.layers.map { l in
                [String(l.layer), ReportFormat.percent(l.accuracy) + " %",
                 validation.baseline.map { ReportFormat.signedPoints(l.accuracy - $0) + " pp" } ?? "–", l.kept ? "yes" : "no"]
            })
        }

        if !input.layers.isEmpty {
            out += "## Top correlation per layer\n\n"
            out += table(headers: ["layer", "site", "feature", "r", "coefficient", "active %", "Neuronpedia"], rows: input.layers.map { layer in
                guard let top = ReportFormat.topCandidate(layer) else { return [String(layer.layer), layer.site, "–", "–", "–", "–", ""] }
                return [String(layer.layer), layer.site, String(top.feature), ReportFormat.correlation(top.correlation),
                        ReportFormat.coefficient(top.coefficient), String(format: "%.1f", top.frequency),
                        link(input.neuronpediaURL(layer: layer.layer, feature: top.feature))]
            })
        }

        if input.layers.contains(where: { !($0.topPositive.isEmpty && $0.topNegative.isEmpty) }) {
            out += "## Candidates per layer\n\n"
            for layer in input.layers where !(layer.topPositive.isEmpty && layer.topNegative.isEmpty) {
                out += "### Layer \(layer.layer)\n\n"
                out += table(headers: candidateHeaders, rows: candidateRows(layer, input: input))
            }
        }

        if !input.histograms.isEmpty {
            out += "## Distribution of r over all features\n\n"
            out += table(headers: ReportFormat.histogramHeaders(), rows: input.histograms.map(ReportFormat.histogramRow))
        }

        if !input.plans.isEmpty {
            out += "## Selected features\n\n"
            for plan in input.plans {
                out += "### \(inline(plan.name))\n\n"
                if plan.choices.isEmpty { out += "No feature (steering off).\n\n"; continue }
                out += table(headers: ["layer", "site", "feature", "coefficient", "r", "Neuronpedia"], rows: plan.choices.map { c in
                    [String(c.layer), c.site, String(c.feature), ReportFormat.coefficient(c.coefficient),
                     c.correlation.map(ReportFormat.correlation) ?? "–", link(input.neuronpediaURL(layer: c.layer, feature: c.feature))]
                })
            }
        }

        for examples in input.examples where !(examples.improved.isEmpty && examples.broken.isEmpty) {
            out += "## Examples: \(inline(examples.variant)) vs baseline\n\n"
            for (title, items) in [("Improved", examples.improved), ("Broke", examples.broken)] where !items.isEmpty {
                out += "### \(title)\n\n"
                for item in items {
                    out += "- **\(inline(item.id))**: gold `\(code(item.gold))`; baseline `\(code(item.baselinePredicted))` "
                        + "(reward \(ReportFormat.coefficient(item.baselineReward))) → steered `\(code(item.steeredPredicted))` "
                        + "(reward \(ReportFormat.coefficient(item.steeredReward)))\n\n"
                    out += fenced("prompt", ReportFormat.truncated(item.prompt, 800))
                    out += fenced("baseline output", ReportFormat.truncated(item.baselineOutput, 400))
                    out += fenced("steered output", ReportFormat.truncated(item.steeredOutput, 400))
                }
            }
        }
        return out
    }

    static let candidateHeaders = ["polarity", "rank", "feature", "r", "coefficient", "active %", "Neuronpedia"]

    static func candidateRows(_ layer: LayerCandidates, input: ReportInput) -> [[String]] {
        [("positive", layer.topPositive), ("negative", layer.topNegative)].flatMap { polarity, list in
            list.enumerated().map { rank, c in
                [polarity, String(rank + 1), String(c.feature), ReportFormat.correlation(c.correlation),
                 ReportFormat.coefficient(c.coefficient), String(format: "%.1f", c.frequency),
                 link(input.neuronpediaURL(layer: layer.layer, feature: c.feature))]
            }
        }
    }

    static func table(headers: [String], rows: [[String]]) -> String {
        var out = "| " + headers.map(inline).joined(separator: " | ") + " |\n"
        out += "|" + headers.map { _ in "---|" }.joined() + "\n"
        for row in rows { out += "| " + row.map(inline).joined(separator: " | ") + " |\n" }
        return out + "\n"
    }

    /// A table-safe single line: pipes escaped, line breaks as spaces.
    static func inline(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
    }

    static func code(_ text: String) -> String {
        inline(text).replacingOccurrences(of: "`", with: "'")
    }

    static func link(_ url: String?) -> String { url.map { "[open](\($0))" } ?? "" }

    /// An indented fenced block whose fence is longer than any backtick run inside it.
    static func fenced(_ label: String, _ text: String) -> String {
        var longest = 0, run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        let body = text.split(separator: "\n", omittingEmptySubsequences: false).map { "  \($0)" }.joined(separator: "\n")
        return "  \(label):\n\n  \(fence)text\n\(body)\n  \(fence)\n\n"
    }
}
