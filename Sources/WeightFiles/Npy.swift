import Foundation
import Tensors

/// The header of a `.npy` array (format versions 1, 2 and 3): element type, shape, and where the
/// data starts. Only little-endian C-order float32 and float16 arrays are accepted; everything else
/// is reported by name rather than misread.
public struct NpyHeader: Sendable, Equatable {
    public let majorVersion: Int
    public let dtype: DType
    /// The numpy type string as written in the file (`<f4`, `<f2`).
    public let descr: String
    public let shape: [Int]
    /// Bytes before the array data: magic, version, length field and the header text.
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
    public var dataByteCount: Int { elementCount * dtype.byteSize }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
    /// Enough leading bytes to learn the header length of any version.
    static let preambleLength = 12
    private static let supported = ["<f4", "<f2"]

    /// Total header length (preamble + text) from the first `min(12, available)` bytes.
    /// `context` names the file and member for error messages.
    static func headerLength(prefix: UnsafeRawBufferPointer, context: NpyContext) throws -> Int {
        guard prefix.count >= 10 else {
            throw WeightFileError.truncated(path: context.path, reason: "\(context.what) is \(prefix.count) bytes, too short for a .npy header")
        }
        guard Array(prefix[0..<6]) == magic else {
            throw WeightFileError.malformedHeader(path: context.path, offset: context.offset, reason: "\(context.what) does not start with the .npy magic string")
        }
        let major = Int(prefix[6])
        let textLength: Int, length: Int
        switch major {
        case 1:
            textLength = Int(UInt16(prefix[8]) | UInt16(prefix[9]) << 8)
            length = 10 + textLength
        case 2, 3:
            guard prefix.count >= 12 else {
                throw WeightFileError.truncated(path: context.path, reason: "\(context.what) ends inside its .npy header")
            }
            textLength = Int((0..<4).reduce(UInt32(0)) { $0 | UInt32(prefix[8 + $1]) << (8 * UInt32($1)) })
            length = 12 + textLength
        default:
            throw WeightFileError.malformedHeader(
                path: context.path, offset: context.offset + 6, reason: "\(context.what) has .npy format version \(major); versions 1–3 are supported")
        }
        // Readers take the preamble in one piece before the text, so a header shorter than it (a
        // length field of 0 or 1) would make them step backwards; no real header is that short, as
        // the dict alone needs about 50 bytes. numpy writes headers of a few hundred bytes and
        // refuses to read ones over 10,000; a generous cap keeps a hostile length from sizing buffers.
        guard length >= preambleLength else {
            throw WeightFileError.malformedHeader(
                path: context.path, offset: context.offset + 8,
                reason: "\(context.what) declares a \(textLength)-byte .npy header text, too short to hold the header dict")
        }
        guard textLength <= maxHeaderTextLength else {
            throw WeightFileError.malformedHeader(
                path: context.path, offset: context.offset + 8,
                reason: "\(context.what) declares a \(textLength)-byte .npy header text, more than the \(maxHeaderTextLength) accepted")
        }
        return length
    }

    /// Longest `.npy` header text accepted (numpy itself refuses more than 10,000 bytes by default).
    static let maxHeaderTextLength = 1 << 20

    /// Parses a complete header (`bytes.count` must be at least `headerLength`).
    static func parse(_ bytes: UnsafeRawBufferPointer, context: NpyContext) throws -> NpyHeader {
        let length = try headerLength(prefix: UnsafeRawBufferPointer(rebasing: bytes.prefix(preambleLength)), context: context)
        guard bytes.count >= length else {
            throw WeightFileError.truncated(path: context.path, reason: "\(context.what) ends inside its \(length)-byte .npy header")
        }
        let major = Int(bytes[6])
        let textStart = major == 1 ? 10 : 12
        let textBytes = UnsafeRawBufferPointer(rebasing: bytes[textStart..<length])
        // Versions 1 and 2 are latin-1; version 3 is UTF-8. The keys and values we read are ASCII.
        let text = major == 3 ? String(decoding: textBytes, as: UTF8.self) : String(textBytes.map { Character(Unicode.Scalar($0)) })
        let fields: [String: PythonLiteral]
        do {
            var parser = PythonLiteralParser(text)
            guard case let .dict(dict) = try parser.parseValue() else { throw PythonLiteralParser.Failure("header is not a dict") }
            fields = dict
        } catch let failure as PythonLiteralParser.Failure {
            throw WeightFileError.malformedHeader(path: context.path, offset: context.offset + textStart, reason: "\(context.what): \(failure.message)")
        }
        func bad(_ reason: String) -> WeightFileError {
            .malformedHeader(path: context.path, offset: context.offset + textStart, reason: "\(context.what): \(reason)")
        }
        guard case let .string(descr)? = fields["descr"] else { throw bad("header has no 'descr' string") }
        guard case let .bool(fortran)? = fields["fortran_order"] else { throw bad("header has no 'fortran_order' flag") }
        guard case let .tuple(shape)? = fields["shape"] else { throw bad("header has no 'shape' tuple") }
        let dtype: DType
        switch descr {
        case "<f4": dtype = .f32
        case "<f2": dtype = .f16
        default:
            throw WeightFileError.unsupportedDType(path: context.path, tensor: context.tensor, dtype: descr, supported: supported)
        }
        guard !fortran else {
            throw WeightFileError.invalidTensor(
                path: context.path, tensor: context.tensor, reason: "array is stored in Fortran (column-major) order; only C order is supported")
        }
        var elements = 1
        for dim in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else { throw bad("shape \(shape) is not a valid array shape") }
            elements = product
        }
        guard !elements.multipliedReportingOverflow(by: dtype.byteSize).overflow else { throw bad("shape \(shape) is too large") }
        return NpyHeader(majorVersion: major, dtype: dtype, descr: descr, shape: shape, byteCount: length)
    }
}

/// Where a `.npy` header lives, for error messages.
struct NpyContext {
    let path: String
    /// "member 'W_enc.npy'" or "file".
    let what: String
    let tensor: String
    /// File offset of the start of the `.npy` data (the magic string).
    let offset: Int
}

/// A standalone `.npy` file, memory-mapped.
public final class NpyFile: @unchecked Sendable {
    public let path: String
    public let header: NpyHeader
    private let file: MappedFile

    public convenience init(url: URL) throws { try self.init(path: url.path) }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let context = NpyContext(path: path, what: "file", tensor: (path as NSString).lastPathComponent, offset: 0)
        header = try NpyHeader.parse(UnsafeRawBufferPointer(start: file.bytes, count: file.size), context: context)
        let available = file.size - header.byteCount
        guard available >= header.dataByteCount else {
            throw WeightFileError.truncated(
                path: path, reason: "shape \(header.shape) of \(header.descr) needs \(header.dataByteCount) data bytes but only \(available) follow the header")
        }
        guard available == header.dataByteCount else {
            throw WeightFileError.malformedHeader(
                path: path, offset: header.byteCount + header.dataByteCount,
                reason: "\(available - header.dataByteCount) bytes follow the array data of shape \(header.shape)")
        }
    }

    /// The array, viewed in place.
    public func tensor() -> Tensor {
        let storage = TensorStorage(borrowing: file.bytes + header.byteCount, byteCount: header.dataByteCount, owner: file)
        return Tensor(shape: header.shape, dtype: header.dtype, storage: storage)
    }
}
