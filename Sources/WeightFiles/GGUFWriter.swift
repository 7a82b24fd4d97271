import Foundation

/// A GGUF metadata value (GGUF v3 value types).
public indirect enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// Elements must all have `elementType`; nested arrays are not supported.
    case array(elementType: GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }
}

/// GGUF value type codes.
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12
}

/// A tensor to write: `shape` is row-major (numpy order); GGUF stores it innermost-first.
public struct GGUFTensor: Sendable {
    /// GGML type codes of the element types this writer can store.
    public enum ElementType: UInt32, Sendable {
        case f32 = 0, f16 = 1

        var byteSize: Int { self == .f32 ? 4 : 2 }
    }

    public let name: String
    public let shape: [Int]
    public let type: ElementType
    public let data: Data

    public init(name: String, shape: [Int], type: ElementType, data: Data) {
        self.name = name
        self.shape = shape
        self.type = type
        self.data = data
    }

    public init(name: String, shape: [Int], floats: [Float]) {
        self.init(name: name, shape: shape, type: .f32, data: floats.withUnsafeBytes { Data($0) })
    }
}

/// Writes GGUF version 3 files (ggml `docs/gguf.md`), little-endian:
/// magic "GGUF", u32 version, u64 tensor count, u64 key/value count; each key/value as a string
/// (u64 length + UTF-8) key, u32 value type, value; each tensor info as name, u32 rank, u64 dimensions
/// innermost first, u32 GGML type, u64 offset into the data section; zero padding to the alignment
/// (`general.alignment`, default 32); then each tensor's data padded to the alignment. Key and tensor
/// order is kept, so the output matches gguf-py's `GGUFWriter` byte for byte for the same calls.
public enum GGUFWriter {
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_NAME minus the terminating NUL.
    public static let maximumTensorNameLength = 63

    public static func encode(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensor]) throws -> Data {
        var alignment = defaultAlignment
        var keys = Set<String>()
        for (key, value) in metadata {
            guard keys.insert(key).inserted else { throw GGUFWriterError.invalid("metadata key '\(key)' appears twice") }
            if key == "general.alignment" {
                guard case let .uint32(value) = value, value > 0, value % 8 == 0 else {
                    throw GGUFWriterError.invalid("general.alignment must be a uint32 multiple of 8")
                }
                alignment = Int(value)
            }
            if case let .array(elementType, elements) = value {
                guard elementType != .array, elements.allSatisfy({ $0.type == elementType }) else {
                    throw GGUFWriterError.invalid("metadata '\(key)': array elements must all be \(elementType) and not arrays")
                }
            }
        }
        var names = Set<String>()
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else { throw GGUFWriterError.invalid("tensor '\(tensor.name)' appears twice") }
            guard !tensor.name.isEmpty, tensor.name.utf8.count <= maximumTensorNameLength else {
                throw GGUFWriterError.invalid("tensor name '\(tensor.name)' must be 1…\(maximumTensorNameLength) bytes")
            }
            guard !tensor.shape.isEmpty, tensor.shape.count <= 4, tensor.shape.allSatisfy({ $0 > 0 }) else {
                throw GGUFWriterError.invalid("tensor '\(tensor.name)': shape \(tensor.shape) must have 1…4 positive dimensions")
            }
            guard tensor.shape.reduce(1, *) * tensor.type.byteSize == tensor.data.count else {
                throw GGUFWriterError.invalid("tensor '\(tensor.name)': \(tensor.data.count) bytes do not match shape \(tensor.shape)")
            }
        }

        var out = Data()
        out.append(contentsOf: Array("GGUF".utf8))
        append(UInt32(3), to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            appendString(key, to: &out)
            append(value.type.rawValue, to: &out)
            appendValue(value, to: &out)
        }
        var offset = 0
        for tensor in tensors {
            appendString(tensor.name, to: &out)
            append(UInt32(tensor.shape.count), to: &out)
            for dimension in tensor.shape.reversed() { append(UInt64(dimension), to: &out) }
            append(tensor.type.rawValue, to: &out)
            append(UInt64(offset), to: &out)
            offset += padded(tensor.data.count, to: alignment)
        }
        out.append(Data(count: padded(out.count, to: alignment) - out.count))
        for tensor in tensors {
            out.append(tensor.data)
            out.append(Data(count: padded(tensor.data.count, to: alignment) - tensor.data.count))
        }
        return out
    }

    /// Encodes and writes atomically (temporary file + rename).
    public static func write(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensor], to url: URL) throws {
        let data: Data
        do {
            data = try encode(metadata: metadata, tensors: tensors)
        } catch let error as GGUFWriterError {
            throw WeightFileError.writeFailed(path: url.path, reason: error.description)
        }
        try AtomicFile.write(data, to: url)
    }

    static func padded(_ count: Int, to alignment: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendString(_ string: String, to out: inout Data) {
        let bytes = Array(string.utf8)
        append(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    private static func appendValue(_ value: GGUFValue, to out: inout Data) {
        switch value {
        case let .uint8(v): append(v, to: &out)
        case let .int8(v): append(v, to: &out)
        case let .uint16(v): append(v, to: &out)
        case let .int16(v): append(v, to: &out)
        case let .uint32(v): append(v, to: &out)
        case let .int32(v): append(v, to: &out)
        case let .float32(v): append(v.bitPattern, to: &out)
        case let .bool(v): append(UInt8(v ? 1 : 0), to: &out)
        case let .string(v): appendString(v, to: &out)
        case let .uint64(v): append(v, to: &out)
        case let .int64(v): append(v, to: &out)
        case let .float64(v): append(v.bitPattern, to: &out)
        case let .array(elementType, elements):
            append(elementType.rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            for element in elements { appendValue(element, to: &out) }
        }
    }
}

public enum GGUFWriterError: Error, CustomStringConvertible, Equatable {
    case invalid(String)

    public var description: String {
        switch self {
        case let .invalid(reason): return "GGUF: \(reason)"
        }
    }
}
