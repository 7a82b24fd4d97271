import CorrSteer
import XCTest

/// Pooling follows method §3.2: rows [0, ℓ) where ℓ is the index of the first generated stop token.
final class FeaturePoolingTests: XCTestCase {
    private func observe(_ pooling: inout FeaturePooling, _ row: [Float], sequence: Int, step: Int) {
        row.withUnsafeBufferPointer { pooling.observeGenerationRow($0.baseAddress!, sequence: sequence, step: step) }
    }

    func testRowThatPredictedEOSIsExcluded() {
        // Sequence 0 generates 3 tokens, the last one EOS: rows 0 and 1 count (ℓ = 2), row 2 does not.
        // Sequence 1 hits the length limit after 2 tokens: both of its rows count.
        var pooling = FeaturePooling(sequences: 2, width: 2, firstRowOnly: false, pools: [.max, .mean])
        observe(&pooling, [1, 5], sequence: 0, step: 0)
        observe(&pooling, [3, 0], sequence: 1, step: 0)
        observe(&pooling, [2, 1], sequence: 0, step: 1)
        observe(&pooling, [1, 4], sequence: 1, step: 1)
        observe(&pooling, [9, 9], sequence: 0, step: 2)
        pooling.finish(stoppedOnEOS: [true, false])
        XCTAssertEqual(pooling.pooled(.max), [2, 5, 3, 4])
        XCTAssertEqual(pooling.pooled(.mean), [1.5, 3, 2, 2])
    }

    func testImmediateEOSPoolsToZeros() {
        var pooling = FeaturePooling(sequences: 1, width: 3, firstRowOnly: false, pools: [.max])
        observe(&pooling, [4, 5, 6], sequence: 0, step: 0)
        pooling.finish(stoppedOnEOS: [true])
        XCTAssertEqual(pooling.pooled(.max), [0, 0, 0])
    }

    func testSelectTasksPoolOnlyThePrefillRowEvenWhenItPredictedEOS() {
        var pooling = FeaturePooling(sequences: 1, width: 2, firstRowOnly: true, pools: [.max])
        observe(&pooling, [4, 1], sequence: 0, step: 0)
        observe(&pooling, [7, 7], sequence: 0, step: 1)
        pooling.finish(stoppedOnEOS: [true])
        XCTAssertEqual(pooling.pooled(.max), [4, 1])
    }

    func testPromptRowsAreAlwaysPooledForAllPositions() {
        var pooling = FeaturePooling(sequences: 1, width: 1, firstRowOnly: false, pools: [.max, .mean])
        [Float(-3)].withUnsafeBufferPointer { pooling.observePromptRow($0.baseAddress!, sequence: 0) }
        observe(&pooling, [-1], sequence: 0, step: 0)
        pooling.finish(stoppedOnEOS: [false])
        // Negative values (raw residual dimensions) pool correctly: max starts below every value.
        XCTAssertEqual(pooling.pooled(.max), [-1])
        XCTAssertEqual(pooling.pooled(.mean), [-2])
    }

    func testShardsTileTheTrainSplit() throws {
        let total = 103
        var covered: [Int] = []
        for i in 0..<4 { covered += Array(try ShardSpec(index: i, count: 4).range(of: total)) }
        XCTAssertEqual(covered, Array(0..<total))
        XCTAssertThrowsError(try ShardSpec(parsing: "4/4"))
        XCTAssertThrowsError(try ShardSpec(parsing: "a/b"))
        XCTAssertEqual(try ShardSpec(parsing: "1/8"), try ShardSpec(index: 1, count: 8))
    }
}
