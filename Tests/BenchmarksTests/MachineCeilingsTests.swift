import Benchmarks
import LanguageModels
import Tensors
import XCTest

final class MachineCeilingsTests: XCTestCase {
    /// The work counts behind every share, against the figures scripts/bench/machine_ceilings.c derives
    /// on its own from the published Gemma-2-2B dimensions (its JSON line "gemma-2-2b shape").
    func testGemma2WorkMatchesTheStandaloneProbe() throws {
        let work = ModelWork(try BenchmarkShape.gemma2_2b.configuration())
        XCTAssertEqual(work.blockMatrixParameters, 2_024_275_968)
        XCTAssertEqual(work.headParameters, 589_824_000)
        XCTAssertEqual(work.prefillFLOPsPerToken(length: 512) / 1e9, 4.1055, accuracy: 5e-5)
        XCTAssertEqual(work.decodeFLOPsPerToken(context: 128) / 1e9, 5.2555, accuracy: 5e-5)
        XCTAssertEqual(work.decodeBytesPerStep(compact: false) / 1e9, 5.2282, accuracy: 5e-5)
        // A greedy step of up to four rows reads the head's int8 screen instead of its bf16 rows.
        XCTAssertEqual(work.greedyDecodeBytesPerStep(batch: 1, compact: false) / 1e9, 4.6384, accuracy: 5e-5)
        XCTAssertEqual(work.greedyDecodeBytesPerStep(batch: 8, compact: false) / 1e9, 5.2282, accuracy: 5e-5)
        // The bf16 dot-product kernel reads 12 bits a weight.
        XCTAssertEqual(work.greedyDecodeBytesPerStep(batch: 1, compact: true) / 1e9, 3.6262, accuracy: 5e-5)
        XCTAssertEqual(work.greedyDecodeBytesPerStep(batch: 8, compact: true) / 1e9, 3.92115, accuracy: 5e-5)
    }

    func testProbeMeasuresEveryCeilingThisCPUHas() {
        let ceilings = MachineCeilingProbe.measure(threads: 1, seconds: 0.01, readBytes: 64 << 20)
        XCTAssertGreaterThan(ceilings.fmaF32GFLOPS, 0)
        XCTAssertGreaterThan(ceilings.readGBPerSecond, 0)
        XCTAssertEqual(ceilings.bf16DotGFLOPS != nil, MatMul.availableKernelPaths.contains("avx512bf16"))
        XCTAssertFalse(ceilings.cpuModel.isEmpty)
    }

    func testSharesUseTheCeilingOfThePathInUse() {
        let ceilings = MachineCeilings(
            cpuModel: "test", threads: 2, fmaWidth: "zmm", fmaF32GFLOPS: 200, fmaF32GFLOPSOneThread: 100,
            bf16DotGFLOPS: 400, bf16DotGFLOPSOneThread: 200, readGBPerSecond: 20, readGBPerSecondOneThread: 10)
        let exact = ceilings.computeShare(flopsPerSecond: 100e9, precision: .exact, bf16DotInUse: true)
        XCTAssertEqual(exact.ceiling, "fma_f32")
        XCTAssertEqual(exact.share, 0.5, accuracy: 1e-12)
        let fast = ceilings.computeShare(flopsPerSecond: 100e9, precision: .fast, bf16DotInUse: true)
        XCTAssertEqual(fast.ceiling, "bf16_dot")
        XCTAssertEqual(fast.share, 0.25, accuracy: 1e-12)
        XCTAssertEqual(ceilings.computeShare(flopsPerSecond: 100e9, precision: .fast, bf16DotInUse: false).ceiling, "fma_f32")
        XCTAssertEqual(ceilings.readShare(bytesPerSecond: 15e9).share, 0.75, accuracy: 1e-12)
    }

    /// Parameter counts of the Gemma 3 shapes against transformers' Gemma3ForCausalLM built from the same
    /// dimensions on the meta device (999,885,952 is also google/gemma-3-1b-pt's published count).
    func testGemma3ShapesHaveTheirPublishedParameterCounts() throws {
        XCTAssertEqual(try BenchmarkShape.gemma3_1b.parameterCount(), 999_885_952)
        XCTAssertEqual(try BenchmarkShape.gemma3_4b.parameterCount(), 3_880_263_168)
        let config = try BenchmarkShape.gemma3_4b.configuration()
        XCTAssertEqual(config.slidingWindowLayers.filter { !$0 }.count, 5, "every sixth of 34 layers is global")
    }

    /// Qwen3-1.7B against transformers' Qwen3ForCausalLM of the same dimensions on the meta device
    /// (1.72 B with the tied embedding counted once: the model card's "1.7B").
    func testQwen3ShapeHasItsParameterCount() throws {
        XCTAssertEqual(try BenchmarkShape.qwen3_1_7b.parameterCount(), 1_720_574_976)
        XCTAssertEqual(try BenchmarkShape.qwen3_1_7b.configuration().architecture, .qwen3)
    }
}
