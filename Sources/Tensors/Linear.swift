import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(Accelerate)
import Accelerate
#endif

/// How a product with bf16 weights treats the activations.
public enum MatMulPrecision: String, Sendable, CaseIterable, Codable {
    /// f32 activations times the bf16 weights widened to f32 (exact), f32 sums: what transformers
    /// computes in f32 on the same bf16 weights.
    case exact
    /// Activations rounded to bf16 first, bf16 × bf16 products summed in f32 (`vdpbf16ps` where the
    /// CPU has it): what a bf16 model computes in PyTorch.
    case fast
}

/// Matrix products on f32 activations.
public enum MatMul {
    /// The precision `linear` uses for bf16 weights when the caller passes none. Set once at start-up
    /// (for example from a command-line option); f32 and f16 weights are always exact. Starts as
    /// `CORRSTEER_PRECISION` (exact or fast) when set, else `.exact`: on CPUs whose bf16 dot product
    /// runs at half the FMA rate (see BENCHMARKS.md) exact is also the faster choice.
    nonisolated(unsafe) public static var defaultPrecision: MatMulPrecision = {
        guard let text = getenv("CORRSTEER_PRECISION").map({ String(cString: $0) }),
              let precision = MatMulPrecision(rawValue: text) else { return .exact }
        return precision
    }()

    /// `y[M, N] = x[M, K] · wᵀ` with `w` stored `[N, K]` in any dtype (the nn.Linear layout).
    /// Work is split over output columns so each core streams its own slice of the weight once.
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, weight w: Tensor,
        into y: UnsafeMutablePointer<Float>, precision: MatMulPrecision? = nil
    ) {
        precondition(w.rank == 2, "linear weight must be rank 2, got \(w.shape)")
        let n = w.shape[0], k = w.shape[1]
        linear(x, ldx: k, rows: m, weight: w, columns: 0..<n, into: y, ldy: n, precision: precision)
    }

    /// Strided form of `linear`, restricted to output columns `columns` (rows of `w`).
    public static func linear(
        _ x: UnsafePointer<Float>, ldx: Int, rows m: Int, weight w: Tensor, columns: Range<Int>,
        into y: UnsafeMutablePointer<Float>, ldy: Int, precision: MatMulPrecision? = nil
    ) {
        precondition(w.rank == 2, "linear weight must be rank 2, got \(w.shape)")
        precondition(columns.lowerBound >= 0 && columns.upperBound <= w.shape[0], "columns \(columns) outside \(w.shape)")
        guard m > 0, !columns.isEmpty else { return }
        let k = w.shape[1]
        precondition(ldx >= k && ldy >= columns.upperBound, "row strides too small for \(w.shape)")
        if w.dtype == .bf16, (precision ?? defaultPrecision) == .fast {
            linearRoundingActivations(x, ldx: ldx, rows: m, weight: w, columns: columns, into: y, ldy: ldy)
            return
        }
        #if canImport(Accelerate)
        if m >= 16 {
            linearAccelerate(x, ldx: ldx, rows: m, weight: w, columns: columns, into: y, ldy: ldy)
            return
        }
        #endif
        let base = UnsafeRawPointer(w.rawPointer)
        splitColumns(columns, rows: m, depth: k) { n0, n1 in
            switch w.dtype {
            case .f32:
                ck_linear_f32w(x, ldx, base.assumingMemoryBound(to: Float.self), k, y, ldy, m, k, n0, n1)
            case .bf16:
                ck_linear_bf16w(x, ldx, base.assumingMemoryBound(to: UInt16.self), k, y, ldy, m, k, n0, n1)
            case .f16:
                ck_linear_f16w(x, ldx, base.assumingMemoryBound(to: UInt16.self), k, y, ldy, m, k, n0, n1)
            }
        }
    }

    /// Whether a product on `weight` rounds its activations to bf16 first (a bf16 weight under `.fast`).
    public static func roundsActivations(of weight: Tensor, precision: MatMulPrecision? = nil) -> Bool {
        weight.dtype == .bf16 && (precision ?? defaultPrecision) == .fast
    }

    /// `y[i] = x · w[columns[i]]` for one activation row, on the calling thread: the bits `linear` gives
    /// those columns, since every kernel computes a column from that weight row alone, whatever the slice
    /// (tests hold each path to it). For the greedy screen's few candidates.
    public static func linear(
        _ x: UnsafePointer<Float>, weight w: Tensor, selectedColumns columns: [Int],
        into y: UnsafeMutablePointer<Float>, precision: MatMulPrecision? = nil
    ) {
        precondition(w.rank == 2, "linear weight must be rank 2, got \(w.shape)")
        let n = w.shape[0], k = w.shape[1]
        precondition(columns.allSatisfy { (0..<n).contains($0) }, "selected columns outside \(w.shape)")
        // Each kernel writes y[c] for column c; pointing y at the i-th output minus c puts it in place.
        if roundsActivations(of: w, precision: precision) {
            if ck_has_bf16_dot() != 0 {
                let packed = w.packedBF16Pairs
                let rounded = roundedToBF16(x, ldx: k, rows: 1, depth: k)
                defer { ScratchPool.shared.release(rounded) }
                for (i, c) in columns.enumerated() {
                    ck_linear_bf16x_packed(rounded, pairStride(k), packed, y + i - c, n, 1, k, c, c + 1)
                }
            } else {
                let rounded = ScratchPool.shared.take(Float.self, count: k)
                defer { ScratchPool.shared.release(rounded) }
                ck_round_to_bf16(x, rounded, k)
                linear(UnsafePointer(rounded), weight: w, selectedColumns: columns, into: y, precision: .exact)
            }
            return
        }
        let base = UnsafeRawPointer(w.rawPointer)
        for (i, c) in columns.enumerated() {
            switch w.dtype {
            case .f32: ck_linear_f32w(x, k, base.assumingMemoryBound(to: Float.self), k, y + i - c, n, 1, k, c, c + 1)
            case .bf16: ck_linear_bf16w(x, k, base.assumingMemoryBound(to: UInt16.self), k, y + i - c, n, 1, k, c, c + 1)
            case .f16: ck_linear_f16w(x, k, base.assumingMemoryBound(to: UInt16.self), k, y + i - c, n, 1, k, c, c + 1)
            }
        }
    }

    /// Several products of the same activations, `y_i[M, N_i] = x[M, K] · w_iᵀ` (queries, keys and values;
    /// gate and up), with the numbers of one `linear` call each. Where they run as `.fast` bf16 dot
    /// products the activations are rounded once and the column slices of all the products share one
    /// parallel run, so the cores wait for each other once instead of once per product.
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, weights: [Tensor], into outputs: [UnsafeMutablePointer<Float>],
        precision: MatMulPrecision? = nil
    ) {
        precondition(weights.count == outputs.count, "\(weights.count) weights for \(outputs.count) outputs")
        guard let k = weights.first?.shape.last, m > 0 else { return }
        precondition(weights.allSatisfy { $0.rank == 2 && $0.shape[1] == k }, "weights of one product must share K")
        guard weights.count > 1, weights.allSatisfy({ $0.dtype == .bf16 }), (precision ?? defaultPrecision) == .fast,
              ck_has_bf16_dot() != 0
        else {
            for (w, y) in zip(weights, outputs) { linear(x, rows: m, weight: w, into: y, precision: precision) }
            return
        }
        let rounded = roundedToBF16(x, ldx: k, rows: m, depth: k)
        defer { ScratchPool.shared.release(rounded) }
        let packed = weights.map(\.packedBF16Pairs)
        splitColumns(parts: weights.map { $0.shape[0] }, rows: m, depth: k) { part, n0, n1 in
            let n = weights[part].shape[0]
            ck_linear_bf16x_packed(rounded, pairStride(k), packed[part], outputs[part], n, m, k, n0, n1)
        }
    }

    /// `x` rounded to bf16, `[rows, depth]` with rows `pairStride(depth)` apart (whole k pairs, the last
    /// one zero-padded when `depth` is odd, as the bf16 dot-product kernel reads them); the caller gives it
    /// back to `ScratchPool`. Rows are spread over the cores when there are enough of them to pay for it.
    private static func roundedToBF16(_ x: UnsafePointer<Float>, ldx: Int, rows m: Int, depth k: Int) -> UnsafeMutablePointer<UInt16> {
        let stride = pairStride(k)
        let rounded = ScratchPool.shared.take(UInt16.self, count: m * stride)
        Parallel.forEachChunk(m, grain: max(1, (1 << 16) / max(k, 1))) { range in
            for r in range {
                ck_f32_to_bf16(x + r * ldx, rounded + r * stride, k)
                if stride > k { rounded[r * stride + k] = 0 }
            }
        }
        return rounded
    }

    private static func pairStride(_ k: Int) -> Int { (k + 1) & ~1 }

    /// The `.fast` product: activations rounded to bf16 once, then bf16 dot products on the packed weight
    /// where the CPU has them, else the exact kernel on the rounded activations (the same products, in
    /// f32).
    private static func linearRoundingActivations(
        _ x: UnsafePointer<Float>, ldx: Int, rows m: Int, weight w: Tensor, columns: Range<Int>,
        into y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let k = w.shape[1]
        if ck_has_bf16_dot() != 0 {
            let packed = w.packedBF16Pairs
            let rounded = roundedToBF16(x, ldx: ldx, rows: m, depth: k)
            defer { ScratchPool.shared.release(rounded) }
            splitColumns(columns, rows: m, depth: k) { n0, n1 in
                ck_linear_bf16x_packed(rounded, pairStride(k), packed, y, ldy, m, k, n0, n1)
            }
        } else {
            let rounded = ScratchPool.shared.take(Float.self, count: m * k)
            defer { ScratchPool.shared.release(rounded) }
            for r in 0..<m { ck_round_to_bf16(x + r * ldx, rounded + r * k, k) }
            linear(UnsafePointer(rounded), ldx: k, rows: m, weight: w, columns: columns, into: y, ldy: ldy,
                   precision: .exact)
        }
    }

    #if canImport(Accelerate)
    /// Apple: Accelerate's sgemm (which uses the matrix units) on weights widened a slice of rows at a
    /// time. Accelerate threads internally, so this runs on the calling thread.
    private static func linearAccelerate(
        _ x: UnsafePointer<Float>, ldx: Int, rows m: Int, weight w: Tensor, columns: Range<Int>,
        into y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let k = w.shape[1]
        if w.dtype == .f32 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(columns.count), Int32(k), 1,
                        x, Int32(ldx), w.floatPointer + columns.lowerBound * k, Int32(k), 0,
                        y + columns.lowerBound, Int32(ldy))
            return
        }
        let slice = max(1, (1 << 20) / max(1, k))
        let widened = UnsafeMutablePointer<Float>.allocate(capacity: slice * max(1, k))
        defer { widened.deallocate() }
        var n = columns.lowerBound
        while n < columns.upperBound {
            let count = min(slice, columns.upperBound - n)
            w.copyFloats(range: n * k..<(n + count) * k, into: widened)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(count), Int32(k), 1,
                        x, Int32(ldx), widened, Int32(k), 0, y + n, Int32(ldy))
            n += count
        }
    }
    #endif

    /// `y[m, n] = Σ_k x[m, k] · w[n, k]` on f32 operands given by pointers and row strides, for products
    /// whose right side is not a weight tensor (attention scores: queries times keys). `parallel: false`
    /// keeps the work on the calling thread, for callers that already spread their own work over the cores.
    public static func linear(
        _ x: UnsafePointer<Float>, ldx: Int, rows m: Int, f32Weights w: UnsafePointer<Float>, ldw: Int,
        columns n: Int, depth k: Int, into y: UnsafeMutablePointer<Float>, ldy: Int, parallel: Bool = true
    ) {
        guard m > 0, n > 0 else { return }
        precondition(ldx >= k && ldw >= k && ldy >= n, "linear strides too small")
        if parallel {
            splitColumns(0..<n, rows: m, depth: k) { n0, n1 in ck_linear_f32w(x, ldx, w, ldw, y, ldy, m, k, n0, n1) }
        } else {
            ck_linear_f32w(x, ldx, w, ldw, y, ldy, m, k, 0, n)
        }
    }

    /// `c[M, N] = a[M, K] · b[K, N]`, all f32 and row-major (for example SAE encoding `x · W_enc`).
    public static func gemm(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int
    ) {
        gemm(a, lda: k, b, ldb: n, into: c, ldc: n, m: m, k: k, columns: 0..<n)
    }

    /// Strided form of `gemm`, restricted to output columns `columns`. `parallel: false` keeps the work
    /// on the calling thread.
    public static func gemm(
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        into c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, k: Int, columns: Range<Int>, parallel: Bool = true
    ) {
        guard m > 0, !columns.isEmpty else { return }
        precondition(lda >= k && ldb >= columns.upperBound && ldc >= columns.upperBound, "gemm strides too small")
        #if canImport(Accelerate)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(columns.count), Int32(k),
                    1, a, Int32(lda), b + columns.lowerBound, Int32(ldb), 0, c + columns.lowerBound, Int32(ldc))
        #else
        if parallel {
            splitColumns(columns, rows: m, depth: k) { n0, n1 in
                ck_gemm_f32(a, lda, b, ldb, c, ldc, m, k, n0, n1)
            }
        } else {
            ck_gemm_f32(a, lda, b, ldb, c, ldc, m, k, columns.lowerBound, columns.upperBound)
        }
        #endif
    }

    /// Runs `body(n0, n1)` on slices of `columns` across the cores (see the form below).
    private static func splitColumns(_ columns: Range<Int>, rows m: Int, depth k: Int, _ body: (Int, Int) -> Void) {
        splitColumns(parts: [columns.count], rows: m, depth: k) { _, n0, n1 in
            body(columns.lowerBound + n0, columns.lowerBound + n1)
        }
    }

    /// Runs `body(part, n0, n1)` on slices of the output columns of one or more products laid end to
    /// end (columns `n0..<n1` of product `part`), across the cores. Slices are whole 32-column panels
    /// (the GEMM kernels' width), cut again at the products' boundaries. Compute-bound products (more
    /// than 8 rows) are cut into slices that shrink with the work left (half of a thread's share of it,
    /// down to two panels), handed out on demand: a core that the OS takes away for a while delays only
    /// its current slice, and the cores finish within a small slice of each other. Weight-streaming
    /// products (8 rows or fewer: decode) get one contiguous slice per thread: every extra slice
    /// restarts the memory streams, and decode measured 4.7 tok/s with one slice per thread against 3.7
    /// with eight. Products under about 10 µs of work (m·n·k < 2¹⁸) stay on one core, where threading
    /// costs more than it saves.
    private static func splitColumns(parts: [Int], rows m: Int, depth k: Int, _ body: (Int, Int, Int) -> Void) {
        let panel = 32
        var firstPanel = [0]
        for columns in parts { firstPanel.append(firstPanel[firstPanel.count - 1] + (columns + panel - 1) / panel) }
        let panels = firstPanel[parts.count]
        let threads = Parallel.threadCount
        let serial = threads <= 1 || m * parts.reduce(0, +) * max(k, 1) < 1 << 18 || panels <= 1
        var bounds = [0]
        if serial {
            bounds.append(panels)
        } else if m <= 8 {
            let slices = min(panels, threads)
            bounds += (1...slices).map { panels * $0 / slices }
        } else {
            while bounds[bounds.count - 1] < panels {
                let left = panels - bounds[bounds.count - 1]
                bounds.append(bounds[bounds.count - 1] + min(left, max(2, (left + 2 * threads - 1) / (2 * threads))))
            }
        }
        let slices = bounds.count - 1
        func run(_ s: Int) {
            let lo = bounds[s], hi = bounds[s + 1]
            for part in parts.indices where firstPanel[part] < hi && firstPanel[part + 1] > lo {
                let n0 = (max(lo, firstPanel[part]) - firstPanel[part]) * panel
                let n1 = min(parts[part], (min(hi, firstPanel[part + 1]) - firstPanel[part]) * panel)
                if n0 < n1 { body(part, n0, n1) }
            }
        }
        if slices == 1 { run(0) } else { Parallel.run(slices, run) }
    }

    /// Raised whenever a kernel's speed changes, so that `auto` precision timings cached by an older
    /// kernel on the same CPU and version are measured again (2: bf16 products on packed weights; 3: the
    /// AVX-512 f32-activation kernels' one-row tiles; 4: bf16 products on the 12-bit compact copy).
    public static let kernelRevision = 4

    /// Which SIMD path the kernels use: "avx512bf16", "avx512f", "avx2" or "portable".
    public static var kernelPath: String { String(cString: ck_kernel_path()) }

    /// The best path this CPU supports (the one in use unless capped by `CORRSTEER_KERNEL` or
    /// `useKernelPath`).
    public static var detectedKernelPath: String { String(cString: ck_detected_kernel_path()) }

    /// Every path this CPU can run, from the portable C code up to `detectedKernelPath`.
    public static var availableKernelPaths: [String] {
        let all = ["portable", "avx2", "avx512f", "avx512bf16"]
        guard let top = all.firstIndex(of: detectedKernelPath) else { return ["portable"] }
        return Array(all[...top])
    }

    /// Switches every kernel to the named path (for tests and benchmarks); false when the CPU lacks it.
    @discardableResult
    public static func useKernelPath(_ name: String) -> Bool { ck_use_kernel_path(name) == 0 }

    /// Whether `.fast` bf16 products run on bf16 dot-product instructions on the path in use.
    public static var hasBF16DotProduct: Bool { ck_has_bf16_dot() != 0 }
}

extension Tensor {
    /// This bf16 `[N, K]` weight as the bf16 dot-product kernel reads it (`ck_pack_bf16_compact`: 16
    /// columns by k pairs, 12 bits a weight, the same values bit for bit), made on its first `.fast`
    /// product and kept with the storage. The copy is about three quarters of the weight's size; a
    /// weight mapped from a file hands its own pages back to the OS once packed (they are read again
    /// from the file where something else, such as a tied embedding's lookups, reads the weight).
    var packedBF16Pairs: UnsafeRawPointer {
        precondition(dtype == .bf16 && rank == 2, "only bf16 matrices are packed, got \(dtype) \(shape)")
        if let copy = storage.existingDerivedCopy(key: byteOffset) { return copy }
        let n = shape[0], k = shape[1], groups = (n + 15) / 16
        let source = UnsafeRawPointer(rawPointer).assumingMemoryBound(to: UInt16.self)
        // Each group's table and exception lines first: they decide the copy's size.
        var tables = [UInt8](repeating: 0, count: 16 * groups)
        var firsts = [UInt64](repeating: 0, count: groups + 1)
        tables.withUnsafeMutableBufferPointer { tables in
            firsts.withUnsafeMutableBufferPointer { firsts in
                Parallel.forEachChunk(groups, grain: 16) { chunk in
                    for g in chunk {
                        firsts[g + 1] = UInt64(ck_bf16_compact_plan(source, k, n, k, g, tables.baseAddress! + 16 * g))
                    }
                }
            }
        }
        for g in 0..<groups { firsts[g + 1] += firsts[g] }
        let copyBytes = ck_bf16_compact_size(n, k, Int(firsts[groups]))
        return storage.derivedCopy(key: byteOffset, byteCount: copyBytes) { bytes in
            ck_bf16_compact_header(bytes, n, k, tables, firsts)
            Parallel.forEachChunk(groups, grain: 16) { chunk in
                ck_pack_bf16_compact(source, k, n, k, chunk.lowerBound, chunk.upperBound, bytes)
            }
            storage.releasePages(offset: byteOffset, count: byteCount)
        }
    }
}
