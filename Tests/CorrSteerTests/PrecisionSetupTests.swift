import Foundation
import XCTest
import CorrSteer
import Tensors

/// `--precision auto`: the rule on measured timings, the CPU facts that short-cut it, and the cache that
/// keeps the measurement per machine.
final class PrecisionSetupTests: XCTestCase {
    private func timings(one: Double, eight: Double, many: Double) -> ProductTimings {
        // `fast` takes 1/speedup of exact's time in each class.
        ProductTimings(oneRow: .init(exact: 1, fast: 1 / one), eightRows: .init(exact: 1, fast: 1 / eight),
                       manyRows: .init(exact: 1, fast: 1 / many))
    }

    func testRuleTakesFastOnlyWhenPrefillGainsAndDecodeDoesNotLoseMuch() {
        // Zen 4 as measured on 2026-12-03 (issue 14): fast wins many rows 2.1x and 8 rows 1.37x but
        // loses a quarter at one row with that session's kernel: exact.
        XCTAssertEqual(PrecisionSelector.rule(timings(one: 0.77, eight: 1.37, many: 2.09)).0, .exact)
        XCTAssertEqual(PrecisionSelector.rule(timings(one: 0.95, eight: 1.37, many: 2.09)).0, .fast)
        // Zen 4 on 2026-12-04 with the reworked decode kernel: both decode classes stream weights at
        // the same speed on either path, prefill gains 1.7x: fast.
        XCTAssertEqual(PrecisionSelector.rule(timings(one: 1.07, eight: 1.08, many: 1.73)).0, .fast)
        XCTAssertEqual(PrecisionSelector.rule(timings(one: 1.0, eight: 1.05, many: 2.0)).0, .fast)
        XCTAssertEqual(PrecisionSelector.rule(timings(one: 1.0, eight: 0.85, many: 2.0)).0, .exact)
        XCTAssertEqual(PrecisionSelector.rule(timings(one: 1.0, eight: 1.5, many: 1.05)).0, .exact)
        // Emerald Rapids: vdpbf16ps at half the FMA rate makes fast the slower path everywhere.
        XCTAssertEqual(PrecisionSelector.rule(timings(one: 1.0, eight: 0.8, many: 0.5)).0, .exact)
        XCTAssertTrue(PrecisionSelector.rule(timings(one: 0.77, eight: 1.37, many: 2.09)).1.contains("1 row 77%"))
    }

    func testForcedChoicesAndCPUsWithoutADotProductNeverMeasure() {
        for (choice, expected) in [(PrecisionChoice.exact, MatMulPrecision.exact), (.fast, .fast)] {
            let decision = PrecisionSetup.decide(choice, cacheDirectory: nil, bf16DotProduct: true,
                                                 measure: { XCTFail("measured a forced choice"); return self.timings(one: 1, eight: 1, many: 1) })
            XCTAssertEqual(decision.precision, expected)
            XCTAssertEqual(decision.reason, "forced")
        }
        let decision = PrecisionSetup.decide(.auto, cacheDirectory: nil, bf16DotProduct: false,
                                             measure: { XCTFail("measured without a dot product"); return self.timings(one: 1, eight: 1, many: 1) })
        XCTAssertEqual(decision.precision, .exact)
        XCTAssertNil(decision.timings)
    }

    func testMeasurementIsCachedPerMachineAndABadCacheIsMeasuredAgain() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("precision-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var measurements = 0
        let measure = { () -> ProductTimings in measurements += 1; return self.timings(one: 1.0, eight: 1.4, many: 2.0) }

        let first = PrecisionSetup.decide(.auto, cacheDirectory: folder, bf16DotProduct: true, measure: measure)
        XCTAssertEqual(first.precision, .fast)
        let second = PrecisionSetup.decide(.auto, cacheDirectory: folder, bf16DotProduct: true, measure: measure)
        XCTAssertEqual(second, first)
        XCTAssertEqual(measurements, 1, "the second decision must come from the cache")

        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        XCTAssertEqual(files.count, 1)
        for damage in [Data("{not json".utf8), Data(), Data(repeating: 0x20, count: 70_000),
                       Data(#"{"key":"other cpu","timings":{"one_row":{"exact":1,"fast":1},"eight_rows":{"exact":1,"fast":1},"many_rows":{"exact":1,"fast":1}}}"#.utf8)] {
            try damage.write(to: files[0])
            _ = PrecisionSetup.decide(.auto, cacheDirectory: folder, bf16DotProduct: true, measure: measure)
        }
        XCTAssertEqual(measurements, 5, "each damaged or foreign cache entry is measured again")
    }

    func testMeasurementTimesBothPrecisionsOnThisCPU() {
        let t = PrecisionSelector.measure()
        for pair in [t.oneRow, t.eightRows, t.manyRows] {
            XCTAssertTrue(pair.exact > 0 && pair.exact.isFinite && pair.fast > 0 && pair.fast.isFinite)
        }
    }
}
