import Foundation

/// Large scratch blocks that stay mapped between uses.
///
/// A fresh multi-megabyte allocation comes from the kernel as untouched pages, and the first write to
/// each 4 KB page faults and clears it. A 512-token prefill of Gemma-2-2B takes about 250 MB of such
/// scratch (its KV cache, the layers' activations, the bf16 copies the products read) and glibc hands
/// most of it back to the kernel when it is freed, so every prefill, decode job and collection batch
/// paid the faults again: 2-6 % of a prefill on a Zen 5 (BENCHMARKS.md). Blocks released here are kept
/// for the next request they fit instead, up to `idleLimit` bytes.
///
/// New blocks are cut to size classes, four per power of two (at most 25 % slack). A request takes the
/// smallest idle block that holds it and is at most twice its size, so a collection whose batches vary
/// in length keeps reusing the blocks of its longest batch; a request no idle block fits frees the idle
/// blocks smaller than it before a new one is made. Requests under `minimumPooledBytes` go
/// straight to the allocator, which keeps small blocks mapped anyway. A block's contents are whatever
/// its last user left: callers initialise what they read.
public final class ScratchPool: @unchecked Sendable {
    /// The process's pool: idle room for the scratch of an 8B-model collection batch (about 450 MB), within
    /// the overhead `CollectionMemoryPlan` budgets for buffers and KV caches.
    public static let shared = ScratchPool(idleLimit: 512 << 20)

    /// Smallest request served from the pool.
    public static let minimumPooledBytes = 1 << 16

    /// Most bytes kept idle; past it the largest idle blocks are freed first.
    public let idleLimit: Int
    private let lock = NSLock()
    /// Idle blocks by class size, each a stack (the most recently used pages first).
    private var idle: [Int: [UnsafeMutableRawPointer]] = [:]
    /// Every pooled block handed out, by address: its class size.
    private var outstanding: [UnsafeMutableRawPointer: Int] = [:]
    private var idleTotal = 0

    public init(idleLimit: Int) {
        self.idleLimit = idleLimit
    }

    deinit {
        for blocks in idle.values { blocks.forEach { $0.deallocate() } }
    }

    /// Bytes currently kept idle.
    public var idleBytes: Int { lock.withLock { idleTotal } }

    /// At least `count` elements of `T`, 64-byte aligned, uninitialised. Give it back with `release`.
    public func take<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let n = max(count, 1)
        return take(bytes: n * MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: n)
    }

    /// Returns a block from `take` (to the pool, or to the allocator if it was a small one).
    public func release<T>(_ pointer: UnsafeMutablePointer<T>) {
        release(UnsafeMutableRawPointer(pointer))
    }

    static func classSize(_ bytes: Int) -> Int {
        let top = Int.bitWidth - 1 - bytes.leadingZeroBitCount // floor(log2(bytes))
        let step = 1 << max(top - 2, 0)
        return (bytes + step - 1) / step * step
    }

    private func take(bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= Self.minimumPooledBytes else {
            return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
        let size = Self.classSize(bytes)
        let (reused, outgrown): (UnsafeMutableRawPointer?, [UnsafeMutableRawPointer]) = lock.withLock {
            var fit: Int?
            for (candidate, blocks) in idle where !blocks.isEmpty && candidate >= size && candidate <= 2 * size {
                fit = min(fit ?? candidate, candidate)
            }
            if let fit, let block = idle[fit]?.popLast() {
                idleTotal -= fit
                outstanding[block] = fit
                return (block, [])
            }
            // No idle block fits. The idle blocks smaller than this one most likely served the same
            // buffers before they grew (a longer batch): they go back to the allocator first, so the new
            // block gets pages the process has just released instead of fresh ones. On a cloud VM the
            // first write to a page the guest has not used lately costs ~15 µs, against ~1.2 µs for one
            // just released (Zen 5 guest, BENCHMARKS.md); a collection's second, longer batch spent ~3 %
            // of its time there.
            var smaller: [UnsafeMutableRawPointer] = []
            for candidate in idle.keys.filter({ $0 < size }) {
                let blocks = idle.removeValue(forKey: candidate) ?? []
                idleTotal -= candidate * blocks.count
                smaller += blocks
            }
            return (nil, smaller)
        }
        if let reused { return reused }
        outgrown.forEach { $0.deallocate() }
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        lock.withLock { outstanding[block] = size }
        return block
    }

    private func release(_ block: UnsafeMutableRawPointer) {
        var freed: [UnsafeMutableRawPointer] = []
        let pooled: Bool = lock.withLock {
            guard let size = outstanding.removeValue(forKey: block) else { return false }
            idle[size, default: []].append(block)
            idleTotal += size
            while idleTotal > idleLimit, let largest = idle.keys.filter({ idle[$0]?.isEmpty == false }).max(),
                  let victim = idle[largest]?.popLast() {
                idleTotal -= largest
                freed.append(victim)
            }
            return true
        }
        if !pooled { block.deallocate() }
        freed.forEach { $0.deallocate() }
    }
}
