import Foundation

/// Progress of a long stage, written to a `StageOutput`. On a terminal: one bar redrawn in place, with percentage,
/// done/total, rate, elapsed time, ETA and a running accuracy. Otherwise (a log file, CI): one line
/// each time another 10 % is done, so logs stay short and readable.
public final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let output: StageOutput
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let interactive: Bool
    private let startCount: Int
    /// The last tenth of the work a log line was written for.
    private var lastTenth: Int

    /// `alreadyDone` counts work finished by an earlier (resumed) process: it is excluded from the rate.
    public init(label: String, total: Int, alreadyDone: Int = 0, output: StageOutput) {
        self.label = label
        self.total = total
        self.output = output
        self.startCount = alreadyDone
        self.interactive = output.progressIsTerminal
        self.lastTenth = Self.tenth(done: alreadyDone, total: total)
    }

    public func update(done: Int, correct: Double? = nil, force: Bool = false) {
        guard let write = output.progress else { return }
        let now = Date()
        if interactive {
            guard force || done == total || now.timeIntervalSince(lastDraw) >= 0.2 else { return }
        } else {
            let tenth = Self.tenth(done: done, total: total)
            guard force || tenth > lastTenth else { return }
            lastTenth = tenth
        }
        lastDraw = now
        var line = Self.line(label: label, done: done, total: total, startCount: startCount,
                             elapsed: now.timeIntervalSince(start), correct: correct, bar: interactive)
        // A line wider than the terminal wraps, and the carriage return would then redraw only its last
        // row: the bar is clipped to the width instead.
        if interactive, let columns = Self.terminalColumns(), line.count >= columns { line = String(line.prefix(columns - 1)) }
        let text = interactive ? "\r\u{1B}[K" + line : line + "\n"
        write(text)
    }

    public func finish() {
        guard let write = output.progress, interactive else { return }
        write("\n")
    }

    /// The width of the terminal stderr writes to, if it is one.
    static func terminalColumns() -> Int? {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    public static func tenth(done: Int, total: Int) -> Int {
        total > 0 ? min(10, max(0, done) * 10 / total) : 10
    }

    /// `collect mmlu [#######·············]  35%  140/400  2.31 samples/s  elapsed 1m00s  ETA 1m52s  accuracy 41.4%`
    /// (without the bar when `bar` is false).
    public static func line(label: String, done: Int, total: Int, startCount: Int, elapsed: Double, correct: Double?, bar: Bool) -> String {
        let fraction = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 1
        var line = label
        if bar {
            let width = 20
            let filled = Int((fraction * Double(width)).rounded(.down))
            line += " [" + String(repeating: "#", count: filled) + String(repeating: "·", count: width - filled) + "]"
        }
        line += String(format: " %3d%%  %d/%d", Int((fraction * 100).rounded(.down)), done, total)
        let rate = elapsed > 0 ? Double(done - startCount) / elapsed : 0
        if rate > 0 { line += String(format: "  %.2f samples/s", rate) }
        line += "  elapsed \(duration(elapsed))"
        if rate > 0 && done < total { line += "  ETA \(duration(Double(total - done) / rate))" }
        if let correct, done > 0 {
            line += String(format: "  accuracy %.1f%%", 100 * correct / Double(done))
        }
        return line
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
