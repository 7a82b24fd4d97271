import Foundation

/// Where a stage's progress lines and notices go. The library writes nowhere by itself (`silent`); the
/// CLI passes `standardError`, and any other caller can collect the lines its own way.
public struct StageOutput: Sendable {
    /// Progress lines (`ProgressReporter`); nil: no progress.
    public var progress: (@Sendable (String) -> Void)?
    /// Whether progress may redraw one line in place (a terminal) or should append lines (a log).
    public var progressIsTerminal: Bool
    /// Notices that explain why work is redone; shown even when progress is off.
    public var notice: @Sendable (String) -> Void

    public init(progress: (@Sendable (String) -> Void)?, progressIsTerminal: Bool, notice: @escaping @Sendable (String) -> Void) {
        self.progress = progress
        self.progressIsTerminal = progressIsTerminal
        self.notice = notice
    }

    public static let silent = StageOutput(progress: nil, progressIsTerminal: false, notice: { _ in })

    /// stderr: progress unless `quiet`, notices always.
    public static func standardError(quiet: Bool) -> StageOutput {
        let write: @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
        return StageOutput(progress: quiet ? nil : write, progressIsTerminal: isatty(STDERR_FILENO) != 0,
                           notice: { write($0 + "\n") })
    }
}
