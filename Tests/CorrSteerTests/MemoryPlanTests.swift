import CorrSteer
import Foundation
import XCTest

/// How a collection holds its SAE encoders: the choice from the sizes, and that the streamed plan
/// gathers exactly the statistics of holding every encoder.
final class MemoryPlanTests: XCTestCase {
    let gib = 1 << 30

    func sizes(model: Int, encoders: [Int]) -> CollectionMemoryPlan.Sizes {
        .init(modelBytes: model, encoderBytes: encoders, statisticsBytes: gib / 4, capturedRowsPerBatch: 8 * 33,
              hiddenSize: 4096, widestSAE: 32768)
    }

    func testChoosesResidentWhenEverythingFitsAndStreamsOtherwise() throws {
        let budget = 22 * gib
        let small = try CollectionMemoryPlan.choose(.auto, sizes: sizes(model: 5 * gib, encoders: Array(repeating: gib / 4, count: 26)), budgetBytes: budget)
        XCTAssertEqual(small.residency, .resident)
        XCTAssertLessThanOrEqual(small.estimatedPeakBytes, budget)

        // Llama-3.1-8B bf16 with 31 Llama Scope 32K encoders in f32: 16 GB + 16 GB.
        let eightB = sizes(model: 16_060_000_000, encoders: Array(repeating: 32768 * 4096 * 4, count: 31))
        let streamed = try CollectionMemoryPlan.choose(.auto, sizes: eightB, budgetBytes: budget)
        XCTAssertEqual(streamed.residency, .streamed)
        XCTAssertLessThanOrEqual(streamed.estimatedPeakBytes, budget)
        XCTAssertEqual(streamed.largestEncoderBytes, 32768 * 4096 * 4)

        XCTAssertThrowsError(try CollectionMemoryPlan.choose(.resident, sizes: eightB, budgetBytes: budget)) { error in
            XCTAssertTrue("\(error)".contains("use memory plan streamed"), "\(error)")
            XCTAssertEqual((error as? RunError)?.message.settings, [.memoryPlan])
        }
        // A model that alone exceeds the budget: refused before anything starts, with what would help.
        XCTAssertThrowsError(try CollectionMemoryPlan.choose(.auto, sizes: sizes(model: 30 * gib, encoders: [gib]), budgetBytes: budget)) { error in
            XCTAssertEqual((error as? RunError)?.message.settings, [.batchSize, .maxNewTokens, .layers], "\(error)")
        }
    }

    /// The demo collected with every encoder resident and with one encoder at a time, several rows per
    /// sample (all positions, mean pooling, up to four new tokens): the same bits in every statistics file.
    func testStreamedPlanGathersTheSameStatistics() throws {
        let scratch = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bundle = try DemoBundle(root: CorrSteerFixtures.packageRoot.appendingPathComponent("Sources/CorrSteer/Resources/demo"))
        var configuration = bundle.configuration
        configuration.samples = 40
        configuration.positions = .all
        configuration.pool = .mean
        configuration.steerPool = .max
        configuration.batchSize = 6
        let context = try ModelContext.load(configuration.model)
        var loaded: [CollectionMemoryPlan.Residency: (FeatureStatistics, ControlStatistics)] = [:]
        for request in [CollectionMemoryPlan.Request.resident, .streamed] {
            let run = RunDirectory(scratch.appendingPathComponent(request.rawValue))
            var collection = CollectionRun(configuration: configuration, run: run)
            collection.memoryPlan = request
            var chosen: CollectionMemoryPlan?
            collection.onMemoryPlan = { chosen = $0 }
            try collection.execute(context: context)
            XCTAssertEqual(chosen?.residency.rawValue, request.rawValue)
            XCTAssertEqual(try RunManifest.load(from: run).memoryPlan?.residency.rawValue, request.rawValue)
            let checkpoint = try XCTUnwrap(try StatisticsCheckpoint.load(from: run))
            let statistics = try checkpoint.loadStatistics(in: run)
            let controls = try XCTUnwrap(try checkpoint.loadControls(in: run))
            XCTAssertEqual(statistics.keys.sorted(), [0, 1, 2, 3])
            loaded[chosen!.residency] = (statistics[2]!, controls)
            for layer in statistics.keys {
                let url = checkpoint.statisticsURL(in: run, layer: layer)
                if request == .streamed {
                    let resident = scratch.appendingPathComponent("resident/stats/\(checkpoint.folder)/layer_\(layer).safetensors")
                    XCTAssertEqual(try Data(contentsOf: url), try Data(contentsOf: resident), "layer \(layer): same bytes")
                }
            }
        }
        let (resident, streamed) = (try XCTUnwrap(loaded[.resident]), try XCTUnwrap(loaded[.streamed]))
        XCTAssertEqual(resident.0, streamed.0)
        XCTAssertEqual(resident.1, streamed.1)
        XCTAssertGreaterThan(resident.0.sampleCount, 0)
    }
}
