extension Tensor {
    /// Index of the first NaN or ±Inf element, or nil when every element is finite.
    ///
    /// A value is non-finite exactly when its exponent field is all ones, so the scan tests bits
    /// instead of converting: it ORs a flag over blocks (which the compiler vectorises) and only
    /// walks a block element by element once it holds a bad value. Cost is one sequential read of
    /// the data, far less than paging a memory-mapped checkpoint in from disk.
    public func firstNonFiniteIndex() -> Int? {
        let n = count
        switch dtype {
        case .f32:
            return Self.firstAllOnes(rawPointer.assumingMemoryBound(to: UInt32.self), count: n, mask: 0x7F80_0000)
        case .f16:
            return Self.firstAllOnes(rawPointer.assumingMemoryBound(to: UInt16.self), count: n, mask: 0x7C00)
        case .bf16:
            return Self.firstAllOnes(rawPointer.assumingMemoryBound(to: UInt16.self), count: n, mask: 0x7F80)
        }
    }

    private static func firstAllOnes<T: FixedWidthInteger>(_ p: UnsafePointer<T>, count: Int, mask: T) -> Int? {
        let block = 4096
        var start = 0
        while start < count {
            let end = min(start + block, count)
            var any: T = 0
            // Branch-free: (x & mask) ^ mask is zero only for an all-ones exponent.
            for i in start..<end {
                let bits = (p[i] & mask) ^ mask
                any |= bits == 0 ? 1 : 0
            }
            if any != 0 {
                for i in start..<end where p[i] & mask == mask { return i }
            }
            start = end
        }
        return nil
    }
}
