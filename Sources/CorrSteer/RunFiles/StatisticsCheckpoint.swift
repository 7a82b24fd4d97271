import InputQuoting
import Foundation
import WeightFiles

/// The durable state of a collection: which samples are in the statistics, and where those
/// statistics are. Statistics of a checkpoint are written to a fresh folder first; the pointer file
/// `stats/checkpoint.json` is replaced atomically afterwards, so a kill at any moment leaves either
/// the old or the new checkpoint whole.
///
/// Nothing in it is trusted: the folder must be the one its sample count names, every statistics file
/// and the collection log must match the checksums recorded with it, the options must be the run's,
/// and the counts inside the statistics must agree with it. A mismatch is an error, never a resume
/// that counts samples twice.
public struct StatisticsCheckpoint: Codable, Equatable, Sendable {
    public static let formatVersion = 2

    public var version = StatisticsCheckpoint.formatVersion
    /// Samples (of this run's slice of the train split) already in the statistics.
    public var samplesDone: Int
    /// Σ reward over those samples.
    public var successes: Double
    /// Folder under `stats/` that holds `layer_L.safetensors` for every layer: `checkpoint-` and
    /// `samplesDone` in nine digits.
    public var folder: String
    public var layers: [Int]
    public var collectionSeconds: Double
    public var complete: Bool
    /// `FileChecksum` of each statistics file, by file name.
    public var checksums: [String: String]
    /// `FileChecksum` of `collection.jsonl` as it stood at this checkpoint (exactly `samplesDone` lines).
    public var collectionLogChecksum: String
    /// `Fingerprint` of the collection options the statistics were gathered with.
    public var optionsFingerprint: String
    /// Layers whose control statistics (`shuffled_L.safetensors`, `residual_L.safetensors`; see
    /// `ControlStatistics`) are in the folder; nil for runs collected without them.
    public var controlLayers: [Int]?

    enum CodingKeys: String, CodingKey {
        case version, folder, layers, complete, successes, checksums
        case samplesDone = "samples_done"
        case collectionSeconds = "collection_seconds"
        case collectionLogChecksum = "collection_log_checksum"
        case optionsFingerprint = "options_fingerprint"
        case controlLayers = "control_layers"
    }

    public static func folderName(samplesDone: Int) -> String { String(format: "checkpoint-%09d", samplesDone) }
    static func isFolderName(_ name: String) -> Bool {
        name.hasPrefix("checkpoint-") && name.count == 20 && name.dropFirst(11).allSatisfy(\.isASCII) && Int(name.dropFirst(11)) != nil
    }
    static func fileName(layer: Int) -> String { "layer_\(layer).safetensors" }
    /// Permutation 0 keeps the name runs had before there were several.
    static func shuffledFileName(layer: Int, permutation: Int = 0) -> String {
        permutation == 0 ? "shuffled_\(layer).safetensors" : "shuffled_\(layer)_p\(permutation).safetensors"
    }
    static func residualFileName(layer: Int) -> String { "residual_\(layer).safetensors" }

    public static func fingerprint(_ configuration: CollectionConfiguration) -> String {
        // Encoding a configuration of strings and numbers cannot fail; an empty fingerprint would only
        // make the checkpoint unusable, never accepted by mistake.
        (try? Fingerprint.of(configuration)) ?? ""
    }

    /// The checkpoint of `run`, or nil before the first one; its own fields are checked for sense
    /// (see `verify(against:)` for the checks against the run's manifest).
    public static func load(from run: RunDirectory) throws -> StatisticsCheckpoint? {
        guard FileManager.default.fileExists(atPath: run.checkpoint.path) else { return nil }
        let path = run.checkpoint.path
        let checkpoint: StatisticsCheckpoint
        do {
            let data = try Data(contentsOf: run.checkpoint)
            guard data.count <= 16 << 20 else { throw RunError.invalidRun(path: path, reason: "is larger than 16 MiB; not a checkpoint") }
            checkpoint = try RunFileCoding.decoder().decode(StatisticsCheckpoint.self, from: data)
        } catch let error as RunError {
            throw error
        } catch DecodingError.keyNotFound(let key, _) where key.stringValue == "version" {
            throw RunError.invalidRun(path: path, reason: "was written by an older corrsteer without checksums; start the collection again in a new \(RunSetting.output)")
        } catch {
            throw RunError.invalidRun(path: path, reason: "unreadable checkpoint: \(QuotedInput.escaped("\(error)"))")
        }
        func fail(_ reason: RunMessage) -> RunError { .invalidRun(path: path, reason: reason) }
        guard checkpoint.version == formatVersion else {
            throw fail("checkpoint version \(checkpoint.version) is not the one this build reads (\(formatVersion))")
        }
        guard checkpoint.samplesDone >= 0, checkpoint.samplesDone <= 1_000_000_000 else {
            throw fail("samples_done \(checkpoint.samplesDone) is out of range")
        }
        guard checkpoint.folder == folderName(samplesDone: checkpoint.samplesDone) else {
            throw fail("folder '\(QuotedInput.escaped(checkpoint.folder))' is not \(folderName(samplesDone: checkpoint.samplesDone)), the folder of samples_done \(checkpoint.samplesDone)")
        }
        guard checkpoint.successes.isFinite, checkpoint.collectionSeconds.isFinite, checkpoint.collectionSeconds >= 0 else {
            throw fail("successes \(checkpoint.successes) or collection_seconds \(checkpoint.collectionSeconds) is not a finite count")
        }
        guard !checkpoint.layers.isEmpty, Set(checkpoint.layers).count == checkpoint.layers.count,
              checkpoint.layers.allSatisfy({ $0 >= 0 && $0 < 100_000 }) else {
            throw fail("layers \(checkpoint.layers.prefix(20)) must be distinct layer indices")
        }
        return checkpoint
    }

    /// Checks this checkpoint against the run it belongs to: the same options, exactly the manifest's
    /// layers, no more samples than the run collects.
    public func verify(against manifest: RunManifest, in run: RunDirectory) throws {
        let path = run.checkpoint.path
        guard optionsFingerprint == Self.fingerprint(manifest.configuration) else {
            throw RunError.invalidRun(path: path, reason: "was written with other collection options than \(run.manifest.path) records")
        }
        let expected = manifest.layers.map(\.layer).sorted()
        guard layers.sorted() == expected else {
            throw RunError.invalidRun(path: path, reason: "holds layers \(layers.sorted()) but the run collects layers \(expected)")
        }
        guard samplesDone <= manifest.samples else {
            throw RunError.invalidRun(path: path, reason: "samples_done \(samplesDone) exceeds the run's \(manifest.samples) samples")
        }
    }

    public func statisticsURL(in run: RunDirectory, layer: Int) -> URL {
        run.statsDirectory.appendingPathComponent(folder).appendingPathComponent(Self.fileName(layer: layer))
    }

    /// Loads the statistics of every layer of this checkpoint after checking each file's checksum and
    /// that its sample count and reward sum are this checkpoint's.
    public func loadStatistics(in run: RunDirectory) throws -> [Int: FeatureStatistics] {
        var result: [Int: FeatureStatistics] = [:]
        for layer in layers {
            let url = statisticsURL(in: run, layer: layer)
            let statistics = try loadChecked(Self.fileName(layer: layer), in: run, layer: layer)
            guard statistics.sampleCount == Int64(samplesDone) else {
                throw RunError.invalidRun(path: url.path, reason: "counts \(statistics.sampleCount) samples but the checkpoint \(samplesDone)")
            }
            guard abs(statistics.rewardSum - successes) <= 1e-9 * max(1, abs(successes)) else {
                throw RunError.invalidRun(path: url.path, reason: "sums rewards to \(statistics.rewardSum) but the checkpoint records \(successes)")
            }
            result[layer] = statistics
        }
        return result
    }

    /// The control statistics of this checkpoint (nil when the run was collected without them), each file
    /// checked against its checksum. The residual statistics count every sample; the shuffled ones leave
    /// out batches of a single sample (see `ControlStatistics`).
    public func loadControls(in run: RunDirectory) throws -> ControlStatistics? {
        guard let controlLayers else { return nil }
        guard controlLayers.sorted() == layers.sorted() else {
            throw RunError.invalidRun(path: run.checkpoint.path, reason: "control_layers \(controlLayers.sorted()) differ from layers \(layers.sorted())")
        }
        // Runs collected before several permutations existed hold permutation 0 only.
        let permutations = (1 ..< ControlStatistics.permutationCount)
            .prefix { k in controlLayers.allSatisfy { checksums[Self.shuffledFileName(layer: $0, permutation: k)] != nil } }.count + 1
        var controls = ControlStatistics(shuffled: Array(repeating: [:], count: permutations), residual: [:])
        for layer in controlLayers {
            let residual = try loadChecked(Self.residualFileName(layer: layer), in: run, layer: layer)
            controls.residual[layer] = residual
            for k in 0 ..< permutations {
                let shuffled = try loadChecked(Self.shuffledFileName(layer: layer, permutation: k), in: run, layer: layer)
                guard residual.sampleCount == Int64(samplesDone), shuffled.sampleCount <= Int64(samplesDone) else {
                    throw RunError.invalidRun(path: run.statsDirectory.appendingPathComponent(folder).path, reason: "control statistics of layer \(layer) count \(residual.sampleCount) and \(shuffled.sampleCount) samples but the checkpoint \(samplesDone)")
                }
                controls.shuffled[k][layer] = shuffled
            }
        }
        return controls
    }

    /// One statistics file of this checkpoint, after checking that it exists and matches its checksum.
    private func loadChecked(_ name: String, in run: RunDirectory, layer: Int) throws -> FeatureStatistics {
        let url = run.statsDirectory.appendingPathComponent(folder).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunError.invalidRun(path: url.path, reason: "is missing; the checkpoint \(run.checkpoint.path) lists layer \(layer)")
        }
        guard let recorded = checksums[name] else {
            throw RunError.invalidRun(path: run.checkpoint.path, reason: "has no checksum for \(name)")
        }
        let actual = try FileChecksum.of(fileAt: url)
        guard actual == recorded else {
            throw RunError.invalidRun(path: url.path, reason: "checksum \(actual) differs from \(QuotedInput.escaped(recorded)) recorded in the checkpoint; the file was changed or damaged")
        }
        return try FeatureStatistics.load(from: url)
    }

    /// Checks that the collection log is the one this checkpoint was written with.
    public func verifyCollectionLog(in run: RunDirectory) throws {
        let actual = FileManager.default.fileExists(atPath: run.collectionLog.path)
            ? try FileChecksum.of(fileAt: run.collectionLog) : FileChecksum.of(Data())
        guard actual == collectionLogChecksum else {
            throw RunError.invalidRun(path: run.collectionLog.path, reason: "checksum \(actual) differs from \(QuotedInput.escaped(collectionLogChecksum)) recorded in \(run.checkpoint.path); the log was changed or damaged")
        }
    }

    /// Writes `statistics` as a new checkpoint and makes it current; older checkpoint folders and files
    /// left by killed writes are removed. `collection.jsonl` must hold exactly `samplesDone` samples.
    public static func write(
        _ statistics: [Int: FeatureStatistics], controls: ControlStatistics? = nil, samplesDone: Int,
        successes: Double, seconds: Double, complete: Bool, configuration: CollectionConfiguration,
        to run: RunDirectory
    ) throws -> StatisticsCheckpoint {
        var checkpoint = StatisticsCheckpoint(
            samplesDone: samplesDone, successes: successes, folder: folderName(samplesDone: samplesDone),
            layers: statistics.keys.sorted(), collectionSeconds: seconds, complete: complete, checksums: [:],
            collectionLogChecksum: FileManager.default.fileExists(atPath: run.collectionLog.path)
                ? try FileChecksum.of(fileAt: run.collectionLog) : FileChecksum.of(Data()),
            optionsFingerprint: fingerprint(configuration))
        for (layer, stats) in statistics {
            let url = checkpoint.statisticsURL(in: run, layer: layer)
            try stats.save(to: url, metadata: ["layer": "\(layer)"])
            checkpoint.checksums[fileName(layer: layer)] = try FileChecksum.of(fileAt: url)
        }
        if let controls {
            let folder = run.statsDirectory.appendingPathComponent(checkpoint.folder)
            var files = controls.residual.map { (residualFileName(layer: $0.key), $0.key, "residual", $0.value) }
            for (k, byLayer) in controls.shuffled.enumerated() {
                files += byLayer.map { (shuffledFileName(layer: $0.key, permutation: k), $0.key, "shuffled", $0.value) }
            }
            for (name, layer, kind, stats) in files {
                let url = folder.appendingPathComponent(name)
                try stats.save(to: url, metadata: ["layer": "\(layer)", "control": kind])
                checkpoint.checksums[name] = try FileChecksum.of(fileAt: url)
            }
            checkpoint.controlLayers = controls.layers
        }
        try RunFileCoding.write(checkpoint, to: run.checkpoint)
        removeLeftovers(keeping: checkpoint.folder, in: run)
        if complete {
            try AtomicFile.write(Data("\(samplesDone)\n".utf8), to: run.collectionComplete)
        }
        return checkpoint
    }

    /// Removes checkpoint folders other than `current` and the temporary files of writes a kill
    /// interrupted. Only names corrsteer itself creates are touched, and only inside `stats/`.
    private static func removeLeftovers(keeping current: String, in run: RunDirectory) {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: run.statsDirectory.path) else { return }
        for name in names where name != current && (isFolderName(name) || (name.hasPrefix(".") && name.contains(".partial-"))) {
            let url = run.statsDirectory.appendingPathComponent(name)
            var status = stat()
            // Never delete through a link (the stages refuse runs holding links; this is a second guard).
            guard lstat(url.path, &status) == 0, status.st_mode & S_IFMT != S_IFLNK else { continue }
            try? manager.removeItem(at: url)
        }
    }
}
