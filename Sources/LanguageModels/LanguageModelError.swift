import InputQuoting
import WeightFiles

/// Everything that can be wrong with a model folder or a request. Each case names the file (and field or
/// tensor) so the user knows what to fix.
public enum LanguageModelError: Error, CustomStringConvertible, Equatable {
    case missingConfiguration(path: String)
    case unreadableConfiguration(path: String, reason: String)
    case invalidConfiguration(path: String, field: String, reason: String)
    case unsupportedModelType(path: String, modelType: String, supported: [String])
    case missingTensor(path: String, tensor: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    case unsupportedTensorDType(path: String, tensor: String, dtype: String)
    case modelNotFound(reference: String, searched: [String])
    case invalidRequest(String)

    public var description: String {
        // Model types, field names and tensor names come from the user's files: clip and escape them.
        func input(_ text: String) -> String { QuotedInput.escaped(text) }
        func said(_ reason: String) -> String { QuotedInput.bounded(reason) }
        switch self {
        case let .missingConfiguration(path):
            return "\(path): no config.json in this model folder"
        case let .unreadableConfiguration(path, reason):
            return "\(path): cannot read: \(said(reason))"
        case let .invalidConfiguration(path, field, reason):
            return "\(path): field \"\(input(field))\": \(said(reason))"
        case let .unsupportedModelType(path, modelType, supported):
            return "\(path): model_type \"\(input(modelType))\" is not supported; supported: \(supported.joined(separator: ", "))"
        case let .missingTensor(path, tensor):
            return "\(path): tensor '\(input(tensor))' is missing from the checkpoint"
        case let .shapeMismatch(path, tensor, expected, found):
            return "\(path): tensor '\(input(tensor))' has shape \(found) but config.json implies \(expected)"
        case let .unsupportedTensorDType(path, tensor, dtype):
            return "\(path): tensor '\(input(tensor))' has dtype \(input(dtype)); model weights must be F32, F16 or BF16"
        case let .modelNotFound(reference, searched):
            return "model '\(input(reference))' not found: not a folder, and not in the Hugging Face cache (looked in \(searched.joined(separator: ", ")))"
        case let .invalidRequest(reason):
            return said(reason)
        }
    }
}

extension LanguageModelError {
    /// A config file `JSONFields` could not read, or one of its fields.
    init(_ problem: JSONFields.Problem) {
        if let field = problem.field {
            self = .invalidConfiguration(path: problem.path, field: field, reason: problem.reason)
        } else {
            self = .unreadableConfiguration(path: problem.path, reason: problem.reason)
        }
    }
}
