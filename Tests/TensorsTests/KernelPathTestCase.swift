import XCTest
import Tensors

/// A test case that switches kernel paths (`MatMul.useKernelPath`) and gets the one in use back after
/// each test, so later tests run on the path they expect.
class KernelPathTestCase: XCTestCase {
    private var originalPath = ""

    override func setUp() {
        super.setUp()
        originalPath = MatMul.kernelPath
    }

    override func tearDown() {
        MatMul.useKernelPath(originalPath)
        super.tearDown()
    }
}
