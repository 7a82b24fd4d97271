import CorrSteer
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// The report sections a reader needs to trust a run: broken answers, P's validation, every layer's
/// candidates, the spread of r, and accuracy per category.
final class ReportSectionsTests: XCTestCase {
    private func candidate(_ feature: Int, r: Double) -> FeatureCandidate {
        FeatureCandidate(feature: feature, correlation: r, score: abs(r), coefficient: 2.5, frequency: 10,
                         frequencyCorrect: 12, frequencyIncorrect: 8, coefficientSuccess: 2.5, coefficientFailure: 1)
    }

    private func metrics(_ name: String, accuracy: Double, negative: Int, positive: Int) -> VariantMetrics {
        let baseline: [PredictionRecord] = (0..<10).map {
            PredictionRecord(id: "\($0)", prompt: "p", output: "o", predicted: "x", gold: "x", reward: $0 < 5 ? 1 : 0)
        }
        var steered = baseline
        // A changed reward comes with a changed answer: the comparison counts answers that changed.
        for i in 0..<negative { steered[i].reward = 0; steered[i].predicted = "y" }
        for i in 0..<positive { steered[5 + i].reward = 1; steered[5 + i].predicted = "y" }
        // Never empty here, so compute cannot throw.
        return try! VariantMetrics.compute(variant: name, predictions: name == "baseline" ? baseline : steered,
                                      baseline: name == "baseline" ? nil : baseline, bootstrap: BootstrapOptions(resamples: 50))
    }

    private func input(brokenS: Int) -> ReportInput {
        var input = ReportInput(title: "t")
        input.variants = [metrics("baseline", accuracy: 0.5, negative: 0, positive: 0), metrics("S", accuracy: 0.6, negative: brokenS, positive: 2)]
        input.layers = [LayerCandidates(layer: 3, site: "blocks.3.hook_resid_post", topPositive: [candidate(7, r: 0.4), candidate(9, r: 0.3)],
                                        topNegative: [candidate(11, r: -0.35)], selected: candidate(7, r: 0.4), warnings: [])]
        input.histograms = [CorrelationHistogram(layer: 3, correlations: [0.4, 0.3, -0.35, 0.01, -0.02, 0, .nan])]
        input.histograms[0].neverActive = 2
        input.pValidation = PValidationSummary(baseline: 0.5, layers: [.init(layer: 3, accuracy: 0.55, kept: true),
                                                                       .init(layer: 4, accuracy: 0.45, kept: false)])
        input.categories = CategoryAccuracy.group(
            predictions: ["baseline": [PredictionRecord(id: "a", prompt: "", output: "", predicted: "", gold: "", reward: 1),
                                       PredictionRecord(id: "b", prompt: "", output: "", predicted: "", gold: "", reward: 0)]],
            categoryOf: ["a": "algebra", "b": "biology"])
        return input
    }

    func testHistogramCountsEveryFeature() {
        let h = CorrelationHistogram(layer: 1, correlations: [0.4, 0.3, -0.35, 0.01, -0.02, 0, .nan], bins: 8)
        XCTAssertEqual(h.features, 7)
        XCTAssertEqual(h.undefined, 1)
        XCTAssertEqual(h.counts.reduce(0, +), 6)
        XCTAssertEqual(h.bound, 0.4)
        XCTAssertEqual(h.counts.last, 1, "the largest r falls into the last bin")
        XCTAssertEqual(h.atLeastTenth, 3)
        XCTAssertEqual(h.atLeastFifth, 3)
    }

    func testMarkdownSections() {
        let markdown = ReportMarkdown.render(input(brokenS: 1))
        XCTAssertTrue(markdown.contains("## Broken answers\n\nS: 1 answer became wrong"), markdown)
        XCTAssertTrue(markdown.contains("## CorrSteer-P validation"))
        XCTAssertTrue(markdown.contains("| 3 | 55.00 % | +5.00 pp | yes |"), markdown)
        XCTAssertTrue(markdown.contains("| 4 | 45.00 % | -5.00 pp | no |"), markdown)
        XCTAssertTrue(markdown.contains("### Layer 3"))
        XCTAssertTrue(markdown.contains("| positive | 2 | 9 | 0.3000 | 2.5 |"), markdown)
        XCTAssertTrue(markdown.contains("| negative | 1 | 11 | -0.3500 | 2.5 |"), markdown)
        XCTAssertTrue(markdown.contains("## Distribution of r over all features"))
        XCTAssertTrue(markdown.contains("| 3 | 7 | -0.3500 | 0.4000 | 3 | 3 | 2 |"), markdown)
        XCTAssertTrue(markdown.contains("| algebra | 1 | 100.00 % | – |"), markdown)
        XCTAssertTrue(ReportMarkdown.render(input(brokenS: 0)).contains("## Broken answers\n\nNo answer became wrong.\n"))
    }

    func testHTMLSectionsAreWellFormed() throws {
        let html = ReportHTML.render(input(brokenS: 0))
        let parser = XMLParser(data: Data(html.utf8))
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "?") at line \(parser.lineNumber)")
        XCTAssertTrue(html.contains("<p>No answer became wrong.</p>"))
        XCTAssertTrue(html.contains("CorrSteer-P validation") && html.contains("Accuracy per category"))
        XCTAssertTrue(html.contains("<summary>layer 3: 2 positive, 1 negative</summary>"), html)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 4, "accuracy, P validation, top r, one histogram")
    }

    func testProgressLine() {
        let bar = ProgressReporter.line(label: "collect mmlu", done: 140, total: 400, startCount: 0, elapsed: 60,
                                        correct: 58, bar: true)
        XCTAssertEqual(bar, "collect mmlu [#######·············]  35%  140/400  2.33 samples/s  elapsed 1m00s  ETA 1m51s  accuracy 41.4%")
        let log = ProgressReporter.line(label: "evaluate S", done: 400, total: 400, startCount: 100, elapsed: 10, correct: nil, bar: false)
        XCTAssertEqual(log, "evaluate S 100%  400/400  30.00 samples/s  elapsed 10s")
        XCTAssertEqual((0...400).map { ProgressReporter.tenth(done: $0, total: 400) }.reduce(into: Set<Int>()) { $0.insert($1) }.count, 11,
                       "one log line per 10 %: tenths 0 to 10")
    }
}
