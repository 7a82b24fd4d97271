import Foundation
import Tensors

/// What an `.npz` member holds and how it is stored.
public struct NpzArrayInfo: Sendable, Equatable {
    public let name: String
    public let header: NpyHeader
    public let compression: ZipEntry.Compression
    public var shape: [Int] { header.shape }
    public var dtype: DType { header.dtype }
    /// True when `tensor(_:)` views the file in place instead of inflating a copy.
    public var isMemoryMapped: Bool { compression == .stored }
}

/// A numpy `.npz` archive (as written by `numpy.savez` or `numpy.savez_compressed`), memory-mapped.
///
/// Stored members are viewed in place, so an encoder-only reader never pages in the decoder.
/// Deflated members are inflated on request, straight into the tensor's storage.
public final class NpzArchive: @unchecked Sendable {
    public let path: String
    /// Array names: member names without the `.npy` suffix, in archive order.
    public let names: [String]
    private let file: MappedFile
    private let members: [String: ZipEntry]

    public convenience init(url: URL) throws { try self.init(path: url.path) }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let zip = try ZipArchive(file: file)
        var members: [String: ZipEntry] = [:]
        var names: [String] = []
        for entry in zip.entries where entry.name.hasSuffix(".npy") {
            let name = String(entry.name.dropLast(4))
            guard members[name] == nil else {
                throw WeightFileError.malformedHeader(path: path, offset: entry.localHeaderOffset, reason: "member '\(entry.name)' appears twice")
            }
            members[name] = entry
            names.append(name)
        }
        self.members = members
        self.names = names
    }

    public func contains(_ name: String) -> Bool { members[name] != nil }

    /// Header and storage of one array, without reading its data.
    public func info(_ name: String) throws -> NpzArrayInfo {
        let entry = try member(name)
        let header: NpyHeader
        switch entry.compression {
        case .stored:
            header = try storedHeader(entry, name: name)
        case .deflated:
            header = try readHeader(from: InflateStream(entry: entry, file: file), entry: entry, name: name)
        case .unsupported:
            throw unsupported(entry, name: name)
        }
        return NpzArrayInfo(name: name, header: header, compression: entry.compression)
    }

    /// The whole array: viewed in place when stored, inflated into new storage when deflated.
    public func tensor(_ name: String) throws -> Tensor {
        let entry = try member(name)
        switch entry.compression {
        case .stored:
            let header = try storedHeader(entry, name: name)
            let start = file.bytes + entry.dataOffset + header.byteCount
            #if arch(x86_64) || arch(arm64)
            // ZIP puts member data at arbitrary byte offsets, so float data is usually not 4-byte
            // aligned. These CPUs load unaligned floats at full speed, so the view stays zero-copy.
            let storage = TensorStorage(borrowing: start, byteCount: header.dataByteCount, owner: file)
            #else
            let storage = TensorStorage(zeroedByteCount: header.dataByteCount)
            storage.bytes.copyMemory(from: start, byteCount: header.dataByteCount)
            #endif
            return Tensor(shape: header.shape, dtype: header.dtype, storage: storage)
        case .deflated:
            let stream = try InflateStream(entry: entry, file: file)
            let header = try readHeader(from: stream, entry: entry, name: name)
            let storage = TensorStorage(zeroedByteCount: header.dataByteCount)
            try stream.read(into: storage.bytes, count: header.dataByteCount)
            try stream.finish()
            return Tensor(shape: header.shape, dtype: header.dtype, storage: storage)
        case .unsupported:
            throw unsupported(entry, name: name)
        }
    }

    /// Rows `indices` of a rank-2 array, widened to f32, in the order asked. Only those rows are
    /// read: in place for a stored member, by streaming past the others for a deflated one.
    public func rows(_ name: String, _ indices: [Int]) throws -> [[Float]] {
        let entry = try member(name)
        let header: NpyHeader
        var stream: InflateStream?
        switch entry.compression {
        case .stored:
            header = try storedHeader(entry, name: name)
        case .deflated:
            let s = try InflateStream(entry: entry, file: file)
            header = try readHeader(from: s, entry: entry, name: name)
            stream = s
        case .unsupported:
            throw unsupported(entry, name: name)
        }
        guard header.shape.count == 2 else {
            throw WeightFileError.invalidTensor(path: path, tensor: name, reason: "rows need a rank-2 array, this one has shape \(header.shape)")
        }
        let (count, width) = (header.shape[0], header.shape[1])
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw WeightFileError.invalidTensor(path: path, tensor: name, reason: "row \(bad) is out of range 0..<\(count)")
        }
        let rowBytes = width * header.dtype.byteSize
        var result = [[Float]](repeating: [], count: indices.count)
        if let stream {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(rowBytes, 1), alignment: 16)
            defer { buffer.deallocate() }
            var position = 0
            for row in Set(indices).sorted() {
                try stream.read(into: nil, count: (row - position) * rowBytes)
                try stream.read(into: buffer, count: rowBytes)
                position = row + 1
                let values = Self.widen(UnsafeRawPointer(buffer), count: width, dtype: header.dtype)
                for (slot, wanted) in indices.enumerated() where wanted == row { result[slot] = values }
            }
        } else {
            let base = UnsafeRawPointer(file.bytes + entry.dataOffset + header.byteCount)
            for (slot, row) in indices.enumerated() {
                result[slot] = Self.widen(base + row * rowBytes, count: width, dtype: header.dtype)
            }
        }
        return result
    }

    // MARK: - Helpers

    private func member(_ name: String) throws -> ZipEntry {
        guard let entry = members[name] else { throw WeightFileError.missingTensor(path: path, tensor: name) }
        guard !entry.isEncrypted else {
            throw WeightFileError.invalidTensor(path: path, tensor: name, reason: "member '\(entry.name)' is encrypted")
        }
        return entry
    }

    private func unsupported(_ entry: ZipEntry, name: String) -> WeightFileError {
        guard case let .unsupported(method) = entry.compression else { preconditionFailure("not an unsupported member") }
        let known: [UInt16: String] = [9: "deflate64", 12: "bzip2", 14: "LZMA", 93: "zstd", 95: "xz", 98: "PPMd"]
        let label = known[method].map { " (\($0))" } ?? ""
        return .invalidTensor(
            path: path, tensor: name,
            reason: "member '\(entry.name)' uses ZIP compression method \(method)\(label); only stored (0) and deflate (8) are supported")
    }

    private func context(_ entry: ZipEntry, name: String) -> NpyContext {
        NpyContext(path: path, what: "member '\(entry.name)'", tensor: name, offset: entry.dataOffset)
    }

    private func storedHeader(_ entry: ZipEntry, name: String) throws -> NpyHeader {
        let bytes = UnsafeRawBufferPointer(start: file.bytes + entry.dataOffset, count: entry.uncompressedSize)
        let header = try NpyHeader.parse(bytes, context: context(entry, name: name))
        try checkSize(header, entry: entry, name: name)
        return header
    }

    private func readHeader(from stream: InflateStream, entry: ZipEntry, name: String) throws -> NpyHeader {
        let context = context(entry, name: name)
        let preamble = min(NpyHeader.preambleLength, entry.uncompressedSize)
        // One spare byte keeps the buffer's address valid even when the member is empty.
        var bytes = [UInt8](repeating: 0, count: preamble + 1)
        try bytes.withUnsafeMutableBytes { try stream.read(into: $0.baseAddress, count: preamble) }
        bytes.removeLast()
        let length = try bytes.withUnsafeBytes { try NpyHeader.headerLength(prefix: $0, context: context) }
        guard length <= entry.uncompressedSize else {
            throw WeightFileError.truncated(path: path, reason: "member '\(entry.name)' ends inside its \(length)-byte .npy header")
        }
        // headerLength rejects headers shorter than the preamble, so this never shrinks.
        let rest = length - preamble
        bytes += [UInt8](repeating: 0, count: rest + 1)
        try bytes.withUnsafeMutableBytes { try stream.read(into: $0.baseAddress.map { $0 + preamble }, count: rest) }
        bytes.removeLast()
        let header = try bytes.withUnsafeBytes { try NpyHeader.parse($0, context: context) }
        try checkSize(header, entry: entry, name: name)
        return header
    }

    private func checkSize(_ header: NpyHeader, entry: ZipEntry, name: String) throws {
        let available = entry.uncompressedSize - header.byteCount
        guard available == header.dataByteCount else {
            throw WeightFileError.invalidTensor(
                path: path, tensor: name,
                reason: "shape \(header.shape) of \(header.descr) needs \(header.dataByteCount) data bytes but member '\(entry.name)' holds \(available)")
        }
    }

    static func widen(_ bytes: UnsafeRawPointer, count: Int, dtype: DType) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dst in
            switch dtype {
            case .f32:
                UnsafeMutableRawPointer(dst.baseAddress!).copyMemory(from: bytes, byteCount: count * 4)
            case .f16:
                for i in 0..<count { dst[i] = Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                for i in 0..<count {
                    dst[i] = Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                }
            }
        }
        return out
    }
}
