import Foundation

/// Rotary position embedding in the rotate-half convention of Hugging Face Llama/Gemma: within each head,
/// dimension i is paired with i + d/2 and rotated by the angle position · inverseFrequency[i].
public struct RotaryEmbedding: Sendable, Equatable {
    /// The Llama-3.x frequency rescaling (`rope_type: llama3`).
    public struct Llama3Scaling: Sendable, Equatable {
        public var factor: Double
        public var lowFrequencyFactor: Double
        public var highFrequencyFactor: Double
        public var originalMaxPositions: Int

        public init(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositions: Int) {
            self.factor = factor
            self.lowFrequencyFactor = lowFrequencyFactor
            self.highFrequencyFactor = highFrequencyFactor
            self.originalMaxPositions = originalMaxPositions
        }
    }

    public let headDimension: Int
    /// One inverse frequency per rotated pair (headDimension / 2 of them).
    public let inverseFrequencies: [Float]

    /// Frequencies computed as transformers does, in f32: 1 / base^(2i/d), then the llama3 rule when given
    /// (wavelength 2π/f below L/high kept, above L/low divided by the factor, smoothly blended between),
    /// or the linear rule (every frequency divided by `linearFactor`, i.e. positions scaled down).
    public init(headDimension: Int, base: Double, llama3: Llama3Scaling? = nil, linearFactor: Double? = nil) {
        precondition(headDimension % 2 == 0, "rotary head dimension must be even, got \(headDimension)")
        self.headDimension = headDimension
        let baseF = Float(base)
        var frequencies = (0..<(headDimension / 2)).map { i -> Float in
            let exponent = Float(2 * i) / Float(headDimension)
            return 1 / Float(Foundation.pow(Double(baseF), Double(exponent)))
        }
        if let s = llama3 {
            let factor = Float(s.factor), low = Float(s.lowFrequencyFactor), high = Float(s.highFrequencyFactor)
            let context = Float(s.originalMaxPositions)
            let lowWavelength = context / low
            let highWavelength = context / high
            frequencies = frequencies.map { f in
                let wavelength = 2 * Float.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / factor }
                let smooth = (context / wavelength - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
        if let linearFactor {
            let factor = Float(linearFactor)
            frequencies = frequencies.map { $0 / factor }
        }
        inverseFrequencies = frequencies
    }

    /// Fills `cos` and `sin` ([positions.count, d/2] each) for the given absolute positions.
    public func table(positions: UnsafePointer<Int32>, count: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let half = headDimension / 2
        for r in 0..<count {
            let p = Float(positions[r])
            for i in 0..<half {
                // The angle is rounded to f32 before cos/sin, as torch computes it.
                let angle = Double(p * inverseFrequencies[i])
                cos[r * half + i] = Float(Foundation.cos(angle))
                sin[r * half + i] = Float(Foundation.sin(angle))
            }
        }
    }

    /// Rotates `heads` heads of each row in place: row r starts at `x + r·rowStride`, head h at `+ h·d`.
    public func apply(
        to x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, rowStride: Int,
        cos: UnsafePointer<Float>, sin: UnsafePointer<Float>
    ) {
        let half = headDimension / 2
        Parallel.forEachChunk(rows, grain: 16) { range in
            for r in range {
                let c = cos + r * half, s = sin + r * half
                for h in 0..<heads {
                    let v = x + r * rowStride + h * headDimension
                    for i in 0..<half {
                        let a = v[i], b = v[i + half]
                        v[i] = a * c[i] - b * s[i]
                        v[i + half] = b * c[i] + a * s[i]
                    }
                }
            }
        }
    }
}
