import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `.safetensors` files. The file appears under its final name only once complete
/// (written beside it, then renamed), so a killed process never leaves half a file.
public enum SafeTensorsWriter {
    public struct Entry {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        public let bytes: Data

        public init(name: String, dtype: String, shape: [Int], bytes: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(name: String, tensor: Tensor) {
            self.init(name: name, dtype: tensor.dtype.rawValue, shape: tensor.shape,
                      bytes: Data(bytes: tensor.rawPointer, count: tensor.byteCount))
        }

        public init(name: String, shape: [Int], floats: [Float]) {
            self.init(name: name, dtype: "F32", shape: shape, bytes: floats.withUnsafeBytes { Data($0) })
        }

        public init(name: String, shape: [Int], doubles: [Double]) {
            self.init(name: name, dtype: "F64", shape: shape, bytes: doubles.withUnsafeBytes { Data($0) })
        }

        public init(name: String, shape: [Int], int64s: [Int64]) {
            self.init(name: name, dtype: "I64", shape: shape, bytes: int64s.withUnsafeBytes { Data($0) })
        }
    }

    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for entry in entries {
            guard let size = SafeTensorsFile.byteSizes[entry.dtype] else {
                throw WeightFileError.writeFailed(path: url.path, reason: "tensor '\(entry.name)': unknown dtype \(entry.dtype)")
            }
            guard entry.shape.reduce(1, *) * size == entry.bytes.count else {
                throw WeightFileError.writeFailed(path: url.path, reason: "tensor '\(entry.name)': \(entry.bytes.count) bytes do not match shape \(entry.shape) of \(entry.dtype)")
            }
            guard header[entry.name] == nil else {
                throw WeightFileError.writeFailed(path: url.path, reason: "tensor '\(entry.name)' appears twice")
            }
            header[entry.name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [offset, offset + entry.bytes.count]]
            offset += entry.bytes.count
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data area starts 8-byte aligned, as the reference writer does.
        while (8 + headerData.count) % 8 != 0 { headerData.append(UInt8(ascii: " ")) }
        var out = Data(capacity: 8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        for entry in entries { out.append(entry.bytes) }
        try AtomicFile.write(out, to: url)
    }
}

/// Whole-file writes that either complete or leave the previous file untouched.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
            try data.write(to: temporary)
            // rename(2) replaces the target atomically on POSIX file systems.
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(at: temporary)
                throw WeightFileError.writeFailed(path: url.path, reason: reason)
            }
        } catch let error as WeightFileError {
            throw error
        } catch {
            throw WeightFileError.writeFailed(path: url.path, reason: error.localizedDescription)
        }
    }
}
