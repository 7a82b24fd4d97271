import InputQuoting
import Foundation

/// The files of one CorrSteer run (docs/run-directory.md). Every path a stage reads or writes comes from here.
///
/// A run directory may come from anywhere (a colleague, a cluster, an attacker), so nothing in it
/// redirects a write or a delete: names read from its files are plain names checked by `plainName`,
/// and `refuseLinks()` rejects any symbolic link inside it before a stage writes.
public struct RunDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }
    public init(path: String) { self.url = URL(fileURLWithPath: path) }

    public var manifest: URL { url.appendingPathComponent("manifest.json") }
    public var collectionLog: URL { url.appendingPathComponent("collection.jsonl") }
    public var statsDirectory: URL { url.appendingPathComponent("stats") }
    /// Written once the collection has processed every sample it was asked for (merge jobs wait for it).
    public var collectionComplete: URL { statsDirectory.appendingPathComponent("complete") }
    public var checkpoint: URL { statsDirectory.appendingPathComponent("checkpoint.json") }
    public var features: URL { url.appendingPathComponent("features.json") }
    public var plansDirectory: URL { url.appendingPathComponent("plans") }
    /// `plans/NAME.json`; `name` must be a plain name (see `plainName`).
    public func plan(_ name: String) -> URL { plansDirectory.appendingPathComponent("\(name).json") }
    public var evalDirectory: URL { url.appendingPathComponent("eval") }
    public func predictions(variant: String) -> URL { evalDirectory.appendingPathComponent(variant).appendingPathComponent("predictions.jsonl") }
    public func metrics(variant: String) -> URL { evalDirectory.appendingPathComponent(variant).appendingPathComponent("metrics.json") }
    public var exportDirectory: URL { url.appendingPathComponent("export") }
    public var reportMarkdown: URL { url.appendingPathComponent("report.md") }
    public var reportHTML: URL { url.appendingPathComponent("report.html") }
    /// The advisory lock of the one process that writes this run (see `RunLock`).
    public var lockFile: URL { url.appendingPathComponent(".lock") }

    /// Top-level entries a corrsteer run consists of; anything else in the folder is the user's.
    static let ownEntries: Set<String> = [
        "manifest.json", "collection.jsonl", "stats", "features.json", "plans", "eval", "export",
        "report.md", "report.html", ".lock",
    ]

    public var exists: Bool { FileManager.default.fileExists(atPath: manifest.path) }

    /// What the folder holds before a stage starts a new run in it.
    public enum Occupancy: Equatable, Sendable {
        case missing, empty, run
        /// Not a corrsteer run, with (some of) the entries that make it so.
        case foreign(entries: [String])
    }

    public func occupancy() throws -> Occupancy {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return .missing }
        guard isDirectory.boolValue else { return .foreign(entries: [url.lastPathComponent]) }
        if exists { return .run }
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: url.path) } catch {
            throw RunError.invalidRun(path: url.path, reason: "cannot list: \(error.localizedDescription)")
        }
        let others = entries.filter { $0 != ".lock" }.sorted()
        return others.isEmpty ? .empty : .foreign(entries: Array(others.prefix(5)))
    }

    /// Entries of the folder that are not part of a run (the user's own files).
    public func foreignEntries() throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: url.path).filter { !Self.ownEntries.contains($0) }.sorted()
        } catch {
            throw RunError.invalidRun(path: url.path, reason: "cannot list: \(error.localizedDescription)")
        }
    }

    /// Makes sure a new run may be written here: the folder is missing, empty, or (when
    /// `replacingRun` is true) already a run. A folder holding anything else is never written into.
    public func requireWritable(replacingRun: Bool = false) throws {
        switch try occupancy() {
        case .missing, .empty: return
        case .run where replacingRun: return
        case .run:
            throw RunError.invalidRun(path: url.path, reason: "already holds a run; choose another \(RunSetting.output)")
        case let .foreign(entries):
            throw RunError.invalidRun(
                path: url.path,
                reason: "is not empty and is not a corrsteer run (it holds \(entries.map { "'\(QuotedInput.escaped($0))'" }.joined(separator: ", "))); choose another \(RunSetting.output)")
        }
    }

    public func create() throws {
        do {
            try FileManager.default.createDirectory(at: statsDirectory, withIntermediateDirectories: true)
        } catch {
            throw RunError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Deletes a run so that a new one can take its place: only when the folder holds nothing but
    /// the run's own entries (`ownEntries`) and no link out of the folder.
    public func removeRunEntries() throws {
        let others = try foreignEntries()
        guard others.isEmpty else {
            throw RunError.invalidRun(
                path: url.path,
                reason: "holds files that are not part of the run (\(others.prefix(5).map { "'\(QuotedInput.escaped($0))'" }.joined(separator: ", "))); move them or choose another folder")
        }
        try refuseLinks()
        for name in Self.ownEntries.sorted() where name != ".lock" {
            let entry = url.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: entry.path) else { continue }
            do { try FileManager.default.removeItem(at: entry) } catch {
                throw RunError.cannotWrite(path: entry.path, reason: "cannot remove: \(error.localizedDescription)")
            }
        }
    }

    /// Throws if any entry inside the run directory is a symbolic link: a link would let a write or
    /// delete of the run reach a file outside it. (The run folder itself may be a link the user made.)
    public func refuseLinks() throws {
        let manager = FileManager.default
        var pending = [url]
        var visited = 0
        while let folder = pending.popLast() {
            guard let names = try? manager.contentsOfDirectory(atPath: folder.path) else { continue }
            for name in names {
                visited += 1
                // A run holds a few dozen entries; a huge tree is not a run and is not walked further.
                guard visited <= 100_000 else {
                    throw RunError.invalidRun(path: url.path, reason: "holds more than 100000 entries; not a corrsteer run")
                }
                let entry = folder.appendingPathComponent(name)
                var status = stat()
                guard lstat(entry.path, &status) == 0 else { continue }
                switch status.st_mode & S_IFMT {
                case S_IFLNK:
                    throw RunError.invalidRun(
                        path: entry.path,
                        reason: "is a symbolic link inside a run directory; corrsteer does not follow links in runs (they could redirect its writes outside the run)")
                case S_IFDIR:
                    pending.append(entry)
                default:
                    continue
                }
            }
        }
    }

    /// `name` if it names a file or folder directly inside a run folder: not empty, no `/`, not `.`
    /// or `..`, no control characters, at most 200 bytes. Every name read from a run file or taken
    /// from an option that becomes a path inside the run goes through here.
    public static func plainName(_ name: String, field: String) throws -> String {
        let reason: String?
        if name.isEmpty || name == "." || name == ".." {
            reason = "is empty, '.' or '..'"
        } else if name.utf8.count > 200 {
            reason = "is longer than 200 bytes"
        } else if name.contains("/") || name.contains("\\") {
            reason = "contains a path separator"
        } else if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            reason = "contains a control character"
        } else {
            reason = nil
        }
        if let reason {
            throw RunError.invalidSetting("\(field) '\(QuotedInput.escaped(name))' \(reason); it must be a plain file name inside the run")
        }
        return name
    }
}
