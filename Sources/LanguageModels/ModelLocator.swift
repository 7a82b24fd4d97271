import Foundation

/// Turns a `--model` argument into a model folder: a local path, or a Hugging Face id (`org/name`) whose
/// snapshot is in the local cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
public enum ModelLocator {
    public static func resolve(_ reference: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let expanded = (reference as NSString).expandingTildeInPath
        if fm.fileExists(atPath: expanded, isDirectory: &isDirectory), isDirectory.boolValue {
            return URL(fileURLWithPath: expanded, isDirectory: true)
        }
        let hub = hubCache(environment)
        let parts = reference.split(separator: "/")
        guard parts.count == 2, !reference.hasPrefix("."), !reference.hasPrefix("/") else {
            throw LanguageModelError.modelNotFound(reference: reference, searched: [expanded])
        }
        let repo = hub.appendingPathComponent("models--\(parts[0])--\(parts[1])")
        let snapshots = repo.appendingPathComponent("snapshots")
        // The revision `refs/main` points at, else the most recently modified snapshot with a config.json.
        if let revision = try? String(contentsOf: repo.appendingPathComponent("refs/main"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !revision.isEmpty {
            let snapshot = snapshots.appendingPathComponent(revision)
            if fm.fileExists(atPath: snapshot.appendingPathComponent("config.json").path) { return snapshot }
        }
        let candidates = ((try? fm.contentsOfDirectory(at: snapshots, includingPropertiesForKeys: [.contentModificationDateKey])) ?? [])
            .filter { fm.fileExists(atPath: $0.appendingPathComponent("config.json").path) }
        let newest = candidates.max { a, b in
            let da = (try? a.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            let db = (try? b.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
            return da < db
        }
        if let newest { return newest }
        throw LanguageModelError.modelNotFound(reference: reference, searched: [expanded, snapshots.path])
    }

    /// The hub cache folder the environment selects.
    public static func hubCache(_ environment: [String: String]) -> URL {
        if let cache = environment["HF_HUB_CACHE"], !cache.isEmpty {
            return URL(fileURLWithPath: (cache as NSString).expandingTildeInPath, isDirectory: true)
        }
        if let home = environment["HF_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: (home as NSString).expandingTildeInPath, isDirectory: true).appendingPathComponent("hub")
        }
        let userHome = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: userHome, isDirectory: true).appendingPathComponent(".cache/huggingface/hub")
    }
}
