import Foundation
import Tensors

/// Shape, dtype and location of one tensor in a safetensors file.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    /// The safetensors dtype spelling (`F32`, `BF16`, `I64`, …).
    public let dtype: String
    public let shape: [Int]
    /// Byte range inside the data area (after the header).
    public let dataRange: Range<Int>
}

/// Bytes of a tensor of any dtype, viewed in place (used for F64/I64 statistics).
public struct RawTensorView {
    public let info: SafeTensorInfo
    public let bytes: UnsafeRawPointer
    public var byteCount: Int { info.dataRange.count }
}

/// A memory-mapped `.safetensors` file: the header is parsed and validated up front, tensors are
/// viewed lazily and without copying.
public final class SafeTensorsFile: @unchecked Sendable {
    public static let byteSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
        "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    ]

    public let path: String
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int
    private let entries: [String: SafeTensorInfo]

    /// Tensor names in file order of their data.
    public let names: [String]

    public convenience init(url: URL) throws {
        try self.init(path: url.path)
    }

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        guard file.size >= 8 else {
            throw WeightFileError.truncated(path: path, reason: "\(file.size) bytes, shorter than the 8-byte header length")
        }
        let headerLength = file.readUInt64(at: 0)
        guard headerLength <= UInt64(file.size - 8) else {
            throw WeightFileError.truncated(
                path: path, reason: "header length \(headerLength) runs past the end of the \(file.size)-byte file")
        }
        let headerSize = Int(headerLength)
        dataStart = 8 + headerSize
        let headerData = Data(bytes: file.bytes + 8, count: headerSize)
        guard headerData.first == UInt8(ascii: "{") else {
            throw WeightFileError.malformedHeader(path: path, offset: 8, reason: "header does not start with '{'")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw WeightFileError.malformedHeader(path: path, offset: 8, reason: "header is not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw WeightFileError.malformedHeader(path: path, offset: 8, reason: "header is not a JSON object")
        }
        let dataSize = file.size - dataStart
        var metadata: [String: String] = [:]
        var entries: [String: SafeTensorInfo] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw WeightFileError.malformedHeader(path: path, offset: 8, reason: "__metadata__ is not an object")
                }
                for (key, item) in map { metadata[key] = (item as? String) ?? "\(item)" }
                continue
            }
            entries[name] = try Self.parseEntry(name: name, value: value, dataSize: dataSize, path: path)
        }
        let ordered = entries.values.sorted { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.dataRange.lowerBound < previous.dataRange.upperBound {
            throw WeightFileError.malformedHeader(
                path: path, offset: 8,
                reason: "tensors '\(previous.name)' and '\(next.name)' overlap in the data area")
        }
        self.metadata = metadata
        self.entries = entries
        self.names = ordered.map(\.name)
    }

    private static func parseEntry(name: String, value: Any, dataSize: Int, path: String) throws -> SafeTensorInfo {
        guard let fields = value as? [String: Any],
              let dtype = fields["dtype"] as? String,
              let shapeValues = fields["shape"] as? [Any],
              let offsetValues = fields["data_offsets"] as? [Any], offsetValues.count == 2
        else {
            throw WeightFileError.invalidTensor(path: path, tensor: name, reason: "entry needs dtype, shape and data_offsets [begin, end]")
        }
        let shape = shapeValues.compactMap { ($0 as? NSNumber)?.intValue }
        let offsets = offsetValues.compactMap { ($0 as? NSNumber)?.intValue }
        guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2 else {
            throw WeightFileError.invalidTensor(path: path, tensor: name, reason: "shape and data_offsets must be non-negative integers")
        }
        guard let elementSize = byteSizes[dtype] else {
            throw WeightFileError.invalidTensor(path: path, tensor: name, reason: "unknown dtype '\(dtype)'")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw WeightFileError.invalidTensor(
                path: path, tensor: name,
                reason: "data_offsets [\(begin), \(end)) lie outside the \(dataSize)-byte data area")
        }
        let (elements, overflow) = shape.reduce((1, false)) { acc, dim in
            let (product, flag) = acc.0.multipliedReportingOverflow(by: dim)
            return (product, acc.1 || flag)
        }
        guard !overflow, elements.multipliedReportingOverflow(by: elementSize).partialValue == end - begin,
              !elements.multipliedReportingOverflow(by: elementSize).overflow
        else {
            throw WeightFileError.invalidTensor(
                path: path, tensor: name,
                reason: "shape \(shape) of \(dtype) needs \(elements &* elementSize) bytes but data_offsets span \(end - begin)")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = entries[name] else { throw WeightFileError.missingTensor(path: path, tensor: name) }
        return info
    }

    /// The tensor's bytes in place, whatever the dtype.
    public func raw(_ name: String) throws -> RawTensorView {
        let info = try info(name)
        return RawTensorView(info: info, bytes: UnsafeRawPointer(file.bytes + dataStart + info.dataRange.lowerBound))
    }

    /// A zero-copy view of a floating-point tensor (F32, F16, BF16).
    public func tensor(_ name: String) throws -> Tensor {
        let info = try info(name)
        guard let dtype = DType(rawValue: info.dtype) else {
            throw WeightFileError.unsupportedDType(path: path, tensor: name, dtype: info.dtype, supported: DType.allCases.map(\.rawValue))
        }
        let storage = TensorStorage(
            borrowing: file.bytes + dataStart + info.dataRange.lowerBound, byteCount: info.dataRange.count, owner: file,
            mapsFile: file.isMapping)
        return Tensor(shape: info.shape, dtype: dtype, storage: storage)
    }

    /// Elements of an F64 tensor.
    public func doubles(_ name: String) throws -> [Double] {
        let view = try raw(name)
        guard view.info.dtype == "F64" else {
            throw WeightFileError.unsupportedDType(path: path, tensor: name, dtype: view.info.dtype, supported: ["F64"])
        }
        return (0..<(view.byteCount / 8)).map { view.bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
    }

    /// Elements of an I64 tensor.
    public func int64s(_ name: String) throws -> [Int64] {
        let view = try raw(name)
        guard view.info.dtype == "I64" else {
            throw WeightFileError.unsupportedDType(path: path, tensor: name, dtype: view.info.dtype, supported: ["I64"])
        }
        return (0..<(view.byteCount / 8)).map { view.bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) }
    }
}
