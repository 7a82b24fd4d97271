import InputQuoting
import WeightFiles

/// Everything that can be wrong with an SAE the user points us at. Each case names the file or
/// folder, and the field or tensor, so the message alone says what to fix.
public enum SAEError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case noSAE(path: String, reason: String)
    case noSAEForLayer(path: String, layer: Int, available: [Int])
    case ambiguous(path: String, reason: String)
    case duplicateLayer(path: String, layer: Int, first: String, second: String)
    case unknownLayer(path: String)
    case layerMismatch(path: String, found: Int, requested: Int)
    case invalidConfig(path: String, field: String, reason: String)
    case unknownArchitecture(path: String, name: String, supported: [String])
    case unsupported(path: String, reason: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    case modelMismatch(path: String, reason: String)
    case featureOutOfRange(path: String, feature: Int, count: Int)

    public var description: String {
        // Field names, architecture names and reasons can quote the user's files: clip and escape them.
        func input(_ text: String) -> String { QuotedInput.escaped(text) }
        func said(_ reason: String) -> String { QuotedInput.bounded(reason) }
        switch self {
        case let .notFound(path):
            return "\(path): no such file or folder"
        case let .noSAE(path, reason):
            return "\(path): no SAE found: \(said(reason))"
        case let .noSAEForLayer(path, layer, available):
            let list = available.isEmpty ? "none" : available.map(String.init).joined(separator: ", ")
            return "\(path): no SAE for layer \(layer) (layers with an SAE: \(list))"
        case let .ambiguous(path, reason):
            return "\(path): \(said(reason))"
        case let .duplicateLayer(path, layer, first, second):
            return "\(path): two SAEs for layer \(layer): \(first) and \(second); point --sae at the one you want"
        case let .unknownLayer(path):
            return "\(path): cannot tell which layer this SAE belongs to (no hook name and no layer_N folder); pass the layer explicitly"
        case let .layerMismatch(path, found, requested):
            return "\(path): this SAE is for layer \(found), not the requested layer \(requested)"
        case let .invalidConfig(path, field, reason):
            return "\(path): field '\(input(field))': \(said(reason))"
        case let .unknownArchitecture(path, name, supported):
            return "\(path): unknown SAE architecture '\(input(name))'; supported: \(supported.joined(separator: ", "))"
        case let .unsupported(path, reason):
            return "\(path): \(said(reason))"
        case let .shapeMismatch(path, tensor, expected, actual):
            return "\(path): tensor '\(input(tensor))' has shape \(actual), expected \(expected)"
        case let .modelMismatch(path, reason):
            return "\(path): SAE does not fit the model: \(said(reason))"
        case let .featureOutOfRange(path, feature, count):
            return "\(path): feature \(feature) is out of range 0..<\(count)"
        }
    }
}

extension SAEError {
    /// A config file `JSONFields` could not read, or one of its fields.
    init(_ problem: JSONFields.Problem) {
        self = .invalidConfig(path: problem.path, field: problem.field ?? "(file)", reason: problem.reason)
    }
}
