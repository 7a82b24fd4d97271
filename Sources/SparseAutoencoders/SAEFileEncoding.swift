import Foundation
import Tensors
import WeightFiles

extension SparseAutoencoder {
    /// Encodes tensor `name` (`[N, d_in]`, f32/f16/bf16) of the safetensors file `input` and writes
    /// `z` (`[N, d_sae]`, f32) to `output`, which appears only once complete. Returns N.
    @discardableResult
    public func encodeFile(input: URL, tensor name: String = "x", output: URL) throws -> Int {
        let file = try SafeTensorsFile(url: input)
        let x = try file.tensor(name)
        guard x.rank == 2, x.shape[1] == dIn else {
            throw SAEError.shapeMismatch(path: file.path, tensor: name, expected: [x.rank == 2 ? x.shape[0] : -1, dIn], actual: x.shape)
        }
        let rows = x.shape[0]
        var z = [Float](repeating: 0, count: rows * dSAE)
        // Batches bound the temporary f32 copy of the input; each is still one GEMM.
        let batch = 256
        var start = 0
        var buffer = [Float](repeating: 0, count: min(rows, batch) * dIn)
        while start < rows {
            let count = min(batch, rows - start)
            buffer.withUnsafeMutableBufferPointer { b in
                x.copyFloats(range: start * dIn..<(start + count) * dIn, into: b.baseAddress!)
                z.withUnsafeMutableBufferPointer { out in
                    encode(UnsafePointer(b.baseAddress!), rows: count, into: out.baseAddress! + start * dSAE)
                }
            }
            start += count
        }
        try SafeTensorsWriter.write(
            [.init(name: "z", shape: [rows, dSAE], floats: z)], metadata: ["sae": path, "hook_name": hookName], to: output)
        return rows
    }
}
