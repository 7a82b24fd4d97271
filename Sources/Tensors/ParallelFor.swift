import CKernels
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
        run(threads) { t in
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

    /// Calls `body(i)` for every `i` in `0..<count` on the calling thread and the other cores, and returns
    /// when all have returned. Uses the kernels' spinning pool (`ck_pool_run`, see pool.c for why and
    /// what it measured); when the pool is busy (a nested or concurrent run) or unavailable, Dispatch
    /// runs the work instead.
    public static func run(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || threadCount <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let pooled = withoutActuallyEscaping(body) { task -> Bool in
            var task = task
            return withUnsafeMutablePointer(to: &task) { pointer in
                ck_pool_run(Int32(threadCount), count, { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer) == 0
            }
        }
        if !pooled { DispatchQueue.concurrentPerform(iterations: count, execute: body) }
    }
}
