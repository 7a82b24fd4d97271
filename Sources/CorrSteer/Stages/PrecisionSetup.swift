import Foundation
import Tensors

/// `--precision` for this process: `PrecisionSelector` decides, and `auto`'s product timings are kept
/// in the user's cache folder per CPU model, kernel path and revision, thread count and corrsteer version, so the
/// measurement runs once per machine rather than once per command.
public enum PrecisionSetup {
    /// `$XDG_CACHE_HOME/corrsteer`, else `~/.cache/corrsteer`.
    public static var defaultCacheDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("corrsteer")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/corrsteer")
    }

    /// Decides, sets the process default and returns the decision. A missing, unreadable or stale cache
    /// only means measuring again; a cache that cannot be written is skipped silently.
    @discardableResult
    public static func apply(_ choice: PrecisionChoice, cacheDirectory: URL? = defaultCacheDirectory) -> PrecisionDecision {
        PrecisionSelector.apply(decide(choice, cacheDirectory: cacheDirectory))
    }

    /// The decision without applying it; tests pass their own CPU facts and measurement.
    public static func decide(
        _ choice: PrecisionChoice, cacheDirectory: URL?, bf16DotProduct: Bool = MatMul.hasBF16DotProduct,
        measure: () -> ProductTimings = PrecisionSelector.measure
    ) -> PrecisionDecision {
        let key = CacheKey(cpu: cpuModel, kernelPath: MatMul.kernelPath, kernelRevision: MatMul.kernelRevision,
                           threads: Parallel.threadCount, toolVersion: RunManifest.toolVersion)
        let file = cacheDirectory?.appendingPathComponent("precision-\(Fingerprint.fnv1a64(Array(key.text.utf8))).json")
        return PrecisionSelector.decide(choice, cachedTimings: {
            file.flatMap { read($0, key: key) }
        }, store: { timings in
            guard let file else { return }
            try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? RunFileCoding.writeAtomically(to: file) {
                try JSONEncoder().encode(CacheEntry(key: key.text, timings: timings))
            }
        }, bf16DotProduct: bf16DotProduct, measure: measure)
    }

    /// The CPU's model name ("AMD EPYC 9R14"), or "unknown".
    public static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown"
    }

    struct CacheKey {
        var cpu: String, kernelPath: String, kernelRevision: Int, threads: Int, toolVersion: String
        var text: String { "\(cpu)|\(kernelPath) r\(kernelRevision)|\(threads)|\(toolVersion)" }
    }

    struct CacheEntry: Codable {
        var key: String
        var timings: ProductTimings
    }

    private static func read(_ file: URL, key: CacheKey) -> ProductTimings? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
              let size = attributes[.size] as? Int, size < 65_536,
              let data = try? Data(contentsOf: file),
              let entry = try? JSONDecoder().decode(CacheEntry.self, from: data),
              entry.key == key.text else { return nil }
        let all = [entry.timings.oneRow, entry.timings.eightRows, entry.timings.manyRows]
        guard all.allSatisfy({ $0.exact.isFinite && $0.fast.isFinite && $0.exact > 0 && $0.fast > 0 }) else { return nil }
        return entry.timings
    }
}
