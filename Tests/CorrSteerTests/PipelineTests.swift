import CorrSteer
import Foundation
import XCTest

/// The library pipeline and its stages, driven directly (no binary): on the demo bundle each stage
/// leaves its files, the planted feature (scripts/demo/planted.json, never read by the pipeline) is
/// selected, and steering with it helps on held-out data.
final class PipelineTests: XCTestCase {
    private var scratch: URL!
    private let demo = CorrSteerFixtures.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo")

    override func setUpWithError() throws {
        scratch = try CorrSteerFixtures.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private var planted: (layer: Int, feature: Int) {
        get throws {
            let url = CorrSteerFixtures.packageRoot.appendingPathComponent("scripts/demo/planted.json")
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            return (try XCTUnwrap(object["layer"] as? Int), try XCTUnwrap(object["feature"] as? Int))
        }
    }

    func testStagesOneByOne() throws {
        let bundle = try DemoBundle(root: demo)
        let run = RunDirectory(scratch.appendingPathComponent("stages"))
        var configuration = bundle.configuration
        configuration.samples = 200
        let context = try ModelContext.load(configuration.model)

        // Progress goes where the caller says, as log lines (not a terminal): 10 %, 20 %, … 100 %.
        let lines = LineCollector()
        var collect = CollectionRun(configuration: configuration, run: run)
        collect.output = StageOutput(progress: { lines.append($0) }, progressIsTerminal: false, notice: { lines.append($0) })
        let summary = try collect.execute(context: context)
        XCTAssertEqual(summary.samples, 200)
        XCTAssertTrue(lines.all.last?.hasPrefix("collect custom 100%  200/200") ?? false, "\(lines.all)")
        let checkpoint = try XCTUnwrap(try StatisticsCheckpoint.load(from: run))
        XCTAssertTrue(checkpoint.complete)
        XCTAssertEqual(checkpoint.layers, [0, 1, 2, 3])
        let compute = try XCTUnwrap(try RunManifest.load(from: run).compute, "the manifest records how products were computed")
        XCTAssertTrue(["exact", "fast"].contains(compute.precision), compute.precision)
        XCTAssertGreaterThanOrEqual(compute.threads, 1)

        let candidates = try SelectionRun(run: run).execute()
        XCTAssertEqual(candidates.samples, 200)
        XCTAssertEqual(candidates.layers.map(\.layer), [0, 1, 2, 3])
        for plan in ["S", "A"] { XCTAssertTrue(FileManager.default.fileExists(atPath: run.plan(plan).path), plan) }
        let (layer, feature) = try planted
        XCTAssertEqual(candidates.layer(layer)?.topPositive.first?.feature, feature)

        var options = bundle.evaluationOptions
        options.strategies = [.allLayers]
        options.comparisons = []
        options.testLimit = 60
        var evaluate = EvaluationRun(run: run, options: options)
        let results = try evaluate.execute(context: context)
        XCTAssertEqual(results.map(\.variant), ["baseline", "A"])
        XCTAssertEqual(try PredictionsFile.read(from: run.predictions(variant: "A")).count, 60)
    }

    func testDemoPipelineFindsThePlantedFeatureAndSteeringHelps() throws {
        let bundle = try DemoBundle(root: demo)
        let run = RunDirectory(scratch.appendingPathComponent("demo"))
        let result = try bundle.execute(into: run)
        let (layer, feature) = try planted
        XCTAssertEqual(result.candidates.layer(layer)?.topPositive.first?.feature, feature)
        XCTAssertEqual(result.collection.samples, bundle.manifest.recommended.trainSamples)
        let accuracy = Dictionary(uniqueKeysWithValues: result.variants.map { ($0.variant, $0.metrics.accuracy) })
        XCTAssertEqual(Set(accuracy.keys), Set(["baseline", "S", "A", "P"] + ComparisonMethod.allCases.map(\.rawValue)))
        XCTAssertGreaterThanOrEqual(accuracy["A"] ?? 0, (accuracy["baseline"] ?? 1) + 0.10)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.reportHTML.path))

        // A second demo into the same folder replaces the run; the same inputs give the same results.
        let again = try bundle.execute(into: run)
        XCTAssertEqual(again.variants.map(\.metrics.accuracy), result.variants.map(\.metrics.accuracy))
    }

    func testPipelineRefusesAnExistingRunUnlessResumed() throws {
        let bundle = try DemoBundle(root: demo)
        let run = RunDirectory(scratch.appendingPathComponent("twice"))
        var pipeline = bundle.pipeline(into: run)
        pipeline.collection.samples = 40
        pipeline.evaluation.strategies = [.single]
        pipeline.evaluation.testLimit = 20
        _ = try pipeline.execute()
        XCTAssertThrowsError(try pipeline.execute()) { XCTAssertEqual(($0 as? RunError)?.message.settings, [.resume, .output], "\($0)") }
        pipeline.resume = true
        XCTAssertEqual(try pipeline.execute().collection.samples, 40)
    }
}

/// Lines a stage wrote, collected from any thread.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) { lock.lock(); lines.append(line.trimmingCharacters(in: .newlines)); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
