/// SplitMix64 (Steele, Lea & Flood 2014): state += 0x9E3779B97F4A7C15, then two xor-shift-multiply
/// rounds. Tiny, fully specified and easy to reproduce in numpy, which is why the bootstrap stream
/// (docs/run-directory.md), sampling and the benchmark data all draw from it. (The task shuffle in
/// `Tasks` keeps its own copy: that module depends on nothing, and its stream is a documented contract.)
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Independent streams from one seed (one per generated sequence): the seed mixed with the stream
    /// index, one output discarded.
    public init(seed: UInt64, stream: Int) {
        state = seed ^ (UInt64(truncatingIfNeeded: stream) &* 0x9E37_79B9_7F4A_7C15)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [0, 1) with 24 random bits (exact in a Float).
    public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }
}
