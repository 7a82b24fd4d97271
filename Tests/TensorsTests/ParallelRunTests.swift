import Dispatch
import Foundation
import Tensors
import XCTest

/// `Parallel.run` hands tasks to the kernels' spinning pool; these check that every index runs exactly
/// once whatever the pool is doing, including when the pool is busy and Dispatch takes over.
final class ParallelRunTests: XCTestCase {
    /// Counts how often each index ran (locked: the point is to catch double or missing runs).
    private final class Tally: @unchecked Sendable {
        private var counts: [Int]
        private let lock = NSLock()
        init(_ n: Int) { counts = Array(repeating: 0, count: n) }
        func hit(_ i: Int) { lock.lock(); counts[i] += 1; lock.unlock() }
        var all: [Int] { lock.lock(); defer { lock.unlock() }; return counts }
    }

    func testEveryIndexRunsOnceOverManyBackToBackRuns() {
        for count in [1, 2, 3, 16, 17, 200] {
            for _ in 0..<300 {
                let tally = Tally(count)
                Parallel.run(count) { tally.hit($0) }
                XCTAssertEqual(tally.all, Array(repeating: 1, count: count), "count \(count)")
            }
        }
    }

    func testANestedRunFallsBackAndStillRunsEveryIndex() {
        let outer = Tally(4), inner = Tally(4 * 8)
        Parallel.run(4) { i in
            outer.hit(i)
            Parallel.run(8) { j in inner.hit(i * 8 + j) }
        }
        XCTAssertEqual(outer.all, Array(repeating: 1, count: 4))
        XCTAssertEqual(inner.all, Array(repeating: 1, count: 32))
    }

    func testRunsFromSeveralThreadsAtOnceEachRunEveryIndex() {
        let callers = 4, runs = 200, count = 9
        let tallies = (0..<callers).map { _ in Tally(count * runs) }
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            for r in 0..<runs { Parallel.run(count) { tallies[c].hit(r * count + $0) } }
        }
        for tally in tallies { XCTAssertEqual(tally.all, Array(repeating: 1, count: count * runs)) }
    }

    func testResultsWrittenByTasksAreVisibleToTheCaller() {
        // Each task writes its own slice; the caller reads all of them right after run returns.
        for _ in 0..<200 {
            let n = 64
            let values = UnsafeMutablePointer<Int>.allocate(capacity: n)
            defer { values.deallocate() }
            values.initialize(repeating: 0, count: n)
            Parallel.run(n) { values[$0] = $0 &* 7 &+ 1 }
            XCTAssertEqual((0..<n).map { values[$0] }, (0..<n).map { $0 * 7 + 1 })
        }
    }
}
