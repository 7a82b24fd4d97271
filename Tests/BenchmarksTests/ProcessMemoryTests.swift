import Benchmarks
import XCTest

final class ProcessMemoryTests: XCTestCase {
    func testStatusLinesOfEveryWidth() {
        XCTAssertEqual(ProcessMemory.kilobytes(inStatusLine: "VmHWM:\t    2072 kB"), 2072)
        // 16.2 GB: eight digits fill the padding, and the number follows the tab directly.
        XCTAssertEqual(ProcessMemory.kilobytes(inStatusLine: "VmHWM:\t15820312 kB"), 15_820_312)
        XCTAssertEqual(ProcessMemory.kilobytes(inStatusLine: "VmHWM:\t123456789 kB"), 123_456_789)
        XCTAssertNil(ProcessMemory.kilobytes(inStatusLine: "VmHWM:"))
    }

    func testPeakResidentSetOfThisProcessIsReported() {
        XCTAssertGreaterThan(ProcessMemory.peakResidentBytes(), 1 << 20)
    }
}
