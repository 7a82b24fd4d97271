import InputQuoting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The advisory lock that makes one process the only writer of a run directory.
///
/// It is a `flock(2)` on `RUN/.lock`: the kernel drops it when the holder exits in any way, SIGKILL
/// included, so a killed run never leaves a stale lock behind. The file names the holder (pid, host,
/// command) so that a second writer can say who it is waiting for. Stages of one process share the
/// lock (the demo collects, selects and evaluates under one), so acquiring it is reentrant per process.
public final class RunLock {
    private static let registry = Registry()
    private let key: String

    private init(key: String) { self.key = key }
    deinit { Self.registry.release(key) }

    /// Takes the lock of `run` or throws `RunError.locked` at once. With `creating`, a missing run
    /// folder is made, and removed again on release if the stage failed before writing anything to it.
    public static func acquire(_ run: RunDirectory, creating: Bool = false) throws -> RunLock {
        var isDirectory: ObjCBool = false
        let existed = FileManager.default.fileExists(atPath: run.url.path, isDirectory: &isDirectory)
        if existed && !isDirectory.boolValue {
            throw RunError.invalidRun(path: run.url.path, reason: "is a file, not a run directory")
        }
        if !existed {
            guard creating else { throw RunError.invalidRun(path: run.url.path, reason: "no such run directory") }
            do {
                try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
            } catch {
                throw RunError.cannotWrite(path: run.url.path, reason: error.localizedDescription)
            }
        }
        let key = run.url.resolvingSymlinksInPath().standardizedFileURL.path
        try registry.acquire(key, file: run.lockFile, created: existed ? nil : run.url)
        return RunLock(key: key)
    }

    private final class Registry: @unchecked Sendable {
        private let mutex = NSLock()
        private var held: [String: (descriptor: Int32, users: Int, created: URL?)] = [:]

        func acquire(_ key: String, file: URL, created: URL?) throws {
            mutex.lock()
            defer { mutex.unlock() }
            if let entry = held[key] {
                held[key] = (entry.descriptor, entry.users + 1, entry.created)
                return
            }
            // O_NOFOLLOW: a planted `.lock` link must not make us create or truncate a file elsewhere.
            let descriptor = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard descriptor >= 0 else {
                throw RunError.cannotWrite(path: file.path, reason: String(cString: strerror(errno)))
            }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                let busy = errno == EWOULDBLOCK
                let reason = String(cString: strerror(errno))
                let holder = Self.holder(descriptor)
                close(descriptor)
                if let created { Self.removeIfUnused(created) }
                if busy { throw RunError.locked(path: file.deletingLastPathComponent().path, holder: holder) }
                throw RunError.cannotWrite(path: file.path, reason: "cannot lock: \(reason)")
            }
            let arguments = CommandLine.arguments.prefix(3).joined(separator: " ")
            let text = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName), since \(RunManifest.timestamp()): \(arguments)\n"
            _ = ftruncate(descriptor, 0)
            _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
            held[key] = (descriptor, 1, created)
        }

        func release(_ key: String) {
            mutex.lock()
            defer { mutex.unlock() }
            guard let entry = held[key] else { return }
            if entry.users > 1 {
                held[key] = (entry.descriptor, entry.users - 1, entry.created)
            } else {
                if let created = entry.created { Self.removeIfUnused(created) }
                // Closing the descriptor drops the flock. An existing run keeps its `.lock` file: removing
                // it would let a waiter lock a file that a third process then recreates.
                close(entry.descriptor)
                held[key] = nil
            }
        }

        /// Removes a run folder this process created if it holds nothing but the lock file, so a stage
        /// that fails before its first write leaves no trace.
        private static func removeIfUnused(_ folder: URL) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path), names == [".lock"] else { return }
            unlink(folder.appendingPathComponent(".lock").path)
            rmdir(folder.path)
        }

        private static func holder(_ descriptor: Int32) -> String {
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = pread(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { return "holder unknown" }
            let text = String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return QuotedInput.escaped(text)
        }
    }
}
