import Tensors
import XCTest

final class ScratchPoolTests: XCTestCase {
    /// A released block comes back for the next request it fits (its pages are already mapped), including
    /// a somewhat smaller one, but not for one it would waste over half of.
    func testReleasedBlockIsReusedForRequestsItFits() {
        let pool = ScratchPool(idleLimit: 1 << 26)
        let first = pool.take(Float.self, count: 1 << 20)
        first.initialize(repeating: 1, count: 1 << 20)
        pool.release(first)
        XCTAssertEqual(pool.idleBytes, 4 << 20)
        let again = pool.take(Float.self, count: 3 << 18)
        XCTAssertEqual(again, first, "a 3 MB request reuses the idle 4 MB block")
        XCTAssertEqual(pool.idleBytes, 0)
        pool.release(again)
        let quarter = pool.take(Float.self, count: 1 << 18)
        XCTAssertNotEqual(quarter, first, "a 1 MB request does not take a 4 MB block")
        pool.release(quarter)
        XCTAssertEqual(pool.idleBytes, 5 << 20)
    }

    /// A request no idle block fits frees the idle blocks smaller than it (they served buffers that have
    /// grown), so its pages come from memory just released; larger idle blocks stay.
    func testOutgrownIdleBlocksAreFreedWhenALargerOneIsMade() {
        let pool = ScratchPool(idleLimit: 1 << 26)
        let small = pool.take(UInt8.self, count: 1 << 20), large = pool.take(UInt8.self, count: 16 << 20)
        pool.release(small)
        pool.release(large)
        XCTAssertEqual(pool.idleBytes, 17 << 20)
        let grown = pool.take(UInt8.self, count: 3 << 20)
        XCTAssertEqual(pool.idleBytes, 16 << 20, "the 1 MB block is freed; the 16 MB one is kept")
        pool.release(grown)
        XCTAssertEqual(pool.idleBytes, 19 << 20)
    }

    /// Blocks are 64-byte aligned whatever the element type; small requests bypass the pool.
    func testAlignmentAndSmallRequests() {
        let pool = ScratchPool(idleLimit: 1 << 26)
        for count in [1, 7, 1000, 100_000, 3_000_001] {
            let p = pool.take(UInt16.self, count: count)
            XCTAssertEqual(Int(bitPattern: p) % 64, 0, "\(count) elements")
            p[count - 1] = 7
            pool.release(p)
        }
        let idle = pool.idleBytes
        pool.release(pool.take(UInt8.self, count: 100))
        XCTAssertEqual(pool.idleBytes, idle, "a 100-byte block is not kept")
    }

    /// The idle total never passes the limit: releasing past it frees the largest blocks.
    func testIdleBytesStayUnderTheLimit() {
        let pool = ScratchPool(idleLimit: 10 << 20)
        let blocks = [4, 4, 2, 1].map { pool.take(UInt8.self, count: $0 << 20) }
        blocks.forEach { pool.release($0) }
        XCTAssertEqual(pool.idleBytes, 7 << 20, "one 4 MB block freed, 4 + 2 + 1 MB kept")
    }
}
