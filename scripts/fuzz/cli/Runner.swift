import Foundation

/// What one run of the CLI on one input did.
struct Outcome {
    enum Kind: String, CaseIterable {
        case accepted, cleanError = "clean error", crash, hang
        /// A non-zero exit whose error output is so long that it must be quoting unbounded input.
        case flood
    }

    let kind: Kind
    /// `exit 1`, `signal 11`, `timeout after 10 s`.
    let status: String
    let stderr: String

    /// Lines that only a crash prints: the Swift runtime's traps, the backtracer, allocation failure.
    static let crashMarkers = ["Fatal error", "Program crashed", "Could not allocate memory", "Segmentation fault",
                               "Illegal instruction", "Trace/breakpoint", "Backtrace", "Stack dump", "terminate called",
                               "bad_alloc", "Aborted"]
    /// Error output above this many bytes counts as a flood (an error may quote ~200 characters of input).
    static let floodLimit = 2000

    static func classify(exitCode: Int32, signal: Int32?, timedOut: Bool, stderr: String, timeout: Double) -> Outcome {
        if timedOut { return Outcome(kind: .hang, status: "timeout after \(timeout) s", stderr: stderr) }
        if let signal { return Outcome(kind: .crash, status: "signal \(signal)", stderr: stderr) }
        let status = "exit \(exitCode)"
        if crashMarkers.contains(where: stderr.contains) { return Outcome(kind: .crash, status: status, stderr: stderr) }
        if exitCode == 0 { return Outcome(kind: .accepted, status: status, stderr: stderr) }
        return Outcome(kind: stderr.utf8.count > floodLimit ? .flood : .cleanError, status: status, stderr: stderr)
    }

    /// Groups findings with one cause: the kind and the crash line (or signal) with numbers removed.
    var signature: String {
        let line = stderr.split(separator: "\n").first { line in Self.crashMarkers.contains { line.contains($0) } }
            .map(String.init) ?? (kind == .flood ? String(stderr.prefix(60)) : status)
        let words = line.replacingOccurrences(of: "[0-9]+", with: "N", options: .regularExpression)
        return "\(kind.rawValue): \(words.prefix(160))"
    }
}

/// Runs `corrsteer` in a case folder under a wall-clock timeout and an address-space limit, so an
/// attempted huge allocation fails inside the process (a crash) instead of swapping the machine.
struct CommandRunner {
    let binary: String
    var timeout: Double = 10
    var memoryLimitMB = 4096
    /// Backtraces take seconds to symbolicate: off while fuzzing, on when a finding is recorded.
    var backtraces = false

    func run(_ arguments: [String], in folder: URL, stdin: String?) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // `exec` keeps one process, so a signal that kills corrsteer is the status this Process sees.
        process.arguments = ["-c", "ulimit -v \(memoryLimitMB * 1024) 2>/dev/null; exec \"$0\" \"$@\"", binary] + arguments
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = backtraces ? "enable=yes,interactive=no,color=no" : "enable=no"
        environment["CORRSTEER_THREADS"] = "1"  // the machine is shared; one thread is enough for tiny inputs
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        let errorURL = folder.appendingPathComponent(".fuzz-stderr")
        let inputURL = folder.appendingPathComponent(".fuzz-stdin")
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: inputURL.path, contents: Data((stdin ?? "").utf8))
        guard let errorHandle = try? FileHandle(forWritingTo: errorURL), let inputHandle = try? FileHandle(forReadingFrom: inputURL) else {
            return Outcome(kind: .cleanError, status: "setup failed", stderr: "could not create \(errorURL.path)")
        }
        defer { try? errorHandle.close(); try? inputHandle.close() }
        process.standardError = errorHandle
        process.standardInput = inputHandle
        process.standardOutput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do { try process.run() } catch {
            return Outcome(kind: .cleanError, status: "not started", stderr: "\(binary): \(error)")
        }
        let timedOut = finished.wait(timeout: .now() + timeout) == .timedOut
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        // Only the first 64 kB matter for classification and for the saved finding.
        let handle = try? FileHandle(forReadingFrom: errorURL)
        let stderr = String(decoding: (try? handle?.read(upToCount: 65_536)) ?? Data(), as: UTF8.self)
        try? handle?.close()
        let signaled = process.terminationReason == .uncaughtSignal
        return Outcome.classify(exitCode: signaled ? -1 : process.terminationStatus, signal: signaled ? process.terminationStatus : nil,
                                timedOut: timedOut, stderr: stderr, timeout: timeout)
    }

    /// The command as a shell line, for reports and reproduction.
    func commandLine(_ arguments: [String], stdin: String?) -> String {
        let quoted = ([binary] + arguments).map { $0.contains(where: { " '\"\\$".contains($0) }) ? "'\($0)'" : $0 }.joined(separator: " ")
        return "(ulimit -v \(memoryLimitMB * 1024); \(quoted)\(stdin == nil ? "" : " < .fuzz-stdin"))"
    }
}
