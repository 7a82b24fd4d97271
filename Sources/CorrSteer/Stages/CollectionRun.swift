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
    /// Progress and notices (the library is silent unless given somewhere to write).
    public var output = StageOutput.silent
    /// Debug: also write every sample's pooled activations (grows with N; for checks on tiny models).
    public var dumpPooled: URL?
    /// How to hold the SAE encoders (`--memory-plan`); the choice does not change the statistics.
    public var memoryPlan: CollectionMemoryPlan.Request = .auto
    /// Called with the chosen memory plan before the first batch (the CLI prints it).
    public var onMemoryPlan: (CollectionMemoryPlan) -> Void = { _ in }

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
        guard configuration.batchSize >= 1 else { throw RunError.invalidSetting("\(RunSetting.batchSize) must be at least 1") }
        guard configuration.samples >= 1 else { throw RunError.noSamples("\(RunSetting.samples) must be at least 1") }
        guard configuration.checkpointEvery >= 1 else { throw RunError.invalidSetting("\(RunSetting.checkpointEvery) must be at least 1") }
        var checkpoint: StatisticsCheckpoint?
        var storedManifest: RunManifest?
        if run.exists {
            guard resume else {
                throw RunError.invalidRun(path: run.url.path, reason: "already holds a run; pass \(RunSetting.resume) to continue it, or choose another \(RunSetting.output)")
            }
        } else {
            try run.requireWritable()
        }
        let lock = try RunLock.acquire(run, creating: true)
        defer { withExtendedLifetime(lock) {} }
        if run.exists {
            try run.refuseLinks()
            let manifest = try RunManifest.load(from: run)
            guard manifest.configuration == configuration else {
                var message: RunMessage = "\(run.manifest.path): \(RunSetting.resume) with different options than the run was started with"
                for (index, difference) in configuration.differences(from: manifest.configuration).enumerated() {
                    message = "\(message)\(index == 0 ? ": " : ", ")\(difference.message)"
                }
                throw RunError.mismatch(message)
            }
            checkpoint = try StatisticsCheckpoint.load(from: run)
            try checkpoint?.verify(against: manifest, in: run)
            storedManifest = manifest
        }

        let context = try context ?? ModelContext.load(configuration.model)
        let task = try TaskSetup.load(configuration)
        // Rows a batch captures per layer: the generation positions, plus (with --positions all) a bound
        // on the prompt's.
        let rowsPerSample = task.descriptor.maxNewTokens + 1 + (configuration.positions == .all ? 512 : 0)
        let resolved = try FeatureSources.resolve(configuration: configuration, model: context.model, memory: memoryPlan,
                                                  capturedRowsPerBatch: configuration.batchSize * rowsPerSample,
                                                  maxNewTokens: task.descriptor.maxNewTokens)
        if let plan = resolved.memoryPlan { onMemoryPlan(plan) }
        var train = task.splits.train
        if let shard = configuration.shard { train = Array(train[shard.range(of: train.count)]) }
        guard !train.isEmpty else {
            throw RunError.noSamples("task '\(configuration.task)' has no training samples to collect\(configuration.shard.map { " in shard \($0)" } ?? "")")
        }

        let stopTokenIDs = context.stopTokenIDs(configuration.reference)
        var manifest = RunManifest(
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
        manifest.memoryPlan = resolved.memoryPlan
        if let storedManifest {
            // The checkpoint was checked against the stored manifest; the sources resolved now must be the same.
            guard storedManifest.layers.map(\.layer) == manifest.layers.map(\.layer),
                  storedManifest.samples == manifest.samples else {
                throw RunError.mismatch("\(run.manifest.path): the run collects layers \(storedManifest.layers.map(\.layer)) over \(storedManifest.samples) samples, but the model, SAEs and task now resolve to layers \(manifest.layers.map(\.layer)) over \(manifest.samples) samples")
            }
        }
        if checkpoint == nil {
            try run.create()
            try manifest.save(to: run)
        }

        let log = CollectionLog(url: run.collectionLog)
        let statisticsOptions = FeatureStatisticsOptions(
            mutualInformationBinning: configuration.mutualInformation ? configuration.reference.mutualInformationBinning : nil)
        var statistics: [Int: FeatureStatistics]
        var controls: ControlStatistics?
        var done = 0
        var successes = 0.0
        var previousSeconds = 0.0
        if let checkpoint {
            if checkpoint.complete {
                return Summary(samples: checkpoint.samplesDone, successes: checkpoint.successes,
                               seconds: checkpoint.collectionSeconds, warnings: [])
            }
            statistics = try checkpoint.loadStatistics(in: run)
            // A run started before control statistics existed continues without them.
            controls = try checkpoint.loadControls(in: run)
            done = checkpoint.samplesDone
            successes = checkpoint.successes
            previousSeconds = checkpoint.collectionSeconds
            let kept = try log.truncate(to: done)
            try checkpoint.verifyCollectionLog(in: run)
            guard kept.enumerated().allSatisfy({ $0.offset == $0.element.index }) else {
                throw RunError.invalidRun(path: run.collectionLog.path, reason: "sample indices are not 0..<\(done) in order")
            }
        } else {
            statistics = Dictionary(uniqueKeysWithValues: resolved.sources.map {
                ($0.layer, FeatureStatistics(featureCount: $0.width, options: statisticsOptions))
            })
            controls = ControlStatistics(sources: resolved.sources, hiddenSize: context.model.config.hiddenSize,
                                         options: statisticsOptions)
            _ = try log.truncate(to: 0)
        }

        let step = CollectionStep(
            sources: resolved.sources, positions: configuration.positions,
            singlePosition: task.descriptor.poolsSinglePosition,
            correlationPool: configuration.pool, coefficientPool: configuration.steerPool,
            hiddenSize: context.model.config.hiddenSize, defersEncoding: resolved.memoryPlan?.residency == .streamed)
        // Checkpoints fall on batch boundaries so a resumed run forms exactly the same batches.
        let batch = configuration.batchSize
        let checkpointEvery = (configuration.checkpointEvery + batch - 1) / batch * batch
        let progress = ProgressReporter(label: "collect \(configuration.task)", total: train.count, alreadyDone: done, output: output)
        let started = Date()
        var dump = PooledDump(enabled: dumpPooled != nil)
        var sinceCheckpoint = 0

        while done < train.count {
            let examples = Array(train[done..<min(done + batch, train.count)])
            let ids = context.tokenizer.encodeBatch(examples.map(\.zeroShotPrompt), addSpecialTokens: true)
            // Collection is always zero-shot, unconstrained and greedy, as in the reference (§3.3).
            let (completions, rewards) = try step.run(
                promptLengths: ids.map(\.count),
                generate: {
                    try context.complete(tokenIDs: ids, maxNewTokens: task.descriptor.maxNewTokens, hooks: $0,
                                         stopTokenIDs: stopTokenIDs)
                },
                stoppedOnEOS: \.stoppedOnEOS,
                score: { completions in
                    let rewards = try task.score(examples, outputs: completions.map(\.text))
                    return configuration.reverseRewards ? rewards.map { 1 - $0 } : rewards
                },
                into: &statistics, controls: &controls, batchStart: done, seed: configuration.seed,
                pooled: { dump.append(layer: $0, rows: $1) })
            dump.append(rewards: rewards)
            try log.append(zip(examples, zip(completions, rewards)).enumerated().map { offset, item in
                CollectedSample(index: done + offset, id: item.0.id, output: item.1.0.text, reward: item.1.1)
            })
            done += examples.count
            successes += rewards.reduce(0, +)
            sinceCheckpoint += examples.count
            let seconds = previousSeconds + Date().timeIntervalSince(started)
            if sinceCheckpoint >= checkpointEvery && done < train.count {
                _ = try StatisticsCheckpoint.write(statistics, controls: controls, samplesDone: done, successes: successes, seconds: seconds, complete: false, configuration: configuration, to: run)
                sinceCheckpoint = 0
            }
            progress.update(done: done, correct: successes)
        }
        progress.finish()
        let seconds = previousSeconds + Date().timeIntervalSince(started)
        if let dumpPooled {
            try dump.write(to: dumpPooled, sources: resolved.sources)
        }
        _ = try StatisticsCheckpoint.write(statistics, controls: controls, samplesDone: done, successes: successes, seconds: seconds, complete: true, configuration: configuration, to: run)
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
