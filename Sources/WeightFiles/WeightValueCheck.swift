import InputQuoting
import Tensors

/// Load-time checks on weight values (not just shapes): a NaN or ±Inf weight silently turns every
/// activation it touches into NaN, so loaders report it up front, naming the file and tensor.
public enum WeightValueCheck {
    /// Set once at startup by the command line's `--allow-nonfinite`, before any loading: load
    /// files whose weights hold NaN or ±Inf anyway (for inspecting a damaged checkpoint).
    nonisolated(unsafe) public static var allowsNonFinite = false

    /// Throws `invalidTensor` naming the first non-finite element of `tensor`, unless allowed.
    public static func requireFinite(_ tensor: Tensor, name: String, path: String) throws {
        guard !allowsNonFinite, let index = tensor.firstNonFiniteIndex() else { return }
        let value = Tensor(shape: [1], dtype: tensor.dtype, storage: tensor.storage,
                           byteOffset: tensor.byteOffset + index * tensor.dtype.byteSize).floats()[0]
        throw WeightFileError.invalidTensor(
            path: path, tensor: name,
            reason: "element \(index) (of shape \(tensor.shape)) is \(value); the weights are damaged (pass --allow-nonfinite to load them anyway)")
    }

    /// The same for values already widened to f32 (biases, thresholds, decoder rows).
    public static func requireFinite(_ values: [Float], name: String, path: String) throws {
        guard !allowsNonFinite, let index = values.firstIndex(where: { !$0.isFinite }) else { return }
        throw WeightFileError.invalidTensor(
            path: path, tensor: name,
            reason: "element \(index) (of \(values.count)) is \(values[index]); the weights are damaged (pass --allow-nonfinite to load them anyway)")
    }
}
