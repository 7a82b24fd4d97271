import CKernels
import Dispatch

/// What the user asks for bf16-weight products: a forced `MatMulPrecision`, or `auto`, which picks the
/// faster of the two on this CPU.
public enum PrecisionChoice: String, Sendable, CaseIterable, Codable {
    case auto, exact, fast
}

/// Seconds per call of one representative product, on both precisions, for three row counts.
///
/// One row and eight rows stream a weight larger than the last-level cache (decode at batch 1 and 8);
/// 64 rows multiply an L2-sized weight many times (prefill, collection prompts). `nil` entries were
/// not measured.
public struct ProductTimings: Sendable, Equatable, Codable {
    public struct Pair: Sendable, Equatable, Codable {
        public var exact: Double
        public var fast: Double
        public init(exact: Double, fast: Double) { self.exact = exact; self.fast = fast }
        /// How much faster `fast` runs than `exact` (above 1: faster).
        public var speedup: Double { fast > 0 ? exact / fast : 0 }
    }
    public var oneRow: Pair
    public var eightRows: Pair
    public var manyRows: Pair
    enum CodingKeys: String, CodingKey {
        case oneRow = "one_row", eightRows = "eight_rows", manyRows = "many_rows"
    }
    public init(oneRow: Pair, eightRows: Pair, manyRows: Pair) {
        self.oneRow = oneRow; self.eightRows = eightRows; self.manyRows = manyRows
    }
}

/// The precision a run uses, and why.
public struct PrecisionDecision: Sendable, Equatable, Codable {
    public var choice: PrecisionChoice
    public var precision: MatMulPrecision
    public var kernelPath: String
    public var reason: String
    public var timings: ProductTimings?
    enum CodingKeys: String, CodingKey {
        case choice, precision, reason, timings
        case kernelPath = "kernel_path"
    }
    public init(choice: PrecisionChoice, precision: MatMulPrecision, kernelPath: String, reason: String,
                timings: ProductTimings? = nil) {
        self.choice = choice; self.precision = precision; self.kernelPath = kernelPath
        self.reason = reason; self.timings = timings
    }

    /// One line for stderr.
    public var summary: String {
        "precision \(precision.rawValue) (\(choice.rawValue)), kernels \(kernelPath): \(reason)"
    }
}

/// Resolves `PrecisionChoice.auto`.
///
/// One precision holds for the whole run, whatever the row count of a product: a row's result must not
/// depend on the other rows of its batch (a ragged batch equals each sequence alone, a served request
/// equals `generate`), so the path cannot change between a one-row decode step and an eight-row one.
/// `auto` therefore weighs the three row-count classes together: `fast` only when it wins the many-row
/// product (prefill, the prompts of `collect` and `evaluate`) by at least `requiredSpeedup` and loses
/// neither the one-row nor the 8-row product (decode) by more than `toleratedLoss`. The decode classes
/// stream weights from memory on both paths when the machine is balanced, so their ratio sits near 1
/// and moves by ±10 % from run to run on a shared machine (Zen 4: 8 rows measured 108 % and 150 %);
/// the compute-bound class is the one that separates the paths.
public enum PrecisionSelector {
    public static let requiredSpeedup = 1.10
    public static let toleratedLoss = 0.90

    /// The decision of the process, once made (recorded in manifests and `bench --json`).
    nonisolated(unsafe) public private(set) static var current: PrecisionDecision?

    /// Makes `decision` the process default (`MatMul.defaultPrecision`) and remembers it.
    @discardableResult
    public static func apply(_ decision: PrecisionDecision) -> PrecisionDecision {
        MatMul.defaultPrecision = decision.precision
        current = decision
        return decision
    }

    /// The decision for `choice`. `cachedTimings` returns a previous measurement on this CPU (or nil)
    /// and `store` keeps a new one; `bf16DotProduct` and `measure` are this CPU's unless a test passes others.
    public static func decide(
        _ choice: PrecisionChoice, cachedTimings: () -> ProductTimings? = { nil },
        store: (ProductTimings) -> Void = { _ in },
        bf16DotProduct: Bool = MatMul.hasBF16DotProduct, measure: () -> ProductTimings = measure
    ) -> PrecisionDecision {
        let path = MatMul.kernelPath
        switch choice {
        case .exact:
            return PrecisionDecision(choice: choice, precision: .exact, kernelPath: path, reason: "forced")
        case .fast:
            return PrecisionDecision(choice: choice, precision: .fast, kernelPath: path, reason: "forced")
        case .auto:
            guard bf16DotProduct else {
                return PrecisionDecision(
                    choice: choice, precision: .exact, kernelPath: path,
                    reason: "no bf16 dot product that outruns f32 FMA on this path, so fast would run the exact kernel on rounded activations")
            }
            let timings: ProductTimings
            if let cached = cachedTimings() {
                timings = cached
            } else {
                timings = measure()
                store(timings)
            }
            let (precision, reason) = rule(timings)
            return PrecisionDecision(choice: choice, precision: precision, kernelPath: path, reason: reason,
                                     timings: timings)
        }
    }

    /// The decision from measured timings (separate so that tests can check the rule itself).
    public static func rule(_ t: ProductTimings) -> (MatMulPrecision, String) {
        func x(_ v: Double) -> String { String(Int((v * 100).rounded())) + "%" }
        let figures = "fast/exact speed: 1 row \(x(t.oneRow.speedup)), 8 rows \(x(t.eightRows.speedup)), 64 rows \(x(t.manyRows.speedup))"
        if t.manyRows.speedup >= requiredSpeedup, t.eightRows.speedup >= toleratedLoss,
           t.oneRow.speedup >= toleratedLoss {
            return (.fast, "measured, " + figures)
        }
        return (.exact, "measured, " + figures)
    }

    /// Times both precisions on three products (about 0.1–0.3 s in all): best of several calls each,
    /// all cores, after one warm-up call.
    public static func measure() -> ProductTimings {
        let k = 2048
        let big = Tensor.randomBF16(rows: 16384, columns: k, seed: 1) // 64 MiB: beyond any L3
        let small = Tensor.randomBF16(rows: 1024, columns: k, seed: 2) // 4 MiB
        func time(_ rows: Int, _ weight: Tensor, _ precision: MatMulPrecision, repeats: Int) -> Double {
            let n = weight.shape[0]
            let x = UnsafeMutablePointer<Float>.allocate(capacity: rows * k)
            let y = UnsafeMutablePointer<Float>.allocate(capacity: rows * n)
            defer { x.deallocate(); y.deallocate() }
            for i in 0..<(rows * k) { x[i] = Float(i % 17) * 0.01 - 0.08 }
            var best = Double.infinity
            for r in 0...repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                MatMul.linear(UnsafePointer(x), rows: rows, weight: weight, into: y, precision: precision)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                if r > 0 { best = min(best, seconds) }
            }
            return best
        }
        func pair(_ rows: Int, _ weight: Tensor, repeats: Int) -> ProductTimings.Pair {
            ProductTimings.Pair(exact: time(rows, weight, .exact, repeats: repeats),
                                fast: time(rows, weight, .fast, repeats: repeats))
        }
        return ProductTimings(oneRow: pair(1, big, repeats: 3), eightRows: pair(8, big, repeats: 3),
                              manyRows: pair(64, small, repeats: 3))
    }
}

extension Tensor {
    /// A bf16 weight of small pseudo-random values (for measurements, not models).
    static func randomBF16(rows: Int, columns: Int, seed: UInt64) -> Tensor {
        let tensor = Tensor(zeros: [rows, columns], dtype: .bf16)
        let bits = tensor.rawPointer.assumingMemoryBound(to: UInt16.self)
        var generator = SplitMix64(seed: seed)
        for i in 0..<(rows * columns) {
            // Random sign and mantissa, exponents 2^-8 to 2^-5: ordinary weight magnitudes.
            let r = generator.next()
            bits[i] = UInt16(truncatingIfNeeded: (r & 0x807f) | ((0x3b80 + (r >> 16) % 4 * 0x80) & 0x7f80))
        }
        return tensor
    }
}
