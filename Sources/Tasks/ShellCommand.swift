import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `/bin/sh -c COMMAND` with bytes on stdin, collects stdout and stderr, and kills it (and, where
/// the platform gives the child its own process group, its children) when it exceeds a time limit.
struct ShellCommand {
    struct Result {
        let exitStatus: Int32
        let killedBySignal: Bool
        let standardOutput: Data
        let standardError: Data
    }

    enum Failure: Error {
        case couldNotStart(String)
        case timedOut
        case outputLeftOpen
        /// Standard output line `line` (1-based) exceeded `limit` bytes; the command was killed.
        case lineTooLong(line: Int, limit: Int)
    }

    /// Longest standard output line kept. Output is read as it arrives and a longer line stops the
    /// command, so a runaway scorer (a 300 MB line) cannot make us hold all of it.
    static let maxLineLength = 1 << 20
    /// Only the end of standard error is kept: it is quoted in errors, and its last lines say why.
    static let keptErrorBytes = 1 << 16

    let command: String
    let timeout: Double

    /// Writing to a scorer that exits without reading its input must fail with EPIPE, not kill us.
    private static let brokenPipeIgnored: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    static func ignoreBrokenPipe() {
        _ = brokenPipeIgnored
    }

    func run(input: Data) throws -> Result {
        Self.ignoreBrokenPipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw Failure.couldNotStart(error.localizedDescription)
        }
        let deadline = DispatchTime.now() + timeout

        let collected = CollectedOutput()
        let readers = DispatchGroup()
        for (pipe, isError) in [(stdoutPipe, false), (stderrPipe, true)] {
            readers.enter()
            DispatchQueue.global().async {
                let handle = pipe.fileHandleForReading
                var data = Data()
                var line = 1, lineLength = 0
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    if isError {
                        data.append(chunk)
                        if data.count > 2 * Self.keptErrorBytes { data = data.suffix(Self.keptErrorBytes) }
                        continue
                    }
                    var overflow = false
                    for byte in chunk {
                        if byte == UInt8(ascii: "\n") {
                            line += 1
                            lineLength = 0
                        } else {
                            lineLength += 1
                            if lineLength > Self.maxLineLength { overflow = true; break }
                        }
                    }
                    if overflow {
                        collected.markOverflow(line: line)
                        self.kill(process)
                        break
                    }
                    data.append(chunk)
                }
                collected.store(isError ? data.suffix(Self.keptErrorBytes) : data, isError: isError)
                readers.leave()
            }
        }
        let writer = stdinPipe.fileHandleForWriting
        DispatchQueue.global().async {
            Self.writeAll(input, to: writer.fileDescriptor)
            try? writer.close()
        }

        if exited.wait(timeout: deadline) == .timedOut {
            kill(process)
            _ = exited.wait(timeout: .now() + 5)
            throw Failure.timedOut
        }
        // A background child may still hold stdout open after the shell exits.
        if readers.wait(timeout: max(deadline, .now() + 1)) == .timedOut {
            kill(process)
            if let line = collected.snapshot().overflowLine { throw Failure.lineTooLong(line: line, limit: Self.maxLineLength) }
            throw Failure.outputLeftOpen
        }
        let output = collected.snapshot()
        if let line = output.overflowLine {
            throw Failure.lineTooLong(line: line, limit: Self.maxLineLength)
        }
        return Result(
            exitStatus: process.terminationStatus,
            killedBySignal: process.terminationReason == .uncaughtSignal,
            standardOutput: output.standardOutput,
            standardError: output.standardError)
    }

    private func kill(_ process: Process) {
        let pid = process.processIdentifier
        guard pid > 0 else { return }
        Self.killGroup(pid)
    }

    /// SIGKILL to the process group led by `pid` (Foundation gives the child its own group on Linux)
    /// and to `pid` itself.
    static func killGroup(_ pid: Int32) {
        #if canImport(Glibc)
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
        #elseif canImport(Darwin)
        _ = Darwin.kill(-pid, SIGKILL)
        _ = Darwin.kill(pid, SIGKILL)
        #endif
    }

    static func writeAll(_ data: Data, to descriptor: Int32) {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            guard var pointer = buffer.baseAddress else { return }
            var remaining = buffer.count
            while remaining > 0 {
                #if canImport(Glibc)
                let written = Glibc.write(descriptor, pointer, remaining)
                #else
                let written = Darwin.write(descriptor, pointer, remaining)
                #endif
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // EPIPE: the command stopped reading; its exit status tells the story.
                }
                pointer += written
                remaining -= written
            }
        }
    }
}

/// Output gathered by the reader threads.
private final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var standardOutput = Data()
    private var standardError = Data()
    private var overflowLine: Int?

    func markOverflow(line: Int) {
        lock.lock()
        defer { lock.unlock() }
        overflowLine = line
    }

    func store(_ data: Data, isError: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if isError { standardError = data } else { standardOutput = data }
    }

    func snapshot() -> (standardOutput: Data, standardError: Data, overflowLine: Int?) {
        lock.lock()
        defer { lock.unlock() }
        return (standardOutput, standardError, overflowLine)
    }
}
