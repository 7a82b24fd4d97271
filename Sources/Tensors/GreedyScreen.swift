import CKernels

/// An int8 copy of an LM head `[V, K]` with, per row, what it takes to bound how far a logit read
/// through the copy can be from the logit the head's own product computes. A greedy decode step finds
/// with it the few rows that can hold the largest logit, reading one byte per weight where the head's
/// product reads two (`exact`) or one and a half (`fast`'s compact copy), and computes only those rows
/// with the head's product: the same token as the full head, for half to two thirds of its memory
/// traffic (the head is 23 % of Gemma-2-2B's weights, 13 % of Llama-3.1-8B's).
///
/// The bound. A head row e has scale s = max|e| / 127 and codes q = round(e / s); an input row x (as the
/// product sees it: rounded to bf16 under `.fast`) has scale t = max|x| / 8191 and int16 codes
/// p = round(x / t). The screen's logit is A = s t (q·p), with q·p an exact integer and A within 2⁻⁴⁰|A|
/// of that product in f64. With L the head's logit:
///
///     |L − x·e|        ≤ γ ‖x‖ ‖e‖       the head's f32 sums, in any order (γ = γ_{K+2}, u = 2⁻²⁴)
///     |x·e − s x·q|    ≤ ‖x‖ ‖e − s q‖   Cauchy–Schwarz
///     |s x·q − s t q·p| ≤ s ‖q‖ ‖x − t p‖
///
/// so |L − A| ≤ ‖x‖ slack + ‖x − t p‖ codeNorm + 2⁻⁴⁰|A| + floor, with slack = ‖e − s q‖ + γ‖e‖ and
/// codeNorm = s ‖q‖ computed in f64 and rounded up (slack also covers subnormal weights), and floor
/// covering the subnormal inputs and partial sums `vdpbf16ps` flushes to zero. Every row whose upper
/// bound reaches the largest lower bound is a candidate; the argmax is among them.
public struct GreedyScreen: @unchecked Sendable {
    /// Activation rows per call worth screening. The screen's arithmetic grows with the rows while the
    /// head's bf16 stream does not: at four rows on two Zen 5 cores it still took 9.5–12.7 ms against
    /// 15.1–16.2 for Gemma-2-2B's head.
    public static let maxRows = 4
    /// More candidates than this in a row (logits too flat to tell apart) and the full head runs instead.
    public static let maxCandidates = 4096
    /// Largest depth K whose int32 lane sums cannot overflow (see screen.c).
    static let maxDepth = 16384
    /// Largest input code: 14 bits, so that two products of an int8 code and an input code fit a lane.
    static let inputCodeLimit = 8191.0

    /// The weight (kept so its storage, which holds the copy, outlives this view).
    public let weight: Tensor
    private let codes: UnsafePointer<Int8>
    private let scales: UnsafePointer<Float>
    private let slack: UnsafePointer<Float>
    private let codeNorms: UnsafePointer<Float>
    private let floor: Double
    /// Bytes between code rows (K rounded up to 64, zero-padded).
    private let stride: Int

    /// Greedy requests for at least this many new tokens build the screen; shorter ones use it only if
    /// it exists. At Gemma-2-2B's shape on two Zen 5 cores building took 1.6–2.2 s (most of it the OS
    /// handing over 593 MB of fresh 2 MB pages) and saved about 7 ms per step.
    public static let tokensWorthBuilding = 256

    /// Whether a greedy request for `newTokens` tokens builds the screen (see `tokensWorthBuilding`).
    public static func isWorthBuilding(forNewTokens newTokens: Int) -> Bool { newTokens >= tokensWorthBuilding }

    /// The screen of `weight`, kept with its storage and built now if `build` and not yet made; nil for a
    /// weight that is not a matrix (or deeper than 16384), or not built.
    public init?(weight: Tensor, build: Bool = true) {
        guard weight.rank == 2, weight.shape[0] > 0, (1...Self.maxDepth).contains(weight.shape[1]) else { return nil }
        let layout = Layout(rows: weight.shape[0], depth: weight.shape[1])
        // Keys of derived copies name the part and the layout: packed bf16 copies use the byte offset.
        let key = -1 - weight.byteOffset
        let existing = weight.storage.existingDerivedCopy(key: key)
        guard build || existing != nil else { return nil }
        let base = existing ?? weight.storage.derivedCopy(key: key, byteCount: layout.byteCount) { bytes in
            Self.build(weight, layout: layout, into: bytes)
        }
        self.weight = weight
        stride = layout.stride
        floor = base.load(as: Double.self)
        scales = (base + layout.scales).assumingMemoryBound(to: Float.self)
        slack = (base + layout.slack).assumingMemoryBound(to: Float.self)
        codeNorms = (base + layout.codeNorms).assumingMemoryBound(to: Float.self)
        codes = (base + layout.codes).assumingMemoryBound(to: Int8.self)
    }

    /// Bytes of the copy for a `[rows, depth]` weight (what a memory plan must add when decoding greedily).
    public static func byteCount(rows: Int, depth: Int) -> Int {
        Layout(rows: rows, depth: depth).byteCount
    }

    private struct Layout {
        let stride: Int, scales: Int, slack: Int, codeNorms: Int, codes: Int, byteCount: Int
        init(rows: Int, depth: Int) {
            stride = (depth + 63) / 64 * 64
            scales = 64
            slack = scales + 4 * rows
            codeNorms = slack + 4 * rows
            codes = (codeNorms + 4 * rows + 63) / 64 * 64
            byteCount = codes + rows * stride
        }
    }

    private static func build(_ weight: Tensor, layout: Layout, into bytes: UnsafeMutableRawPointer) {
        let rows = weight.shape[0], depth = weight.shape[1], stride = layout.stride
        let gamma: Double = {
            let nu = Double(depth + 2) * 0x1p-24
            return nu / (1 - nu)
        }()
        let subnormalWeights = Double(depth).squareRoot() * 0x1p-126
        let scales = (bytes + layout.scales).assumingMemoryBound(to: Float.self)
        let slack = (bytes + layout.slack).assumingMemoryBound(to: Float.self)
        let codeNorms = (bytes + layout.codeNorms).assumingMemoryBound(to: Float.self)
        let codes = (bytes + layout.codes).assumingMemoryBound(to: Int8.self)
        let chunks = Parallel.threadCount
        var largest = [Float](repeating: 0, count: chunks)
        largest.withUnsafeMutableBufferPointer { largest in
            Parallel.forEach(chunks) { chunk in
                let row = ScratchPool.shared.take(Float.self, count: depth)
                defer { ScratchPool.shared.release(row) }
                for n in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) {
                    weight.copyFloats(range: n * depth..<(n + 1) * depth, into: row)
                    let code = codes + n * stride
                    code.update(repeating: 0, count: stride)
                    var scale: Float = 0
                    var sums = (0.0, 0.0, 0.0)
                    let status = withUnsafeMutablePointer(to: &sums) {
                        $0.withMemoryRebound(to: Double.self, capacity: 3) { ck_screen_quantize(row, depth, code, &scale, $0) }
                    }
                    guard status == 0 else {
                        // A row the bound cannot describe is always a candidate.
                        scales[n] = 0
                        slack[n] = .infinity
                        codeNorms[n] = .infinity
                        continue
                    }
                    largest[chunk] = max(largest[chunk], scale * 128)
                    let (residual, norm, codeNorm) = sums
                    let s = Double(scale)
                    scales[n] = scale
                    // The last term: weights below 2⁻¹²⁶ that `vdpbf16ps` reads as zero (Σ|x_k| 2⁻¹²⁶ ≤ √K ‖x‖ 2⁻¹²⁶).
                    slack[n] = Float((residual.squareRoot() + gamma * norm.squareRoot() + subnormalWeights) * (1 + 0x1p-20)).nextUp
                    codeNorms[n] = Float(s * codeNorm.squareRoot() * (1 + 0x1p-20)).nextUp
                }
            }
        }
        // Each of the K steps of a sum may flush a subnormal input or partial sum to zero.
        let top = Double(largest.max() ?? 0)
        bytes.storeBytes(of: 4 * Double(depth) * 0x1p-126 * (top + 1), as: Double.self)
    }

    /// The head rows whose logit can be the largest for one input row.
    public struct Candidates: Sendable {
        /// Ascending; the argmax of the head's logits is one of them.
        public var rows: [Int]
        /// Every other row's logit is below this (and some candidate's is at or above it).
        public var threshold: Double
    }

    /// For each of `count` rows of `x` (`ldx` floats apart, the head's input before any rounding), the
    /// candidates; nil for a row the screen cannot narrow down (a non-finite input, or more than
    /// `maxCandidates` candidates). `precision` is the head product's.
    public func candidates(_ x: UnsafePointer<Float>, ldx: Int, count: Int, precision: MatMulPrecision? = nil) -> [Candidates?] {
        let rows = weight.shape[0], depth = weight.shape[1]
        guard count > 0 else { return [] }
        let inputs = ScratchPool.shared.take(Int16.self, count: count * stride)
        let scores = ScratchPool.shared.take(Int64.self, count: count * rows)
        let row = ScratchPool.shared.take(Float.self, count: depth)
        defer {
            ScratchPool.shared.release(inputs)
            ScratchPool.shared.release(scores)
            ScratchPool.shared.release(row)
        }
        let rounds = MatMul.roundsActivations(of: weight, precision: precision)
        var settings: [ck_screen_input?] = []
        for m in 0..<count {
            if rounds { ck_round_to_bf16(x + m * ldx, row, depth) } else { row.update(from: x + m * ldx, count: depth) }
            let input = inputs + m * stride
            input.update(repeating: 0, count: stride)
            var top = 0.0, norm = 0.0
            for k in 0..<depth {
                let v = Double(row[k])
                top = max(top, abs(v))
                norm += v * v
            }
            // A NaN or infinity in the row makes the sum of squares NaN or infinite.
            guard norm.isFinite else {
                settings.append(nil)
                continue
            }
            let scale = top / Self.inputCodeLimit
            var residual = 0.0
            for k in 0..<depth where scale > 0 {
                let v = Double(row[k]), code = min(Self.inputCodeLimit, max(-Self.inputCodeLimit, (v / scale).rounded()))
                input[k] = Int16(code)
                residual += (v - scale * code) * (v - scale * code)
            }
            settings.append(ck_screen_input(x_scale: scale, norm: norm.squareRoot() * (1 + 0x1p-20),
                                            quantization: residual.squareRoot() * (1 + 0x1p-20), floor: floor))
        }
        // Each thread screens its own run of rows and takes their lower bounds' maximum while the scores
        // are in its cache; the candidates are then gathered per run, in order.
        let parts = max(1, min(Parallel.threadCount, rows / 4096))
        func part(_ p: Int) -> Range<Int> { (rows * p / parts)..<(rows * (p + 1) / parts) }
        var lowest = [Double](repeating: -.infinity, count: parts * count)
        lowest.withUnsafeMutableBufferPointer { lowest in
            Parallel.forEach(parts) { p in
                let range = part(p)
                ck_screen_i8(inputs, stride, count, codes, stride, range.lowerBound, range.upperBound, scores, rows)
                for m in 0..<count {
                    guard var setting = settings[m] else { continue }
                    lowest[p * count + m] = ck_screen_threshold(&setting, scores + m * rows, scales, slack, codeNorms,
                                                                range.lowerBound, range.upperBound)
                }
            }
        }
        let thresholds = (0..<count).map { m in (0..<parts).map { lowest[$0 * count + m] }.max()! }
        var found = [[Int32]](repeating: [], count: parts * count)
        var totals = [Int](repeating: 0, count: parts * count)
        found.withUnsafeMutableBufferPointer { found in
            totals.withUnsafeMutableBufferPointer { totals in
                Parallel.forEach(parts) { p in
                    let range = part(p)
                    for m in 0..<count where thresholds[m].isFinite {
                        guard var setting = settings[m] else { continue }
                        var rowsFound = [Int32](repeating: 0, count: Self.maxCandidates + 1)
                        let total = rowsFound.withUnsafeMutableBufferPointer {
                            ck_screen_collect(&setting, scores + m * rows, scales, slack, codeNorms, range.lowerBound,
                                              range.upperBound, thresholds[m], $0.baseAddress!, $0.count)
                        }
                        rowsFound.removeSubrange(min(total, rowsFound.count)...)
                        found[p * count + m] = rowsFound
                        totals[p * count + m] = total
                    }
                }
            }
        }
        return (0..<count).map { m in
            guard settings[m] != nil, thresholds[m].isFinite,
                  (0..<parts).reduce(0, { $0 + totals[$1 * count + m] }) <= Self.maxCandidates else { return nil }
            return Candidates(rows: (0..<parts).flatMap { found[$0 * count + m].map(Int.init) }, threshold: thresholds[m])
        }
    }
}
