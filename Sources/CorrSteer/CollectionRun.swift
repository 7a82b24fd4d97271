import Foundation
import LanguageModels
import Tasks
import WeightFiles

/// Stage 1 of CorrSteer (method §3–4): generate with the unsteered model over the train split, read
/// SAE features at the generation positions, pool them per sample, score the output, and add
/// everything to per-layer streaming statistics. Resumable at any kill; shardable.
public struct CollectionRun {
    public var configuration: CollectionConfiguration
    public var run: RunDirectory
    public var resume = false
    public var quiet = false
    /// Debug: also write every sample's pooled activations (grows with N; for checks on tiny models).
    public var dumpPooled: URL?

    public init(configuration: CollectionConfiguration, run: RunDirectory) {
        self.configuration = configuration
        self.run = run
    }

    public struct Summary: Sendable {
        public let samples: Int
        public let successes: Double
        public let seconds: Double
        public let warnings: [String]
    }

    @discardableResult
    public func execute(context: ModelContext? = nil) throws -> Summary {
        guard configuration.batchSize >= 1 else { throw RunError.invalidOption("--batch-size must be at least 1") }
        guard configuration.samples >= 1 else { throw RunError.noSamples("--samples must be at least 1") }
        guard configuration.checkpointEvery >= 1 else { throw RunError.invalidOption("--checkpoint-every must be at least 1") }
        var checkpoint: StatisticsCheckpoint?
        if run.exists {
            guard resume else {
                throw RunError.invalidRun(path: run.url.path, reason: "already holds a run; pass --resume to continue it, or choose another --out")
            }
            let manifest = try RunManifest.load(from: run)
            guard manifest.configuration == configuration else {
                throw RunError.mismatch("\(run.manifest.path): --resume with different options than the run was started with")
            }
            checkpoint = try StatisticsCheckpoint.load(from: run)
        }

        let context = try context ?? ModelContext.load(configuration.model)
        let task = try TaskSetup.load(configuration)
        let resolved = try FeatureSources.resolve(configuration: configuration, model: context.model)
        var train = task.splits.train
        if let shard = configuration.shard { train = Array(train[shard.range(of: train.count)]) }
        guard !train.isEmpty else {
            throw RunError.noSamples("task '\(configuration.task)' has no training samples to collect\(configuration.shard.map { " in shard \($0)" } ?? "")")
        }

        let stopTokenIDs = context.stopTokenIDs(paperCompat: configuration.paperCompat)
        let manifest = RunManifest(
            created: RunManifest.timestamp(), configuration: configuration,
            model: .init(path: context.directory.path, modelType: context.model.config.architecture.rawValue,
                         layers: context.model.config.layerCount, hiddenSize: context.model.config.hiddenSize,
                         dtype: context.model.weightDType.rawValue, stopTokenIDs: stopTokenIDs.sorted()),
            task: .init(name: task.descriptor.name, kind: task.descriptor.kind.rawValue,
                        maxNewTokens: task.descriptor.maxNewTokens, optionStrings: task.descriptor.optionStrings,
                        train: train.count, validation: task.splits.validation.count, test: task.splits.test.count,
                        scorer: task.scorerDescription),
            layers: resolved.sources.map {
                .init(layer: $0.layer, site: $0.site.name, width: $0.width, sae: resolved.saePaths[$0.layer],
                      neuronpedia: resolved.neuronpediaIDs[$0.layer])
            },
            samples: train.count)
        if checkpoint == nil {
            try run.create()
            try manifest.save(to: run)
        }

        let log = CollectionLog(url: run.collectionLog)
        let statisticsOptions = FeatureStatisticsOptions(
            mutualInformationBinning: configuration.mutualInformation ? (configuration.paperCompat ? .paperUnsorted : .sorted) : nil)
        var statistics: [Int: FeatureStatistics]
        var done = 0
        var successes = 0.0
        var previousSeconds = 0.0
        if let checkpoint {
            if checkpoint.complete {
                return Summary(samples: checkpoint.samplesDone, successes: checkpoint.successes,
                               seconds: checkpoint.collectionSeconds, warnings: [])
            }
            statistics = try checkpoint.loadStatistics(in: run)
            done = checkpoint.samplesDone
            successes = checkpoint.successes
            previousSeconds = checkpoint.collectionSeconds
            _ = try log.truncate(to: done)
        } else {
            statistics = Dictionary(uniqueKeysWithValues: resolved.sources.map {
                ($0.layer, FeatureStatistics(featureCount: $0.width, options: statisticsOptions))
            })
            _ = try log.truncate(to: 0)
        }

        let pools: Set<Pooling> = [configuration.pool, configuration.steerPool]
        // Checkpoints fall on batch boundaries so a resumed run forms exactly the same batches.
        let batch = configuration.batchSize
        let checkpointEvery = (configuration.checkpointEvery + batch - 1) / batch * batch
        let progress = ProgressReporter(label: "collect \(configuration.task)", total: train.count, alreadyDone: done, quiet: quiet)
        let started = Date()
        var dump = PooledDump(enabled: dumpPooled != nil)
        var sinceCheckpoint = 0

        while done < train.count {
            let examples = Array(train[done..<min(done + batch, train.count)])
            let prompts = examples.map(\.zeroShotPrompt)
            let ids = context.tokenizer.encodeBatch(prompts, addSpecialTokens: true)
            let collector = FeatureCollector(
                sources: resolved.sources, promptLengths: ids.map(\.count), positions: configuration.positions,
                singlePosition: task.descriptor.poolsSinglePosition, pooling: pools)
            // Collection is always zero-shot, unconstrained and greedy, as in the reference (§3.3).
            let completions = try context.complete(
                tokenIDs: ids, maxNewTokens: task.descriptor.maxNewTokens, hooks: [collector], stopTokenIDs: stopTokenIDs)
            var rewards = try task.score(examples, outputs: completions.map(\.text))
            if configuration.reverseRewards { rewards = rewards.map { 1 - $0 } }
            let pooled = collector.finish(
                stoppedOnEOS: completions.map(\.stoppedOnEOS),
                correlationPool: configuration.pool, coefficientPool: configuration.steerPool)
            for (source, rows) in zip(resolved.sources, pooled) {
                try rows.correlation.withUnsafeBufferPointer { correlation in
                    try rows.coefficient.withUnsafeBufferPointer { coefficient in
                        try statistics[source.layer]!.add(
                            correlationRows: correlation.baseAddress!, coefficientRows: coefficient.baseAddress!,
                            rewards: rewards)
                    }
                }
                dump.append(layer: source.layer, rows: rows.correlation)
            }
            dump.append(rewards: rewards)
            try log.append(zip(examples, zip(completions, rewards)).enumerated().map { offset, item in
                CollectedSample(index: done + offset, id: item.0.id, output: item.1.0.text, reward: item.1.1)
            })
            done += examples.count
            successes += rewards.reduce(0, +)
            sinceCheckpoint += examples.count
            let seconds = previousSeconds + Date().timeIntervalSince(started)
            if sinceCheckpoint >= checkpointEvery && done < train.count {
                _ = try StatisticsCheckpoint.write(statistics, samplesDone: done, successes: successes, seconds: seconds, complete: false, to: run)
                sinceCheckpoint = 0
            }
            progress.update(done: done, correct: successes)
        }
        progress.finish()
        let seconds = previousSeconds + Date().timeIntervalSince(started)
        if let dumpPooled {
            try dump.write(to: dumpPooled, sources: resolved.sources)
        }
        _ = try StatisticsCheckpoint.write(statistics, samplesDone: done, successes: successes, seconds: seconds, complete: true, to: run)
        var finished = manifest
        finished.collectionSeconds = seconds
        finished.samplesPerSecond = seconds > 0 ? Double(done) / seconds : nil
        try finished.save(to: run)
        let warnings = statistics.keys.sorted().compactMap { layer in
            statistics[layer]!.warnings.first.map { "layer \(layer): \($0)" }
        }
        return Summary(samples: done, successes: successes, seconds: seconds, warnings: warnings)
    }
}

/// The `--dump-pooled` debug output: every sample's pooled correlation activations per layer and
/// the rewards, for checking the statistics against numpy.
struct PooledDump {
    let enabled: Bool
    private var rows: [Int: [Float]] = [:]
    private var rewards: [Double] = []

    init(enabled: Bool) { self.enabled = enabled }

    mutating func append(layer: Int, rows batch: [Float]) {
        guard enabled else { return }
        rows[layer, default: []].append(contentsOf: batch)
    }

    mutating func append(rewards batch: [Double]) {
        guard enabled else { return }
        rewards.append(contentsOf: batch)
    }

    func write(to url: URL, sources: [FeatureSource]) throws {
        var entries = [SafeTensorsWriter.Entry(name: "rewards", shape: [rewards.count], doubles: rewards)]
        for source in sources {
            entries.append(.init(name: "pooled.\(source.layer)", shape: [rewards.count, source.width], floats: rows[source.layer] ?? []))
        }
        try SafeTensorsWriter.write(entries, to: url)
    }
}
