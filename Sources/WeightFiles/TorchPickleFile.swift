import Foundation
import Tensors

/// Where one tensor of a `.pt` file lives: a storage member plus the view torch rebuilds over it.
public struct TorchTensorInfo: Sendable, Equatable {
    public let name: String
    /// The torch storage class (`FloatStorage`, `BFloat16Storage`, …).
    public let storageType: String
    /// The `data/KEY` member the storage's bytes are in.
    public let storageKey: String
    /// Elements the storage holds, as the pickle declares them.
    public let storageElements: Int
    /// Element offset of the tensor's first element inside its storage.
    public let storageOffset: Int
    public let shape: [Int]
    public let stride: [Int]
    /// The float dtype the storage holds, or nil for integer/bool/f64 storages.
    public var dtype: DType? { TorchPickleFile.storageDTypes[storageType] }
    /// Row-major; the stride of a size-1 axis is irrelevant (torch leaves arbitrary values there).
    public var isContiguous: Bool {
        zip(shape, zip(stride, TorchPickleFile.rowMajorStrides(shape))).allSatisfy { $0 <= 1 || $1.0 == $1.1 }
    }
}

/// A plain value of a `.pt` file's top-level dict (hyperparameters saved beside the tensors).
public enum TorchScalar: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
}

/// A PyTorch checkpoint written by `torch.save` (the zip format, PyTorch ≥ 1.6) holding a dict or
/// OrderedDict of tensors and plain values, read without running any of it.
///
/// `data.pkl` is interpreted by `PickleMachine` with an allowlist of globals: the tensor rebuild
/// functions, the storage classes and `collections.OrderedDict`. Nested dicts are flattened with
/// dotted names (`state_dict.W_enc`). Tensors view the mapped file when their storage is stored
/// uncompressed (as torch writes it) and the view is contiguous; strided views are copied.
public final class TorchPickleFile: @unchecked Sendable {
    public let path: String
    /// Tensor names in the order the pickle lists them.
    public let names: [String]
    public let scalars: [String: TorchScalar]
    private let infos: [String: TorchTensorInfo]
    private let file: MappedFile
    private let storages: [String: ZipEntry]

    /// Float storages; the other numeric storages are accepted so a file that also holds integer
    /// tensors still opens, but reading one as a float tensor is an error.
    static let storageDTypes: [String: DType] = ["FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16]
    static let storageByteSizes: [String: Int] = [
        "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8, "LongStorage": 8,
        "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    ]
    static let allowedGlobals: Set<String> = Set(
        ["torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "collections.OrderedDict"]
            + storageByteSizes.keys.map { "torch.\($0)" })
    /// Rank and nesting limits no real checkpoint approaches.
    static let maxRank = 16
    static let maxNesting = 32

    public convenience init(url: URL) throws { try self.init(path: url.path) }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let zip = try ZipArchive(file: file)
        let pickles = zip.entries.filter { $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/").count == 2 }
        guard pickles.count == 1 else {
            throw WeightFileError.malformedHeader(
                path: path, offset: 0,
                reason: pickles.isEmpty ? "no ARCHIVE/data.pkl member: not a torch.save zip checkpoint"
                    : "\(pickles.count) data.pkl members; torch.save writes one")
        }
        let pickle = pickles[0]
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        guard pickle.compression == .stored, !pickle.isEncrypted else {
            throw WeightFileError.malformedHeader(path: path, offset: pickle.localHeaderOffset, reason: "member '\(pickle.name)' is compressed or encrypted; torch.save stores it plainly")
        }
        if let order = zip.entry(named: prefix + "byteorder") {
            let text = order.compression == .stored ? Self.memberText(order, file: file) : "?"
            guard text == "little" else {
                throw WeightFileError.malformedHeader(
                    path: path, offset: order.dataOffset,
                    reason: "byteorder is '\(text.prefix(16))'; only little-endian checkpoints are supported")
            }
        }
        var storages: [String: ZipEntry] = [:]
        for entry in zip.entries where entry.name.hasPrefix(prefix + "data/") {
            storages[String(entry.name.dropFirst(prefix.count + 5))] = entry
        }
        self.storages = storages

        let found = try Self.readPickle(pickle, file: file, path: path)
        var names: [String] = [], infos: [String: TorchTensorInfo] = [:]
        for tensor in found.tensors {
            guard infos[tensor.name] == nil else {
                throw WeightFileError.invalidTensor(path: path, tensor: tensor.name, reason: "appears twice in data.pkl")
            }
            try Self.check(tensor, storages: storages, path: path)
            infos[tensor.name] = tensor
            names.append(tensor.name)
        }
        self.names = names
        self.infos = infos
        self.scalars = found.scalars
    }

    public func contains(_ name: String) -> Bool { infos[name] != nil }

    public func info(_ name: String) throws -> TorchTensorInfo {
        guard let info = infos[name] else { throw WeightFileError.missingTensor(path: path, tensor: name) }
        return info
    }

    /// A float tensor (f32, f16, bf16): viewed in place when contiguous, else gathered into new storage.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try info(name)
        guard let dtype = info.dtype else {
            throw WeightFileError.unsupportedDType(
                path: path, tensor: name, dtype: info.storageType, supported: Self.storageDTypes.keys.sorted())
        }
        // `check` ran at open: the member exists, is stored, and holds every element the view reaches.
        guard let entry = storages[info.storageKey] else { throw WeightFileError.missingTensor(path: path, tensor: "data/\(info.storageKey)") }
        let base = file.bytes + entry.dataOffset
        let size = dtype.byteSize
        let count = info.shape.reduce(1, *)
        if info.isContiguous {
            let storage = TensorStorage(borrowing: base, byteCount: entry.uncompressedSize, owner: file)
            return Tensor(shape: info.shape, dtype: dtype, storage: storage, byteOffset: info.storageOffset * size)
        }
        let storage = TensorStorage(zeroedByteCount: count * size)
        var index = [Int](repeating: 0, count: info.shape.count)
        for flat in 0..<count {
            var source = info.storageOffset
            for axis in 0..<index.count { source += index[axis] * info.stride[axis] }
            (storage.bytes + flat * size).copyMemory(from: base + source * size, byteCount: size)
            var axis = index.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < info.shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: info.shape, dtype: dtype, storage: storage)
    }

    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            step = step &* max(shape[axis], 1) // only compared, after sizes were checked
        }
        return strides
    }

    // MARK: - Reading data.pkl

    /// A storage as BINPERSID names it: `('storage', torch.XStorage, key, location, numel)`.
    private struct StorageReference: Sendable { let type: String, key: String, elements: Int }
    private struct TensorReference: Sendable {
        let storage: StorageReference, offset: Int, shape: [Int], stride: [Int]
    }

    private static func readPickle(_ entry: ZipEntry, file: MappedFile, path: String) throws -> (tensors: [TorchTensorInfo], scalars: [String: TorchScalar]) {
        let rules = PickleRules(
            allowedGlobals: allowedGlobals,
            persistentLoad: persistentLoad,
            reduce: reduce)
        let bytes = UnsafeRawBufferPointer(start: file.bytes + entry.dataOffset, count: entry.uncompressedSize)
        let root: PickleValue
        do {
            root = try PickleMachine.load(bytes, rules: rules)
        } catch {
            throw WeightFileError.malformedHeader(path: path, offset: entry.dataOffset + error.offset, reason: "data.pkl: \(error.reason)")
        }
        guard case let .dict(top) = root else {
            throw WeightFileError.malformedHeader(
                path: path, offset: entry.dataOffset, reason: "data.pkl holds a \(root.kind), not a dict of tensors")
        }
        var tensors: [TorchTensorInfo] = [], scalars: [String: TorchScalar] = [:]
        try flatten(top, prefix: "", depth: 0, tensors: &tensors, scalars: &scalars, path: path)
        return (tensors, scalars)
    }

    private static func flatten(_ dict: PickleDict, prefix: String, depth: Int, tensors: inout [TorchTensorInfo],
                                scalars: inout [String: TorchScalar], path: String) throws {
        guard depth < maxNesting else {
            throw WeightFileError.malformedHeader(path: path, offset: 0, reason: "data.pkl nests dicts more than \(maxNesting) deep at '\(prefix.prefix(80))'")
        }
        for (key, value) in dict.entries {
            let name: String
            switch key {
            case let .string(text): name = prefix + text
            case let .int(number): name = prefix + String(number)
            default:
                throw WeightFileError.malformedHeader(path: path, offset: 0, reason: "data.pkl has a \(key.kind) key under '\(prefix.prefix(80))'; expected names")
            }
            switch value {
            case let .opaque(object as TensorReference):
                let r = object
                tensors.append(TorchTensorInfo(
                    name: name, storageType: r.storage.type, storageKey: r.storage.key, storageElements: r.storage.elements, storageOffset: r.offset,
                    shape: r.shape, stride: r.stride))
            case let .dict(inner):
                try flatten(inner, prefix: name + ".", depth: depth + 1, tensors: &tensors, scalars: &scalars, path: path)
            case .none: scalars[name] = TorchScalar.none
            case let .bool(flag): scalars[name] = .bool(flag)
            case let .int(number): scalars[name] = .int(number)
            case let .float(number): scalars[name] = .float(number)
            case let .string(text): scalars[name] = .string(text)
            case .tuple, .list, .global, .opaque:
                break // Lists and other values are not weights; they are skipped, not refused.
            }
        }
    }

    private static func persistentLoad(_ id: PickleValue) throws(PickleError) -> PickleValue {
        guard case let .tuple(parts, _) = id, parts.count == 5, case .string("storage") = parts[0] else {
            throw PickleError(offset: 0, reason: "persistent id is not ('storage', type, key, location, numel)")
        }
        guard case let .global("torch", type) = parts[1], storageByteSizes[type] != nil else {
            throw PickleError(offset: 0, reason: "persistent id names a \(parts[1].kind), not a torch storage class")
        }
        guard case let .string(key) = parts[2], case let .int(elements) = parts[4], elements >= 0 else {
            throw PickleError(offset: 0, reason: "persistent id for a \(type) needs a string key and a non-negative element count")
        }
        return .opaque(StorageReference(type: type, key: key, elements: elements))
    }

    private static func reduce(_ module: String, _ name: String, _ arguments: [PickleValue]) throws(PickleError) -> PickleValue {
        switch (module, name) {
        case ("collections", "OrderedDict"):
            guard arguments.isEmpty else { throw PickleError(offset: 0, reason: "OrderedDict called with arguments; torch.save calls it with none") }
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_parameter"):
            // (data, requires_grad, backward_hooks): the parameter is its data.
            guard arguments.count == 3, case .opaque(is TensorReference) = arguments[0] else {
                throw PickleError(offset: 0, reason: "_rebuild_parameter needs (tensor, requires_grad, hooks)")
            }
            return arguments[0]
        case ("torch._utils", "_rebuild_tensor_v2"):
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard (6...7).contains(arguments.count), case let .opaque(object) = arguments[0], let storage = object as? StorageReference,
                  case let .int(offset) = arguments[1], case let .tuple(sizeValues, _) = arguments[2], case let .tuple(strideValues, _) = arguments[3]
            else {
                throw PickleError(offset: 0, reason: "_rebuild_tensor_v2 needs (storage, offset, size tuple, stride tuple, requires_grad, hooks)")
            }
            let shape = sizeValues.compactMap { if case let .int(n) = $0 { n } else { nil } }
            let stride = strideValues.compactMap { if case let .int(n) = $0 { n } else { nil } }
            guard shape.count == sizeValues.count, stride.count == strideValues.count, shape.count == stride.count else {
                throw PickleError(offset: 0, reason: "tensor size \(sizeValues.count) and stride \(strideValues.count) must be integer tuples of equal length")
            }
            return .opaque(TensorReference(storage: storage, offset: offset, shape: shape, stride: stride))
        default:
            // Allowed as a reference (storage classes), never as a call.
            throw PickleError(offset: 0, reason: "calling \(module).\(name) is not allowed")
        }
    }

    // MARK: - Checks against the file

    /// Rank, sizes and strides sane; the storage member exists, is stored, has exactly the bytes the
    /// persistent id declares, and holds every element the view can reach.
    private static func check(_ t: TorchTensorInfo, storages: [String: ZipEntry], path: String) throws {
        func bad(_ reason: String) -> WeightFileError { .invalidTensor(path: path, tensor: t.name, reason: reason) }
        guard t.shape.count <= maxRank else { throw bad("rank \(t.shape.count) is above \(maxRank)") }
        guard t.shape.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }), t.storageOffset >= 0 else {
            throw bad("negative size, stride or storage offset (size \(t.shape), stride \(t.stride), offset \(t.storageOffset))")
        }
        guard let entry = storages[t.storageKey] else { throw bad("its storage 'data/\(t.storageKey.prefix(40))' is not in the archive") }
        guard entry.compression == .stored, !entry.isEncrypted else { throw bad("storage member '\(entry.name)' is compressed or encrypted; torch.save stores it plainly") }
        guard let elementSize = storageByteSizes[t.storageType] else { throw bad("unknown storage type \(t.storageType)") }
        guard entry.uncompressedSize % elementSize == 0 else {
            throw bad("storage member '\(entry.name)' has \(entry.uncompressedSize) bytes, not a whole number of \(elementSize)-byte \(t.storageType) elements")
        }
        let available = entry.uncompressedSize / elementSize
        guard t.storageElements == available else {
            throw bad("data.pkl declares \(t.storageElements) elements for storage '\(entry.name)', which holds \(available) (\(entry.uncompressedSize) bytes)")
        }
        guard t.storageOffset <= available else { throw bad("storage offset \(t.storageOffset) is past the \(available)-element storage") }
        // Every quantity below is bounded by checked arithmetic: sizes and strides come from the file.
        var elements = 1, lastElement = t.storageOffset, overflow = false
        for (size, step) in zip(t.shape, t.stride) {
            var o = false
            (elements, o) = elements.multipliedReportingOverflow(by: size); overflow = overflow || o
            if size > 0 {
                let (reach, o1) = (size - 1).multipliedReportingOverflow(by: step)
                let (sum, o2) = lastElement.addingReportingOverflow(reach)
                lastElement = sum; overflow = overflow || o1 || o2
            }
        }
        guard !overflow else { throw bad("size \(t.shape) with stride \(t.stride) overflows") }
        guard elements == 0 || lastElement < available else {
            throw bad("view (offset \(t.storageOffset), size \(t.shape), stride \(t.stride)) reaches element \(lastElement) of a storage of \(available) elements in '\(entry.name)'")
        }
        // Broadcast views (stride 0) could otherwise ask for far more memory than the file holds.
        guard elements <= available else { throw bad("size \(t.shape) has more elements than its \(available)-element storage; broadcast views are not supported") }
    }

    fileprivate static func memberText(_ entry: ZipEntry, file: MappedFile) -> String {
        String(decoding: UnsafeRawBufferPointer(start: file.bytes + entry.dataOffset, count: min(entry.uncompressedSize, 64)), as: UTF8.self)
    }
}
