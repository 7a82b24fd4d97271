import Foundation

/// `corrsteer merge`: sums the statistics of shard runs into one run. The statistics are exact sums,
/// so the result equals a single run over all samples up to float64 addition order.
public enum MergeRun {
    /// Merges and returns warnings for the caller to show (a merge of only some of the shards).
    @discardableResult
    public static func execute(shards: [RunDirectory], into output: RunDirectory) throws -> [String] {
        var warnings: [String] = []
        guard !shards.isEmpty else { throw RunError.invalidSetting("merge needs at least one run") }
        try output.requireWritable()
        var seen: [String: String] = [:]
        for shard in shards {
            let key = shard.url.resolvingSymlinksInPath().standardizedFileURL.path
            if let first = seen[key] {
                throw RunError.invalidSetting("\(shard.url.path) is the same run as \(first); each shard can be merged once")
            }
            seen[key] = shard.url.path
        }
        var manifests: [RunManifest] = []
        var checkpoints: [StatisticsCheckpoint] = []
        for shard in shards {
            try shard.refuseLinks()
            let manifest = try RunManifest.load(from: shard)
            guard let checkpoint = try StatisticsCheckpoint.load(from: shard), checkpoint.complete else {
                throw RunError.invalidRun(path: shard.url.path, reason: "its collection is not complete; finish it with \(RunSetting.resume) before merging")
            }
            try checkpoint.verify(against: manifest, in: shard)
            try checkpoint.verifyCollectionLog(in: shard)
            manifests.append(manifest)
            checkpoints.append(checkpoint)
        }
        var reference = manifests[0].configuration
        reference.shard = nil
        for (shard, manifest) in zip(shards, manifests) {
            var configuration = manifest.configuration
            configuration.shard = nil
            guard configuration == reference else {
                throw RunError.mismatch("\(shard.manifest.path): collected with different options than \(shards[0].manifest.path); only shards of one collection can be merged")
            }
        }
        // Two runs over the same samples would count them twice: only distinct shards of one split merge.
        if shards.count > 1 {
            var indices: [Int: String] = [:]
            for (shard, manifest) in zip(shards, manifests) {
                guard let spec = manifest.configuration.shard else {
                    throw RunError.mismatch("\(shard.url.path) is not a shard (collected without \(RunSetting.shard)): it covers the whole train split, so merging it with other runs would count samples twice")
                }
                guard spec.count == manifests[0].configuration.shard?.count else {
                    throw RunError.mismatch("\(shard.url.path) is shard \(spec) but \(shards[0].url.path) is shard \(manifests[0].configuration.shard.map { "\($0)" } ?? "-"): shards of one collection share the shard count")
                }
                if let other = indices[spec.index] {
                    throw RunError.mismatch("\(shard.url.path) and \(other) are both shard \(spec): merging them would count its samples twice")
                }
                indices[spec.index] = shard.url.path
            }
            let count = manifests[0].configuration.shard?.count ?? 0
            if indices.count != count {
                warnings.append("merging shards \(indices.keys.sorted().map(String.init).joined(separator: ",")) of \(count): the merged statistics cover only those shards")
            }
        }

        var merged = try checkpoints[0].loadStatistics(in: shards[0])
        // Controls merge only when every shard has them; otherwise the merged run has none.
        var controls = try checkpoints[0].loadControls(in: shards[0])
        for (shard, checkpoint) in zip(shards, checkpoints).dropFirst() {
            let statistics = try checkpoint.loadStatistics(in: shard)
            guard Set(statistics.keys) == Set(merged.keys) else {
                throw RunError.mismatch("\(shard.url.path): holds layers \(statistics.keys.sorted()) but \(shards[0].url.path) holds \(merged.keys.sorted())")
            }
            for (layer, stats) in statistics { try merged[layer]!.merge(stats) }
            if let shardControls = try checkpoint.loadControls(in: shard) {
                try controls?.merge(shardControls)
            } else {
                controls = nil
            }
        }
        // Samples keep their shard order; indices are renumbered to the merged sequence.
        var log: [CollectedSample] = []
        for (shard, checkpoint) in zip(shards, checkpoints) {
            let samples = try CollectionLog(url: shard.collectionLog).read()
            // The reader stops at a torn line; a complete shard's log must hold every sample it counts.
            guard samples.count == checkpoint.samplesDone,
                  samples.enumerated().allSatisfy({ $0.offset == $0.element.index }) else {
                throw RunError.invalidRun(path: shard.collectionLog.path, reason: "holds \(samples.count) readable samples in order, but the checkpoint counts \(checkpoint.samplesDone)")
            }
            log += samples
        }
        let lock = try RunLock.acquire(output, creating: true)
        defer { withExtendedLifetime(lock) {} }
        try output.create()
        for i in log.indices { log[i].index = i }
        try CollectionLog(url: output.collectionLog).append(log)
        let samples = checkpoints.map(\.samplesDone).reduce(0, +)
        let seconds = checkpoints.map(\.collectionSeconds).reduce(0, +)
        _ = try StatisticsCheckpoint.write(
            merged, controls: controls, samplesDone: samples, successes: checkpoints.map(\.successes).reduce(0, +), seconds: seconds,
            complete: true, configuration: reference, to: output)
        var manifest = manifests[0]
        manifest.configuration = reference
        manifest.samples = samples
        manifest.created = RunManifest.timestamp()
        manifest.collectionSeconds = seconds
        manifest.samplesPerSecond = seconds > 0 ? Double(samples) / seconds : nil
        manifest.task.train = manifests.map(\.task.train).reduce(0, +)
        manifest.mergedFrom = shards.map(\.url.path)
        try manifest.save(to: output)
        return warnings
    }
}
