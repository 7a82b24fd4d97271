import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One long-lived `/bin/sh -c COMMAND` that answers batches: write some lines to its stdin, then read
/// a number of non-blank lines back from its stdout within a time limit. Any failure kills the process;
/// the next exchange starts a fresh one.
final class ShellSession: @unchecked Sendable {
    enum Failure: Error {
        case couldNotStart(String)
        case timedOut
        /// The process closed its output before answering: its exit status (or nil if still running)
        /// and the end of its stderr.
        case exited(status: Int32?, bySignal: Bool, standardError: Data)
    }

    let command: String
    private let condition = NSCondition()
    private let exchangeLock = NSLock()
    private var process: Process?
    private var input: FileHandle?
    private var pending: [UInt8] = []
    private var outputClosed = false
    private var standardError = Data()
    private var linesRead = 0

    init(command: String) {
        self.command = command
    }

    deinit {
        // End of input lets a well-behaved scorer exit on its own.
        try? input?.close()
    }

    /// Sends `data` and returns the next `count` non-blank output lines with their line numbers
    /// (counted from the start of the process).
    func exchange(_ data: Data, expecting count: Int, timeout: Double) throws -> [(number: Int, text: [UInt8])] {
        exchangeLock.lock()
        defer { exchangeLock.unlock() }
        do {
            let descriptor = try start()
            ShellCommand.writeAll(data, to: descriptor)
            return try read(count, until: Date().addingTimeInterval(timeout))
        } catch {
            stop()
            throw error
        }
    }

    private func start() throws -> Int32 {
        if let input { return input.fileDescriptor }
        ShellCommand.ignoreBrokenPipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.terminationHandler = { [weak self] _ in
            guard let self else { return }
            self.condition.lock()
            self.condition.broadcast()
            self.condition.unlock()
        }
        do {
            try process.run()
        } catch {
            throw Failure.couldNotStart(error.localizedDescription)
        }
        condition.lock()
        pending = []
        outputClosed = false
        standardError = Data()
        linesRead = 0
        condition.unlock()
        let output = stdoutPipe.fileHandleForReading
        let errors = stderrPipe.fileHandleForReading
        DispatchQueue.global().async { [weak self] in
            while true {
                let chunk = output.availableData
                guard let self else { return }
                self.condition.lock()
                if chunk.isEmpty { self.outputClosed = true } else { self.pending += chunk }
                self.condition.broadcast()
                self.condition.unlock()
                if chunk.isEmpty { return }
            }
        }
        DispatchQueue.global().async { [weak self] in
            while true {
                let chunk = errors.availableData
                guard let self, !chunk.isEmpty else { return }
                self.condition.lock()
                self.standardError += chunk
                if self.standardError.count > 65_536 { self.standardError = self.standardError.suffix(16_384) }
                self.condition.unlock()
            }
        }
        self.process = process
        input = stdinPipe.fileHandleForWriting
        return stdinPipe.fileHandleForWriting.fileDescriptor
    }

    private func read(_ count: Int, until deadline: Date) throws -> [(number: Int, text: [UInt8])] {
        var lines: [(number: Int, text: [UInt8])] = []
        condition.lock()
        defer { condition.unlock() }
        while lines.count < count {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                linesRead += 1
                if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                    lines.append((linesRead, line))
                }
                continue
            }
            if outputClosed {
                // A last line without a newline still counts.
                if !pending.isEmpty {
                    linesRead += 1
                    lines.append((linesRead, pending))
                    pending = []
                    continue
                }
                // Give the process a moment to be reaped so its exit status can be reported.
                let grace = min(deadline, Date().addingTimeInterval(2))
                while let process, process.isRunning, Date() < grace {
                    _ = condition.wait(until: grace)
                }
                let exited = process.map { !$0.isRunning } ?? true
                throw Failure.exited(status: exited ? process?.terminationStatus : nil,
                                     bySignal: exited && process?.terminationReason == .uncaughtSignal,
                                     standardError: standardError)
            }
            if !condition.wait(until: deadline) && Date() >= deadline {
                throw Failure.timedOut
            }
        }
        return lines
    }

    /// Kills the process; the next exchange starts a new one.
    func reset() {
        exchangeLock.lock()
        defer { exchangeLock.unlock() }
        stop()
    }

    /// Kills the process (and its process group where it has one) and forgets it.
    private func stop() {
        if let process, process.processIdentifier > 0 {
            ShellCommand.killGroup(process.processIdentifier)
        }
        try? input?.close()
        process = nil
        input = nil
    }
}
