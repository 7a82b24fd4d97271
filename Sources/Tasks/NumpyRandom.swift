/// A bit-exact reproduction of `numpy.random.default_rng(seed).permutation(n)` for a non-negative
/// integer seed: `SeedSequence(seed)` → `PCG64` → `Generator.shuffle` (Fisher–Yates from the end, with
/// numpy's masked-rejection bounded integers, which draw 32-bit halves of a buffered 64-bit output).
/// Hugging Face `datasets` draws every `shuffle(seed=)` and `train_test_split(seed=)` permutation this way.
struct NumpyGenerator {
    private var pcg: PCG64

    init(seed: UInt64) {
        let words = SeedSequence(entropy: seed).generateState64(count: 4)
        pcg = PCG64(initState: UInt128Parts(high: words[0], low: words[1]),
                    initSequence: UInt128Parts(high: words[2], low: words[3]))
    }

    /// `Generator.permutation(n)`.
    mutating func permutation(_ count: Int) -> [Int] {
        var values = Array(0..<count)
        var i = count - 1
        while i >= 1 {
            let j = Int(boundedInterval(UInt64(i)))
            values.swapAt(i, j)
            i -= 1
        }
        return values
    }

    /// numpy's `random_interval(max)`: a uniform integer in `0...max` by masking and rejection.
    private mutating func boundedInterval(_ max: UInt64) -> UInt64 {
        if max == 0 { return 0 }
        var mask = max
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        mask |= mask >> 32
        if max <= 0xFFFF_FFFF {
            while true {
                let value = UInt64(pcg.next32()) & mask
                if value <= max { return value }
            }
        }
        while true {
            let value = pcg.next64() & mask
            if value <= max { return value }
        }
    }
}

/// A 128-bit unsigned integer as two halves (Swift's `UInt128` needs macOS 15).
struct UInt128Parts: Equatable {
    var high: UInt64
    var low: UInt64

    static func &+ (a: UInt128Parts, b: UInt128Parts) -> UInt128Parts {
        let (low, carry) = a.low.addingReportingOverflow(b.low)
        return UInt128Parts(high: a.high &+ b.high &+ (carry ? 1 : 0), low: low)
    }

    static func &* (a: UInt128Parts, b: UInt128Parts) -> UInt128Parts {
        let (productHigh, productLow) = a.low.multipliedFullWidth(by: b.low)
        let cross = a.high &* b.low &+ a.low &* b.high
        return UInt128Parts(high: productHigh &+ cross, low: productLow)
    }
}

/// numpy's PCG64: the 128-bit LCG with XSL-RR output, stepped before each output.
struct PCG64 {
    private static let multiplier = UInt128Parts(high: 0x2360_ED05_1FC6_5DA4, low: 0x4385_DF64_9FCC_F645)
    private var state: UInt128Parts
    private let increment: UInt128Parts
    private var bufferedHalf: UInt32?

    /// `pcg_setseq_128_srandom_r`.
    init(initState: UInt128Parts, initSequence: UInt128Parts) {
        increment = UInt128Parts(high: (initSequence.high << 1) | (initSequence.low >> 63), low: (initSequence.low << 1) | 1)
        state = UInt128Parts(high: 0, low: 0)
        step()
        state = state &+ initState
        step()
    }

    private mutating func step() {
        state = state &* Self.multiplier &+ increment
    }

    mutating func next64() -> UInt64 {
        step()
        let folded = state.high ^ state.low
        let rotation = state.high >> 58
        return (folded >> rotation) | (folded << ((64 &- rotation) & 63))
    }

    /// The low half of a fresh 64-bit output, then its high half on the next call.
    mutating func next32() -> UInt32 {
        if let half = bufferedHalf {
            bufferedHalf = nil
            return half
        }
        let value = next64()
        bufferedHalf = UInt32(truncatingIfNeeded: value >> 32)
        return UInt32(truncatingIfNeeded: value)
    }
}

/// numpy's `SeedSequence` for an integer entropy and no spawn key (pool size 4, 32-bit words).
struct SeedSequence {
    private static let initA: UInt32 = 0x43B0_D7E5
    private static let multA: UInt32 = 0x931E_8875
    private static let initB: UInt32 = 0x8B51_F9DD
    private static let multB: UInt32 = 0x58F3_8DED
    private static let mixMultL: UInt32 = 0xCA01_F9DD
    private static let mixMultR: UInt32 = 0x4973_F715
    private static let poolSize = 4

    private var pool: [UInt32]

    init(entropy: UInt64) {
        // An integer becomes little-endian 32-bit words; zero is the single word 0.
        var words: [UInt32] = []
        var rest = entropy
        if rest == 0 { words = [0] }
        while rest > 0 {
            words.append(UInt32(truncatingIfNeeded: rest))
            rest >>= 32
        }
        var hashConstant = Self.initA
        func hashmix(_ input: UInt32) -> UInt32 {
            var value = input ^ hashConstant
            hashConstant = hashConstant &* Self.multA
            value = value &* hashConstant
            return value ^ (value >> 16)
        }
        func mix(_ x: UInt32, _ y: UInt32) -> UInt32 {
            let result = Self.mixMultL &* x &- Self.mixMultR &* y
            return result ^ (result >> 16)
        }
        var mixer = [UInt32](repeating: 0, count: Self.poolSize)
        for i in 0..<Self.poolSize {
            mixer[i] = hashmix(i < words.count ? words[i] : 0)
        }
        for source in 0..<Self.poolSize {
            for destination in 0..<Self.poolSize where source != destination {
                mixer[destination] = mix(mixer[destination], hashmix(mixer[source]))
            }
        }
        if words.count > Self.poolSize {
            for source in Self.poolSize..<words.count {
                for destination in 0..<Self.poolSize {
                    mixer[destination] = mix(mixer[destination], hashmix(words[source]))
                }
            }
        }
        pool = mixer
    }

    /// `generate_state(count, np.uint64)`: pairs of 32-bit words, low word first.
    func generateState64(count: Int) -> [UInt64] {
        var hashConstant = Self.initB
        var words: [UInt32] = []
        for i in 0..<(count * 2) {
            var value = pool[i % Self.poolSize] ^ hashConstant
            hashConstant = hashConstant &* Self.multB
            value = value &* hashConstant
            value ^= value >> 16
            words.append(value)
        }
        return (0..<count).map { UInt64(words[2 * $0]) | (UInt64(words[2 * $0 + 1]) << 32) }
    }
}
