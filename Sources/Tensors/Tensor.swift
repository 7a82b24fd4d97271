import CKernels

/// A dense row-major tensor: a shape, an element type, and the storage it views.
///
/// Weights keep the dtype of their file (a bf16 checkpoint stays bf16 in memory); activations are f32.
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let dtype: DType
    public let storage: TensorStorage
    /// Byte offset of the first element inside `storage`.
    public let byteOffset: Int

    public init(shape: [Int], dtype: DType, storage: TensorStorage, byteOffset: Int = 0) {
        precondition(byteOffset + shape.reduce(1, *) * dtype.byteSize <= storage.byteCount, "tensor exceeds its storage")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.byteOffset = byteOffset
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        let storage = TensorStorage(zeroedByteCount: shape.reduce(1, *) * dtype.byteSize)
        self.init(shape: shape, dtype: dtype, storage: storage)
    }

    /// An f32 tensor holding `values`, or converted to `dtype` (bf16 rounds to nearest even).
    public init(shape: [Int], values: [Float], dtype: DType = .f32) {
        precondition(values.count == shape.reduce(1, *), "value count \(values.count) does not match shape \(shape)")
        self.init(zeros: shape, dtype: dtype)
        let raw = storage.bytes
        values.withUnsafeBufferPointer { src in
            switch dtype {
            case .f32:
                raw.copyMemory(from: src.baseAddress!, byteCount: values.count * 4)
            case .bf16:
                ck_f32_to_bf16(src.baseAddress!, raw.assumingMemoryBound(to: UInt16.self), values.count)
            case .f16:
                let dst = raw.assumingMemoryBound(to: Float16.self)
                for i in 0..<values.count { dst[i] = Float16(src[i]) }
            }
        }
    }

    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.byteSize }
    public var rank: Int { shape.count }

    /// Pointer to the first element.
    public var rawPointer: UnsafeMutableRawPointer { storage.bytes + byteOffset }

    /// Pointer to f32 elements; only valid for f32 tensors.
    public var floatPointer: UnsafeMutablePointer<Float> {
        precondition(dtype == .f32, "floatPointer on a \(dtype) tensor")
        return rawPointer.assumingMemoryBound(to: Float.self)
    }

    /// All elements widened to f32.
    public func floats() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dst in
            copyFloats(range: 0..<count, into: dst.baseAddress!)
        }
        return out
    }

    /// Widens elements `range` (flat indices) into `dst`.
    public func copyFloats(range: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let n = range.count
        switch dtype {
        case .f32:
            dst.update(from: rawPointer.assumingMemoryBound(to: Float.self) + range.lowerBound, count: n)
        case .bf16:
            ck_bf16_to_f32(rawPointer.assumingMemoryBound(to: UInt16.self) + range.lowerBound, dst, n)
        case .f16:
            ck_f16_to_f32(rawPointer.assumingMemoryBound(to: UInt16.self) + range.lowerBound, dst, n)
        }
    }

    /// Row `i` of a rank-2 tensor widened to f32.
    public func row(_ i: Int) -> [Float] {
        precondition(rank == 2 && i >= 0 && i < shape[0], "row \(i) out of range for shape \(shape)")
        let width = shape[1]
        var out = [Float](repeating: 0, count: width)
        out.withUnsafeMutableBufferPointer { copyFloats(range: i * width..<(i + 1) * width, into: $0.baseAddress!) }
        return out
    }

    /// The same bytes seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, dtype: dtype, storage: storage, byteOffset: byteOffset)
    }

    /// A copy converted to `target` (f32 widening is exact; narrowing rounds to nearest even).
    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        let values = floats()
        return Tensor(shape: shape, values: values, dtype: target)
    }
}
