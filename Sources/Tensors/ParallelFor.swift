import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits work across the machine's cores.
public enum Parallel {
    /// Number of worker threads: `CORRSTEER_THREADS` when set, else the online core count.
    public static let threadCount: Int = {
        if let text = getenv("CORRSTEER_THREADS").map({ String(cString: $0) }), let n = Int(text), n > 0 {
            return n
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()

    /// Calls `body(chunkRange)` on contiguous chunks covering `0..<count`, in parallel. Chunks are
    /// multiples of `grain` (except the last) so that kernels see aligned blocks.
    public static func forEachChunk(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let threads = min(threadCount, (count + grain - 1) / grain)
        if threads <= 1 {
            body(0..<count)
            return
        }
        let blocks = (count + grain - 1) / grain
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let b0 = blocks * t / threads
            let b1 = blocks * (t + 1) / threads
            let lo = min(count, b0 * grain)
            let hi = min(count, b1 * grain)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Calls `body(i)` for every `i` in `0..<count`, spread over the cores.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forEachChunk(count) { range in
            for i in range { body(i) }
        }
    }
}
