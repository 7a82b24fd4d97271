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

    /// Groups findings with one cause: the kind and the crash line (or signal), or for a flood the
    /// message up to where the quoted input starts; case-folder paths and numbers blanked.
    var signature: String {
        var line = stderr.split(separator: "\n").first { line in Self.crashMarkers.contains { line.contains($0) } }
            .map(String.init) ?? (kind == .flood ? String(stderr.prefix(300)) : status)
        line = line.replacingOccurrences(of: "/[^ :]*/case/", with: "", options: .regularExpression)
        if kind == .flood, let run = line.range(of: "(?s)(.)\\1{7,}", options: .regularExpression) { line = String(line[..<run.lowerBound]) }
        line = line.replacingOccurrences(of: "[0-9]+", with: "N", options: .regularExpression)
            .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "[\\x00-\\x1f]", with: "?", options: .regularExpression)
        return "\(kind.rawValue): \(line.prefix(120))"
    }
}

/// Runs `corrsteer` in a case folder under a wall-clock timeout and an address-space limit, so an
/// attempted huge allocation fails inside the process (a crash) instead of swapping the machine.
struct CommandRunner {
    let binary: String
    var timeout: Double = 10
    var memoryLimitMB = 4096

    func run(_ arguments: [String], in folder: URL, stdin: String?) -> Outcome {
        // `exec` keeps one process, so a signal that kills corrsteer is the status this Process sees.
        runShell(["-c", "ulimit -v \(memoryLimitMB * 1024) 2>/dev/null; exec \"$0\" \"$@\"", binary] + arguments, in: folder, stdin: stdin)
    }

    private func runShell(_ arguments: [String], in folder: URL, stdin: String?) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        // The runtime still prints its short "Current stack trace" on a fatal error; the backtracer
        // would add seconds per crash and cannot unwind these builds anyway (gdbStack can).
        environment["SWIFT_BACKTRACE"] = "enable=no"
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

    /// The crashed thread's stack from gdb (which, unlike the Swift backtracer, unwinds these -Ounchecked
    /// builds and names file:line), or nil without gdb. Runs under the same address-space limit.
    func gdbStack(_ arguments: [String], in folder: URL, stdin: String?) -> String? {
        let gdb = "/usr/bin/gdb"
        guard FileManager.default.isExecutableFile(atPath: gdb) else { return nil }
        let run = "run " + arguments.map(Self.shellQuoted).joined(separator: " ") + " < .fuzz-stdin"
        var traced = self
        traced.timeout = max(timeout, 60)
        // gdb prints mangled Swift names; swift-demangle (next to swift) makes them readable.
        let demangle = "if command -v swift-demangle >/dev/null; then swift-demangle --simplified; else cat; fi"
        let script = "ulimit -v \(memoryLimitMB * 1024) 2>/dev/null; \(gdb) -batch -nx -q -ex \"$1\" -ex 'bt 40' \"$0\" 2>/dev/null | { \(demangle); } >&2"
        let outcome = traced.runShell(["-c", script, binary, run], in: folder, stdin: stdin)
        let frames = outcome.stderr.split(separator: "\n").filter { $0.hasPrefix("#") }
        return frames.isEmpty ? nil : frames.joined(separator: "\n")
    }

    /// The first frame of the stack in corrsteer's own sources (not the standard library inlined into
    /// it, not the CLI layer): `TokenizerFile.load(_:) at Sources/Tokenization/TokenizerFile.swift:73`.
    static func faultingFrame(_ stack: String) -> String? {
        let library = ["specialized static Array", "specialized Array", "Array", "ContiguousArray", "_ContiguousArrayBuffer",
                       "specialized _ContiguousArrayBuffer", "Dictionary", "specialized Dictionary", "String", "Data", "specialized Data"]
        for line in stack.split(separator: "\n") {
            guard let at = line.range(of: " at ", options: .backwards), line[at.upperBound...].contains("Sources/"),
                  !line.contains("Sources/corrsteer/") else { continue }
            var function = line[..<at.lowerBound].replacingOccurrences(of: "^#[0-9]+ +(0x[0-9a-f]+ in )?", with: "", options: .regularExpression)
            if let arguments = function.range(of: " (", options: .backwards) { function = String(function[..<arguments.lowerBound]) }
            if library.contains(where: { function.hasPrefix($0) }) { continue }
            let path = String(line[at.upperBound...])
            let relative = path.range(of: "Sources/").map { String(path[$0.lowerBound...]) } ?? path
            return "\(function) at \(relative)"
        }
        return nil
    }

    static func shellQuoted(_ word: String) -> String {
        word.allSatisfy { $0.isLetter || $0.isNumber || "-_./,=:".contains($0) } ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The command as a shell line, for reports and reproduction.
    func commandLine(_ arguments: [String], stdin: String?) -> String {
        let quoted = ([binary] + arguments).map(Self.shellQuoted).joined(separator: " ")
        return "(ulimit -v \(memoryLimitMB * 1024); \(quoted)\(stdin == nil ? "" : " < .fuzz-stdin"))"
    }
}
