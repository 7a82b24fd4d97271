import CorrSteer
import Foundation
import Tensors
import WeightFiles
import XCTest

/// Parity with a numpy float64 port of the reference accumulator (scripts/fixtures/corrsteer_statistics.py).
final class FeatureStatisticsTests: XCTestCase {
    struct Inputs {
        let correlation: [Float]
        let coefficient: [Float]
        let rewards: [String: [Double]]
        let featureCount: Int
        let batch: Int
    }

    static let inputs: Inputs = {
        let file = try! SafeTensorsFile(url: CorrSteerFixtures.url("statistics_inputs.safetensors"))
        let x = try! file.tensor("x_corr")
        return Inputs(
            correlation: x.floats(), coefficient: try! file.tensor("x_coeff").floats(),
            rewards: ["binary": try! file.doubles("rewards_binary"), "graded": try! file.doubles("rewards_graded")],
            featureCount: x.shape[1], batch: 8)
    }()

    static let expected = try! CorrSteerFixtures.json("statistics_expected.json")

    static func scenario(_ name: String) -> JSONValue { expected["scenarios"]![name]! }

    /// Statistics over samples `range`, fed in batches of `batch`.
    static func collect(_ rewards: [Double], range: Range<Int>? = nil, batch: Int = 8,
                        binning: MutualInformationBinning? = .sorted) throws -> FeatureStatistics {
        let d = inputs.featureCount
        let range = range ?? 0 ..< rewards.count
        var statistics = FeatureStatistics(featureCount: d, options: .init(mutualInformationBinning: binning))
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + batch, range.upperBound)
            try statistics.add(correlationRows: Array(inputs.correlation[start * d ..< end * d]),
                               coefficientRows: Array(inputs.coefficient[start * d ..< end * d]),
                               rewards: Array(rewards[start ..< end]))
            start = end
        }
        return statistics
    }

    func testDerivedQuantitiesMatchNumpyReference() throws {
        for name in ["binary", "graded"] {
            let expected = Self.scenario(name)
            let sorted = try Self.collect(Self.inputs.rewards[name]!, binning: .sorted)
            let unsorted = try Self.collect(Self.inputs.rewards[name]!, binning: .paperUnsorted)
            let plain = try Self.collect(Self.inputs.rewards[name]!, binning: nil)

            XCTAssertEqual(sorted.sampleCount, Int64(expected["n"]!.int), name)
            XCTAssertEqual(sorted.successCount, Int64(expected["count_success"]!.int), name)
            XCTAssertEqual(sorted.failureCount, Int64(expected["count_failure"]!.int), name)
            assertClose(sorted.rewardSum, double(expected["sum_y"]), "\(name) sum_y")
            assertClose(Array(sorted.sum(.x)), doubles(expected["sum_x"]), "\(name) sum_x")
            assertClose(Array(sorted.sum(.xx)), doubles(expected["sum_xx"]), "\(name) sum_xx")
            assertClose(Array(sorted.sum(.xy)), doubles(expected["sum_xy"]), "\(name) sum_xy")
            XCTAssertEqual(sorted.count(.active).map(Int.init), ints(expected["count_active"]), name)
            XCTAssertEqual(sorted.count(.activeCorrect).map(Int.init), ints(expected["count_active_correct"]), name)
            XCTAssertEqual(sorted.count(.activeIncorrect).map(Int.init), ints(expected["count_active_incorrect"]), name)

            // r is bounded by 1, so an absolute 1e-12 is the meaningful tolerance near zero.
            assertClose(sorted.correlations(), doubles(expected["correlations"]), floor: 1e-3, "\(name) r")
            assertClose(sorted.coefficients(.mean), doubles(expected["coefficients_mean"]), "\(name) mean")
            assertClose(sorted.coefficients(.activeMean), doubles(expected["coefficients_active_mean"]), "\(name) active-mean")
            assertClose(sorted.coefficients(.difference), doubles(expected["coefficients_diff"]), floor: 1e-6, "\(name) diff")
            assertClose(sorted.successMeans(), doubles(expected["success_means"]), "\(name) success means")
            assertClose(sorted.failureMeans(), doubles(expected["failure_means"]), "\(name) failure means")
            assertClose(sorted.successMeans(activeOnly: true), doubles(expected["success_means_active"]), "\(name) success active")
            assertClose(sorted.failureMeans(activeOnly: true), doubles(expected["failure_means_active"]), "\(name) failure active")
            let frequencies = sorted.frequencies()
            assertClose(frequencies.all, doubles(expected["frequency"]), "\(name) frequency")
            assertClose(frequencies.correct, doubles(expected["freq_correct"]), "\(name) freq_correct")
            assertClose(frequencies.incorrect, doubles(expected["freq_incorrect"]), "\(name) freq_incorrect")
            assertClose(sorted.fisherScores(), doubles(expected["fisher"]), "\(name) fisher")
            assertClose(sorted.contrastiveScores(), doubles(expected["caa"]), floor: 1e-6, "\(name) caa")

            XCTAssertEqual(sorted.histogram(success: true).map(Int.init), ints(expected["histogram_success_sorted"]), name)
            XCTAssertEqual(sorted.histogram(success: false).map(Int.init), ints(expected["histogram_failure_sorted"]), name)
            XCTAssertEqual(unsorted.histogram(success: true).map(Int.init), ints(expected["histogram_success_paper_unsorted"]), name)
            XCTAssertEqual(unsorted.histogram(success: false).map(Int.init), ints(expected["histogram_failure_paper_unsorted"]), name)
            assertClose(sorted.mutualInformation(), doubles(expected["mi_sorted"]), floor: 1e-6, "\(name) MI sorted")
            assertClose(unsorted.mutualInformation(), doubles(expected["mi_paper_unsorted"]), floor: 1e-6, "\(name) MI unsorted")
            assertClose(plain.mutualInformation(), doubles(expected["mi_gaussian"]), floor: 1e-6, "\(name) MI gaussian")
            XCTAssertTrue(plain.histogram(success: true).isEmpty)
        }
    }

    func testBinningMatchesTorchBucketize() {
        let expected = Self.expected
        XCTAssertEqual(MutualInformationBinning.referenceEdges.map(Double.init), doubles(expected["edges_unsorted"]))
        let probes = doubles(expected["bin_probes"]).map { Float($0) }
        XCTAssertEqual(probes.map { FeatureStatistics.bin(of: $0, binning: .sorted) }, ints(expected["bins_sorted"]))
        XCTAssertEqual(probes.map { FeatureStatistics.bin(of: $0, binning: .paperUnsorted) }, ints(expected["bins_paper_unsorted"]))
        // The fixture's probes must actually tell the two orders apart.
        XCTAssertNotEqual(ints(expected["bins_sorted"]), ints(expected["bins_paper_unsorted"]))
    }

    func testMergedShardsEqualOnePass() throws {
        let rewards = Self.inputs.rewards["binary"]!
        let onePass = try Self.collect(rewards)
        let a = try Self.collect(rewards, range: 0 ..< 104, batch: 5)
        let b = try Self.collect(rewards, range: 104 ..< 200, batch: 8)
        let c = try Self.collect(rewards, range: 200 ..< 300, batch: 3)
        let left = try a.merged(with: b).merged(with: c)
        let right = try a.merged(with: b.merged(with: c))
        for merged in [left, right] {
            XCTAssertEqual(merged.sampleCount, onePass.sampleCount)
            XCTAssertEqual(merged.successCount, onePass.successCount)
            for kind in FeatureStatistics.Count.allCases { XCTAssertEqual(merged.count(kind), onePass.count(kind)) }
            XCTAssertEqual(merged.histogram(success: true), onePass.histogram(success: true))
            XCTAssertEqual(merged.histogram(success: false), onePass.histogram(success: false))
            for kind in FeatureStatistics.Sum.allCases {
                assertClose(Array(merged.sum(kind)), Array(onePass.sum(kind)), relative: 1e-12, "\(kind)")
            }
            assertClose(merged.correlations(), onePass.correlations(), floor: 1e-3, "r")
        }
    }

    func testMergeIsExactWhenSumsAreExact() throws {
        // Small integers make every float64 sum exact, so any addition order gives identical bits.
        let d = 7
        var generator = SystemRandomNumberGenerator()
        let rows = (0 ..< 40).map { _ in (0 ..< d).map { _ in Float(Int.random(in: 0 ... 4, using: &generator)) } }
        let rewards = (0 ..< 40).map { _ in Double(Int.random(in: 0 ... 1, using: &generator)) }
        func collect(_ range: Range<Int>) throws -> FeatureStatistics {
            var s = FeatureStatistics(featureCount: d, options: .init(mutualInformationBinning: .sorted))
            for i in range { try s.add(correlationRows: rows[i], coefficientRows: rows[i].map { $0 / 2 }, rewards: [rewards[i]]) }
            return s
        }
        let whole = try collect(0 ..< 40)
        XCTAssertEqual(try collect(0 ..< 13).merged(with: collect(13 ..< 40)), whole)
        XCTAssertEqual(try collect(13 ..< 40).merged(with: collect(0 ..< 13)), whole)
    }

    func testSaveLoadRoundTripIsExact() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for binning in [nil, MutualInformationBinning.sorted, .paperUnsorted] {
            let statistics = try Self.collect(Self.inputs.rewards["graded"]!, binning: binning)
            let url = directory.appendingPathComponent("layer_3.safetensors")
            try statistics.save(to: url, metadata: ["layer": "3", "site": "blocks.3.hook_resid_post"])
            let loaded = try FeatureStatistics.load(from: url)
            XCTAssertEqual(loaded, statistics)
            XCTAssertEqual(try SafeTensorsFile(url: url).metadata["site"], "blocks.3.hook_resid_post")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("partial") }
            XCTAssertEqual(leftovers, [])
        }
        // An empty accumulator (infinite min/max rewards) round-trips too.
        let empty = FeatureStatistics(featureCount: 3)
        let url = directory.appendingPathComponent("empty.safetensors")
        try empty.save(to: url)
        XCTAssertEqual(try FeatureStatistics.load(from: url), empty)
    }

    /// A batch wide enough to be summed on several cores gives the bits of its rows added one at a time
    /// (on one core), and each feature's sums are those of its own column.
    func testWideBatchEqualsRowByRowAndNaiveSums() throws {
        let d = 3001, rows = 8
        var rng = SplitMix64(seed: 11)
        let x = (0 ..< rows * d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 250 }
        let k = x.map { $0 * 0.5 }
        let rewards: [Double] = [1, 0, 0.25, 1, 0, 0, 1, 0.5]
        let options = FeatureStatisticsOptions(mutualInformationBinning: .sorted)
        var batched = FeatureStatistics(featureCount: d, options: options)
        try batched.add(correlationRows: x, coefficientRows: k, rewards: rewards)
        var single = FeatureStatistics(featureCount: d, options: options)
        for r in 0 ..< rows {
            try single.add(correlationRows: Array(x[r * d ..< (r + 1) * d]), coefficientRows: Array(k[r * d ..< (r + 1) * d]),
                           rewards: [rewards[r]])
        }
        XCTAssertEqual(batched, single)
        let sums = Array(batched.sum(.x)), squares = Array(batched.sum(.xx)), active = Array(batched.count(.active))
        for j in [0, 127, 128, 1500, d - 1] {
            let column = (0 ..< rows).map { Double(x[$0 * d + j]) }
            XCTAssertEqual(sums[j], column.reduce(0, +), "Σx of feature \(j)")
            XCTAssertEqual(squares[j], column.reduce(0) { $0 + $1 * $1 }, "Σx² of feature \(j)")
            XCTAssertEqual(active[j], Int64(column.filter { $0 > 0 }.count), "active count of feature \(j)")
        }
    }

    func testConstantRewardsAreReportedNotNaN() throws {
        var statistics = FeatureStatistics(featureCount: 2)
        try statistics.add(correlationRows: [1, 0, 2, 0.5, 3, 0], coefficientRows: [1, 0, 2, 0.5, 3, 0], rewards: [0.3, 0.3, 0.3])
        XCTAssertEqual(statistics.correlations(), [0, 0])
        XCTAssertTrue(statistics.hasConstantRewards)
        XCTAssertEqual(statistics.warnings, [.constantRewards(value: 0.3, samples: 3), .noFailures])
        XCTAssertTrue(statistics.warnings[0].description.contains("correlation is undefined"))
        XCTAssertTrue(statistics.mutualInformation().allSatisfy { $0.isFinite })

        XCTAssertEqual(FeatureStatistics(featureCount: 4).correlations(), [0, 0, 0, 0])
        XCTAssertEqual(FeatureStatistics(featureCount: 4).warnings, [.noSamples])
    }

    func testRejectsBadInput() throws {
        var statistics = FeatureStatistics(featureCount: 3)
        let sizeError = thrownError { try statistics.add(correlationRows: [1, 2], coefficientRows: [1, 2], rewards: [1]) }
        XCTAssertEqual(sizeError as? FeatureStatisticsError,
                       .shapeMismatch("1 rewards × 3 features need 3 values per view, got 2 (correlation) and 2 (coefficient)"))
        let rewardError = thrownError { try statistics.add(correlationRows: [1, 2, 3], coefficientRows: [1, 2, 3], rewards: [.nan]) }
        XCTAssertEqual((rewardError as? FeatureStatisticsError)?.description.contains("reward 0 is nan"), true)
        XCTAssertEqual(statistics.sampleCount, 0, "a rejected batch must not be half-added")
        try statistics.add(correlationRows: [], coefficientRows: [], rewards: [])
        XCTAssertEqual(statistics, FeatureStatistics(featureCount: 3), "an empty batch changes nothing")

        let other = FeatureStatistics(featureCount: 3, options: .init(mutualInformationBinning: .sorted))
        XCTAssertNotNil(thrownError { try statistics.merge(other) } as? FeatureStatisticsError)
        XCTAssertNotNil(thrownError { try statistics.merge(FeatureStatistics(featureCount: 4)) } as? FeatureStatisticsError)
    }

    func testLoadRejectsForeignAndDamagedFiles() throws {
        let directory = try CorrSteerFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A safetensors file that is not a statistics file.
        let inputs = CorrSteerFixtures.url("statistics_inputs.safetensors")
        let foreign = thrownError { try FeatureStatistics.load(from: inputs) }
        XCTAssertTrue("\(foreign!)".contains("not a feature statistics file"), "\(foreign!)")

        // A statistics file missing one tensor.
        let url = directory.appendingPathComponent("partial.safetensors")
        try SafeTensorsWriter.write(
            [SafeTensorsWriter.Entry(name: "sum_x", shape: [2], doubles: [1, 2])],
            metadata: ["format": "corrsteer.feature_statistics", "version": "1", "feature_count": "2", "mi_binning": "none"], to: url)
        let missing = thrownError { try FeatureStatistics.load(from: url) }
        XCTAssertTrue("\(missing!)".contains("sum_xx"), "\(missing!)")

        // A truncated file.
        let good = directory.appendingPathComponent("good.safetensors")
        try FeatureStatistics(featureCount: 2).save(to: good)
        let bytes = try Data(contentsOf: good)
        try bytes.prefix(bytes.count - 9).write(to: good)
        XCTAssertNotNil(thrownError { try FeatureStatistics.load(from: good) })
    }
}
