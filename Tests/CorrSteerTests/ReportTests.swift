import CorrSteer
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

final class ReportTests: XCTestCase {
    /// A run directory with features, plans and two evaluated variants built from the metrics fixture.
    func makeRun() throws -> RunDirectory {
        let run = RunDirectory(try CorrSteerFixtures.temporaryDirectory().appendingPathComponent("demo"))
        try run.create()
        let manifest: [String: Any] = [
            "model": "google/gemma-2-2b-it", "sae": "gemma-scope-2b-pt-res-canonical", "site": "blocks.{L}.hook_resid_post",
            "samples": 300, "timings": ["collection_seconds": 12.5, "samples_per_second": 24], "paper_compat": false,
            "layers": [2, 4, 9],
        ]
        try JSONSerialization.data(withJSONObject: manifest).write(to: run.manifest)
        var features = makeFeatures([makeLayer(2, r: 0.2), makeLayer(4, r: -0.45), makeLayer(9, r: 0.31)])
        features.neuronpedia = "gemma-2-2b/{L}-gemmascope-res-16k"
        let empty = LayerCandidates(layer: 11, site: "blocks.11.hook_resid_post", topPositive: [], topNegative: [], selected: nil,
                                    warnings: ["no feature with positive correlation: layer has no candidate"])
        features.layers.append(empty)
        try features.save(to: run.features)
        let plan = try SteeringPlan.build(name: "A", strategy: .allLayers, choices: features.everyLayer(skippingEmptyLayers: true),
                                          decoderRows: SteeringPlanTests.rows)
        try plan.save(to: run.plan("A"))
        let baseline = try EvaluationMetricsTests.predictions("baseline")
        var steered = try EvaluationMetricsTests.predictions("steered")
        // Text that must be escaped, including a character XML forbids, on an item the report shows.
        let rewards = Dictionary(uniqueKeysWithValues: baseline.map { ($0.id, $0.reward) })
        let shown = try XCTUnwrap(steered.firstIndex { $0.reward != rewards[$0.id] })
        steered[shown].prompt = "<script>alert('x') & \"quotes\"</script>\u{1} https://example.com/x.png"
        steered[shown].output = "]]> <b>bold</b>"
        try PredictionsFile.write(baseline, to: run.predictions(variant: "baseline"))
        try PredictionsFile.write(steered, to: run.predictions(variant: "A"))
        let options = BootstrapOptions(resamples: 200)
        try VariantMetrics.compute(variant: "baseline", predictions: baseline, bootstrap: options).save(to: run.metrics(variant: "baseline"))
        // No metrics.json for A: the report computes it from the predictions.
        return run
    }

    func testHTMLIsWellFormedSelfContainedAndHoldsCharts() throws {
        let run = try makeRun()
        defer { try? FileManager.default.removeItem(at: run.url.deletingLastPathComponent()) }
        let input = try RunReport.load(runDirectory: run, bootstrap: BootstrapOptions(resamples: 200))
        XCTAssertEqual(input.variants.map(\.variant), ["baseline", "A"])
        XCTAssertEqual(input.plans.map(\.name), ["A"])
        XCTAssertTrue(input.facts.contains(.init("timings.samples_per_second", "24")))
        XCTAssertTrue(input.facts.contains(.init("model", "google/gemma-2-2b-it")))
        XCTAssertTrue(input.facts.contains(.init("paper_compat", "false")))
        XCTAssertTrue(input.facts.contains(.init("layers", "2, 4, 9")))
        XCTAssertEqual(input.examples.first?.variant, "A")
        try RunReport.write(input, to: run)

        let html = try String(contentsOf: run.reportHTML, encoding: .utf8)
        let parser = XMLParser(data: Data(html.utf8))
        let collector = ElementCollector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "report.html is not well-formed: \(parser.parserError.map { "\($0)" } ?? "?") at line \(parser.lineNumber)")
        XCTAssertEqual(collector.elements.filter { $0 == "svg" }.count, 2, "accuracy and per-layer correlation charts")
        XCTAssertGreaterThanOrEqual(collector.elements.filter { $0 == "rect" }.count, 4 + 2)
        XCTAssertFalse(collector.elements.contains("script"))
        XCTAssertFalse(collector.elements.contains("link"))
        XCTAssertFalse(collector.elements.contains("img"))
        XCTAssertTrue(collector.attributes.allSatisfy { $0.name != "src" }, "no src= attributes")
        // Every URL is a Neuronpedia link in an <a href>.
        for (element, name, value) in collector.attributes where value.contains("http") {
            XCTAssertEqual(element, "a")
            XCTAssertEqual(name, "href")
            XCTAssertTrue(value.hasPrefix("https://www.neuronpedia.org/gemma-2-2b/"), value)
        }
        XCTAssertFalse(html.contains("@import"))
        XCTAssertFalse(html.contains("url("))
        XCTAssertTrue(html.contains("https://www.neuronpedia.org/gemma-2-2b/9-gemmascope-res-16k/90"))
        XCTAssertTrue(collector.text.contains("<script>alert('x') & \"quotes\"</script>\u{FFFD} https://example.com/x.png"),
                      "escaped prompt text survives as text")
        XCTAssertTrue(html.contains("Improved") && html.contains("Broke"))
    }

    func testMarkdownReport() throws {
        let run = try makeRun()
        defer { try? FileManager.default.removeItem(at: run.url.deletingLastPathComponent()) }
        let input = try RunReport.load(runDirectory: run, bootstrap: BootstrapOptions(resamples: 200))
        let markdown = ReportMarkdown.render(input)
        let a = try XCTUnwrap(input.variants.last)
        let c = try XCTUnwrap(a.comparison)
        let row = "| A | 157 | \(String(format: "%.2f", a.accuracy * 100)) % ["
        XCTAssertTrue(markdown.contains(row), markdown)
        XCTAssertTrue(markdown.contains("| \(c.negative) / \(c.positive) |"))
        XCTAssertTrue(markdown.contains("| 11 | blocks.11.hook_resid_post | – |"))
        XCTAssertTrue(markdown.contains("[open](https://www.neuronpedia.org/gemma-2-2b/4-gemmascope-res-16k/40)"))
        XCTAssertTrue(markdown.contains("## Examples: A vs baseline"))
    }

    func testMissingRunDirectoryIsAnError() {
        let error = thrownError { try RunReport.load(runDirectory: RunDirectory(path: "/nonexistent/run")) }
        XCTAssertEqual("\(error!)", "/nonexistent/run: cannot read: no such run directory")
    }
}

/// Records element names, attributes and text of a parsed document.
final class ElementCollector: NSObject, XMLParserDelegate {
    var elements: [String] = []
    var attributes: [(element: String, name: String, value: String)] = []
    var text = ""

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes attributeDict: [String: String] = [:]) {
        elements.append(elementName)
        for (name, value) in attributeDict { attributes.append((elementName, name, value)) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}
