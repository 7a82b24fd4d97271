import Foundation

/// One status line on stderr for long stages: done/total, rate, ETA and a running accuracy.
/// Redrawn in place on a terminal, one line per update otherwise (logs stay readable).
public final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let quiet: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let interactive: Bool
    private let startCount: Int

    /// `alreadyDone` counts work finished by an earlier (resumed) process: it is excluded from the rate.
    public init(label: String, total: Int, alreadyDone: Int = 0, quiet: Bool) {
        self.label = label
        self.total = total
        self.quiet = quiet
        self.startCount = alreadyDone
        self.interactive = isatty(STDERR_FILENO) != 0
    }

    public func update(done: Int, correct: Double? = nil, force: Bool = false) {
        guard !quiet else { return }
        let now = Date()
        let minimumInterval = interactive ? 0.2 : 5.0
        guard force || done == total || now.timeIntervalSince(lastDraw) >= minimumInterval else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done - startCount) / elapsed : 0
        var line = "\(label): \(done)/\(total)"
        if rate > 0 {
            line += String(format: "  %.2f samples/s", rate)
            let remaining = Double(total - done) / rate
            line += "  ETA \(Self.duration(remaining))"
        }
        if let correct, done > 0 {
            line += String(format: "  accuracy %.1f%%", 100 * correct / Double(done))
        }
        let text = interactive ? "\r\u{1B}[K" + line : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    public func finish() {
        guard !quiet, interactive else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
