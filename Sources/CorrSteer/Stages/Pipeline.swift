import Foundation

/// The whole method on one run directory: collect → select → evaluate → report (method §1). The CLI's
/// `run` and `demo`, the server and the tests all go through this one type.
public struct Pipeline {
    public var run: RunDirectory
    public var collection: CollectionConfiguration
    public var selection: SelectionOptions
    /// Add the SAE decoder bias to the plans (`--decode`).
    public var decoderBias: Bool
    public var evaluation: EvaluationOptions
    /// Continue an interrupted run instead of refusing an existing one.
    public var resume = false
    /// Progress and notices of every stage (silent unless given somewhere to write).
    public var output = StageOutput.silent
    /// Called once the features are selected, before evaluation starts (the CLI lists them).
    public var onSelection: (FeatureCandidates) -> Void = { _ in }
    /// How the collection holds its SAE encoders, and who hears the choice.
    public var memoryPlan: CollectionMemoryPlan.Request = .auto
    public var onMemoryPlan: (CollectionMemoryPlan) -> Void = { _ in }

    public init(run: RunDirectory, collection: CollectionConfiguration, selection: SelectionOptions = SelectionOptions(),
                decoderBias: Bool = false, evaluation: EvaluationOptions = EvaluationOptions()) {
        self.run = run
        self.collection = collection
        self.selection = selection
        self.decoderBias = decoderBias
        self.evaluation = evaluation
    }

    public struct Result: Sendable {
        public let candidates: FeatureCandidates
        public let variants: [EvaluationRun.VariantResult]
        public let collection: CollectionRun.Summary
    }

    /// Runs every stage with one model in memory, under the run's lock for the whole time (the stages
    /// take it again; the lock is reentrant within a process). `context` defaults to the configured model.
    public func execute(context: ModelContext? = nil) throws -> Result {
        if !run.exists { try run.requireWritable() }
        let lock = try RunLock.acquire(run, creating: true)
        defer { withExtendedLifetime(lock) {} }
        let context = try context ?? ModelContext.load(collection.model)

        var collect = CollectionRun(configuration: collection, run: run)
        collect.resume = resume
        collect.output = output
        collect.memoryPlan = memoryPlan
        collect.onMemoryPlan = onMemoryPlan
        let summary = try collect.execute(context: context)

        var select = SelectionRun(run: run, options: selection)
        select.decoderBias = decoderBias
        let candidates = try select.execute()
        onSelection(candidates)

        var evaluate = EvaluationRun(run: run, options: evaluation)
        evaluate.output = output
        let variants = try evaluate.execute(context: context)
        try RunReport.write(try RunReport.load(runDirectory: run), to: run)
        return Result(candidates: candidates, variants: variants, collection: summary)
    }
}

extension DemoBundle {
    /// The demo's pipeline into `run`: the bundled model, SAEs and task with the bundle's recommended sizes.
    public func pipeline(into run: RunDirectory) -> Pipeline {
        Pipeline(run: run, collection: configuration, evaluation: evaluationOptions)
    }

    /// Runs the demo into `run`. Only a previous demo run is replaced, and only when the folder holds
    /// nothing but its files: a folder holding anything else, or another kind of run, is the user's and
    /// is never written into.
    public func execute(into run: RunDirectory, output: StageOutput = .silent) throws -> Pipeline.Result {
        try run.requireWritable(replacingRun: true)
        let lock = try RunLock.acquire(run, creating: true)
        defer { withExtendedLifetime(lock) {} }
        if run.exists {
            let previous = try RunManifest.load(from: run)
            func taskFileName(_ c: CollectionConfiguration) -> String? { c.customTaskFile.map { URL(fileURLWithPath: $0).lastPathComponent } }
            guard previous.configuration.task == "custom", taskFileName(previous.configuration) == taskFileName(configuration) else {
                throw RunError.invalidRun(path: run.url.path, reason: "holds a run that is not a demo run; choose another \(RunSetting.output)")
            }
            try run.removeRunEntries()
        }
        var pipeline = pipeline(into: run)
        pipeline.output = output
        return try pipeline.execute()
    }
}
