import InputQuoting

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
        // Tensor names and dtypes come from the file, so they are clipped and escaped. Reasons are
        // written by the parsers (which clip what they quote); the wider clip here only guarantees
        // one bounded line whatever a reason holds.
        func input(_ text: String) -> String { QuotedInput.escaped(text) }
        func said(_ reason: String) -> String { QuotedInput.bounded(reason) }
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read file: \(said(reason))"
        case let .truncated(path, reason):
            return "\(path): file is truncated: \(said(reason))"
        case let .malformedHeader(path, offset, reason):
            return "\(path): malformed header at byte \(offset): \(said(reason))"
        case let .invalidTensor(path, tensor, reason):
            return "\(path): tensor '\(input(tensor))': \(said(reason))"
        case let .unsupportedDType(path, tensor, dtype, supported):
            return "\(path): tensor '\(input(tensor))' has dtype \(input(dtype)); supported here: \(supported.joined(separator: ", "))"
        case let .missingTensor(path, tensor):
            return "\(path): tensor '\(input(tensor))' not found"
        case let .writeFailed(path, reason):
            return "\(path): cannot write file: \(said(reason))"
        }
    }
}
