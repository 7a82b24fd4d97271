import Foundation
import WeightFiles

/// The durable state of a collection: which samples are in the statistics, and where those
/// statistics are. Statistics of a checkpoint are written to a fresh folder first; the pointer file
/// `stats/checkpoint.json` is replaced atomically afterwards, so a kill at any moment leaves either
/// the old or the new checkpoint whole.
public struct StatisticsCheckpoint: Codable, Equatable, Sendable {
    /// Samples (of this run's slice of the train split) already in the statistics.
    public var samplesDone: Int
    public var successes: Double
    /// Folder under `stats/` that holds `layer_L.safetensors` for every layer.
    public var folder: String
    public var layers: [Int]
    public var collectionSeconds: Double
    public var complete: Bool

    enum CodingKeys: String, CodingKey {
        case folder, layers, complete, successes
        case samplesDone = "samples_done"
        case collectionSeconds = "collection_seconds"
    }

    public static func load(from run: RunDirectory) throws -> StatisticsCheckpoint? {
        guard FileManager.default.fileExists(atPath: run.checkpoint.path) else { return nil }
        do {
            return try JSONDecoder().decode(StatisticsCheckpoint.self, from: Data(contentsOf: run.checkpoint))
        } catch {
            throw RunError.invalidRun(path: run.checkpoint.path, reason: "unreadable checkpoint: \(error)")
        }
    }

    public func statisticsURL(in run: RunDirectory, layer: Int) -> URL {
        run.statsDirectory.appendingPathComponent(folder).appendingPathComponent("layer_\(layer).safetensors")
    }

    /// Loads the statistics of every layer of this checkpoint.
    public func loadStatistics(in run: RunDirectory) throws -> [Int: FeatureStatistics] {
        var result: [Int: FeatureStatistics] = [:]
        for layer in layers { result[layer] = try FeatureStatistics.load(from: statisticsURL(in: run, layer: layer)) }
        return result
    }

    /// Writes `statistics` as a new checkpoint and makes it current; older checkpoint folders are removed.
    public static func write(
        _ statistics: [Int: FeatureStatistics], samplesDone: Int, successes: Double, seconds: Double,
        complete: Bool, to run: RunDirectory
    ) throws -> StatisticsCheckpoint {
        let folder = String(format: "checkpoint-%09d", samplesDone)
        let checkpoint = StatisticsCheckpoint(
            samplesDone: samplesDone, successes: successes, folder: folder, layers: statistics.keys.sorted(),
            collectionSeconds: seconds, complete: complete)
        let previous = try? load(from: run)
        for (layer, stats) in statistics {
            try stats.save(to: checkpoint.statisticsURL(in: run, layer: layer), metadata: ["layer": "\(layer)"])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(checkpoint), to: run.checkpoint)
        if let previous, previous.folder != folder {
            try? FileManager.default.removeItem(at: run.statsDirectory.appendingPathComponent(previous.folder))
        }
        if complete {
            try AtomicFile.write(Data("\(samplesDone)\n".utf8), to: run.collectionComplete)
        }
        return checkpoint
    }
}
