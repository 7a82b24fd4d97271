import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Speed and memory measurements of SAE encoding (not tests: figures for `sae-encode --bench` and
/// `sae-info --measure-memory`).
public enum SAEBenchmark {
    public struct EncodeResult: Codable, Sendable {
        public var dIn: Int
        public var dSAE: Int
        public var rows: Int
        public var repeats: Int
        public var threads: Int
        /// Median seconds per call.
        public var gemmSeconds: Double
        public var encodeSeconds: Double
        /// The same encoder viewed at an odd byte offset, as a stored `.npz` member usually is.
        public var encodeUnalignedSeconds: Double
        public var gemmGFLOPS: Double
        public var encodeGFLOPS: Double
        public var encodeUnalignedGFLOPS: Double
        /// Encode rate as a fraction of the plain GEMM rate.
        public var ratio: Double
        public var unalignedRatio: Double

        init(dIn: Int, dSAE: Int, rows: Int, repeats: Int, threads: Int, gemmSeconds: Double, encodeSeconds: Double, encodeUnalignedSeconds: Double) {
            (self.dIn, self.dSAE, self.rows, self.repeats, self.threads) = (dIn, dSAE, rows, repeats, threads)
            (self.gemmSeconds, self.encodeSeconds, self.encodeUnalignedSeconds) = (gemmSeconds, encodeSeconds, encodeUnalignedSeconds)
            let flops = 2 * Double(rows) * Double(dIn) * Double(dSAE)
            gemmGFLOPS = flops / gemmSeconds / 1e9
            encodeGFLOPS = flops / encodeSeconds / 1e9
            encodeUnalignedGFLOPS = flops / encodeUnalignedSeconds / 1e9
            ratio = gemmSeconds / encodeSeconds
            unalignedRatio = gemmSeconds / encodeUnalignedSeconds
        }
    }

    /// Encoding `rows` rows through a random JumpReLU encoder of `dIn × dSAE` (f32, in memory) against
    /// the plain f32 product `x · W_enc` of the same shape, timed alternately in the same session.
    public static func encodeVersusGEMM(dIn: Int = 2304, dSAE: Int = 16_384, rows: Int = 64, repeats: Int = 20, seed: UInt64 = 1) -> EncodeResult {
        var random = SplitMix64(seed: seed)
        let weight = Tensor(zeros: [dIn, dSAE])
        random.fill(weight.floatPointer, count: dIn * dSAE, scale: 1 / Float(dIn).squareRoot())
        // The same values one byte past 4-byte alignment.
        let unalignedStorage = TensorStorage(zeroedByteCount: dIn * dSAE * 4 + 8)
        (unalignedStorage.bytes + 3).copyMemory(from: weight.rawPointer, byteCount: dIn * dSAE * 4)
        let unaligned = Tensor(shape: [dIn, dSAE], dtype: .f32, storage: unalignedStorage, byteOffset: 3)
        var bias = [Float](repeating: 0, count: dSAE), thresholds = bias
        for j in 0..<dSAE {
            bias[j] = random.nextFloat() * 0.2 - 0.1
            thresholds[j] = random.nextFloat() * 0.5 + 0.2
        }
        func encoder(_ w: Tensor) -> SAEEncoder {
            SAEEncoder(dIn: dIn, dSAE: dSAE, weight: .inputMajor(w), activation: .jumpReLU(bias: bias, thresholds: thresholds),
                       normalization: .none, inputShift: nil)
        }
        let aligned = encoder(weight), offset = encoder(unaligned)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: rows * dIn)
        let z = UnsafeMutablePointer<Float>.allocate(capacity: rows * dSAE)
        defer { x.deallocate(); z.deallocate() }
        random.fill(x, count: rows * dIn, scale: 1)

        var gemm: [Double] = [], encode: [Double] = [], encodeOffset: [Double] = []
        for round in 0...repeats {
            let t0 = now()
            MatMul.gemm(x, UnsafePointer(weight.floatPointer), into: z, m: rows, k: dIn, n: dSAE)
            let t1 = now()
            aligned.encode(x, rows: rows, into: z)
            let t2 = now()
            offset.encode(x, rows: rows, into: z)
            let t3 = now()
            if round > 0 {  // the first round warms caches and thread pools
                gemm.append(t1 - t0)
                encode.append(t2 - t1)
                encodeOffset.append(t3 - t2)
            }
        }
        return EncodeResult(
            dIn: dIn, dSAE: dSAE, rows: rows, repeats: repeats, threads: Parallel.threadCount,
            gemmSeconds: median(gemm), encodeSeconds: median(encode), encodeUnalignedSeconds: median(encodeOffset))
    }

    public struct MemoryResult: Codable, Sendable {
        public var saes: Int
        public var layers: [Int]
        /// Bytes of encoder weights the SAEs reference (mapped or owned).
        public var encoderBytes: Int
        /// Bytes of decoder weights in the files, none of which should be resident.
        public var decoderBytes: Int
        public var loadSeconds: Double
        public var encodeSeconds: Double
        public var before: ProcessMemory.Resident
        public var afterLoad: ProcessMemory.Resident
        public var afterEncode: ProcessMemory.Resident
    }

    /// Loads every SAE found at `path` encoder-only, then encodes `rows` random rows through each,
    /// reading the resident set before, after loading and after encoding.
    public static func encoderMemory(path: URL, layers: [Int]? = nil, width: String? = nil, rows: Int = 8) throws -> MemoryResult {
        let references = try SAESet.discover(path: path, layers: layers, width: width)
        let before = ProcessMemory.resident()
        let t0 = now()
        let saes = try references.sorted { $0.key < $1.key }.map { try SparseAutoencoder.load($0.value, encoderOnly: true) }
        let t1 = now()
        let afterLoad = ProcessMemory.resident()
        var random = SplitMix64(seed: 7)
        for sae in saes {
            let x = (0..<(rows * sae.dIn)).map { _ in random.nextFloat() * 2 - 1 }
            _ = sae.encode(x, rows: rows)
        }
        let t2 = now()
        let afterEncode = ProcessMemory.resident()
        return MemoryResult(
            saes: saes.count, layers: saes.map(\.layer), encoderBytes: saes.reduce(0) { $0 + $1.encoderByteCount },
            decoderBytes: saes.reduce(0) { $0 + $1.dSAE * $1.dIn * $1.dtype.byteSize },
            loadSeconds: t1 - t0, encodeSeconds: t2 - t1, before: before, afterLoad: afterLoad, afterEncode: afterEncode)
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }
}

/// This process's resident memory, from /proc (Linux); zeros elsewhere.
public enum ProcessMemory {
    public struct Resident: Codable, Sendable {
        public var total: Int
        /// Heap and other private memory.
        public var anonymous: Int
        /// Pages of mapped files (memory-mapped weights).
        public var file: Int
    }

    public static func resident() -> Resident {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return Resident(total: 0, anonymous: 0, file: 0)
        }
        func field(_ name: String) -> Int {
            for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
                let digits = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
                return digits * 1024
            }
            return 0
        }
        return Resident(total: field("VmRSS"), anonymous: field("RssAnon"), file: field("RssFile"))
    }
}

extension SplitMix64 {
    /// Benchmark data: `count` values uniform in ±`scale`.
    mutating func fill(_ p: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        for i in 0..<count { p[i] = (nextFloat() * 2 - 1) * scale }
    }
}
