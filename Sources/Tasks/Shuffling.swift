/// How a split's rows are put in random order.
public enum ShuffleMode: String, Sendable, Codable, CaseIterable {
    /// Our own documented generator (see `SplitMix64Permuter`); the default.
    case corrsteer
    /// Hugging Face `datasets` exactly (numpy `default_rng(seed).permutation`), to reproduce the reference's splits.
    case hf
}

/// Draws permutations and train/test cuts the way Hugging Face `datasets` does, with a choice of generator.
///
/// As in `datasets`, every call starts a fresh generator from the same seed: `shuffle(seed)` is
/// `permutation(n)`, and `train_test_split(test_size=f, seed)` takes a new `permutation(n)` whose first
/// ⌈f·n⌉ entries are the test rows and the rest the train rows, both in permutation order.
public struct Shuffler: Sendable {
    public let mode: ShuffleMode
    public let seed: UInt64

    public init(mode: ShuffleMode, seed: UInt64) {
        self.mode = mode
        self.seed = seed
    }

    public func permutation(_ count: Int) -> [Int] {
        switch mode {
        case .hf:
            var generator = NumpyGenerator(seed: seed)
            return generator.permutation(count)
        case .corrsteer:
            var generator = SplitMix64Permuter(seed: seed)
            return generator.permutation(count)
        }
    }

    /// The rows of `items` in `permutation(items.count)` order.
    public func shuffled<T>(_ items: [T]) -> [T] {
        permutation(items.count).map { items[$0] }
    }

    /// `train_test_split(test_size: testFraction)`: returns (train, test).
    public func trainTestSplit<T>(_ items: [T], testFraction: Double) -> (train: [T], test: [T]) {
        let testCount = Self.testCount(items.count, testFraction: testFraction)
        let order = permutation(items.count)
        let test = order[..<testCount].map { items[$0] }
        let train = order[testCount...].map { items[$0] }
        return (train, test)
    }

    /// ⌈f·n⌉ in double precision, as Python computes `ceil(test_size * n_samples)`.
    public static func testCount(_ count: Int, testFraction: Double) -> Int {
        Int((testFraction * Double(count)).rounded(.up))
    }
}

/// Our default generator: SplitMix64 (Steele, Lea & Flood 2014) seeded with the seed as an unsigned
/// 64-bit integer, and Fisher–Yates from the last position down to 1, where position `i` swaps with
/// `j` uniform in `0...i` drawn by Lemire's multiply-and-reject method on 64-bit outputs.
/// Documented in docs/tasks.md and reproduced by `scripts/fixtures/tasks_shuffle.py`.
struct SplitMix64Permuter {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (Lemire 2019, "Fast random integer generation in an interval").
    mutating func below(_ bound: UInt64) -> UInt64 {
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return product.high
    }

    mutating func permutation(_ count: Int) -> [Int] {
        var values = Array(0..<count)
        var i = count - 1
        while i >= 1 {
            let j = Int(below(UInt64(i) + 1))
            values.swapAt(i, j)
            i -= 1
        }
        return values
    }
}
