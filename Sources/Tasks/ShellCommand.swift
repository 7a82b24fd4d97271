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
    }

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
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.store(data, isError: isError)
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
            throw Failure.outputLeftOpen
        }
        let output = collected.snapshot()
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

    func store(_ data: Data, isError: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if isError { standardError = data } else { standardOutput = data }
    }

    func snapshot() -> (standardOutput: Data, standardError: Data) {
        lock.lock()
        defer { lock.unlock() }
        return (standardOutput, standardError)
    }
}
