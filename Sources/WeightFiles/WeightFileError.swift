/// Everything that can be wrong with a weight file. Each case names the file, and the byte offset or
/// tensor when there is one, so the user can tell which download is damaged.
public enum WeightFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case truncated(path: String, reason: String)
    case malformedHeader(path: String, offset: Int, reason: String)
    case invalidTensor(path: String, tensor: String, reason: String)
    case unsupportedDType(path: String, tensor: String, dtype: String, supported: [String])
    case missingTensor(path: String, tensor: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read file: \(reason)"
        case let .truncated(path, reason):
            return "\(path): file is truncated: \(reason)"
        case let .malformedHeader(path, offset, reason):
            return "\(path): malformed header at byte \(offset): \(reason)"
        case let .invalidTensor(path, tensor, reason):
            return "\(path): tensor '\(tensor)': \(reason)"
        case let .unsupportedDType(path, tensor, dtype, supported):
            return "\(path): tensor '\(tensor)' has dtype \(dtype); supported here: \(supported.joined(separator: ", "))"
        case let .missingTensor(path, tensor):
            return "\(path): tensor '\(tensor)' not found"
        case let .writeFailed(path, reason):
            return "\(path): cannot write file: \(reason)"
        }
    }
}
