import InputQuoting

/// Errors of the CorrSteer pipeline that are not a parse error of some input file.
public enum RunError: Error, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)
    case invalidRun(path: String, reason: String)
    case invalidOption(String)
    case mismatch(String)
    case noSamples(String)
    /// Another process writes this run (`RunLock`).
    case locked(path: String, holder: String)

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): return "\(path): cannot write: \(reason)"
        case let .invalidRun(path, reason): return "\(path): \(reason)"
        case let .invalidOption(message): return message
        case let .mismatch(message): return message
        case let .noSamples(message): return message
        case let .locked(path, holder):
            return "\(path): another corrsteer process is writing this run (\(holder)); wait for it to finish or stop it"
        }
    }
}
