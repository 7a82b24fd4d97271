import Foundation
import LanguageModels
import Tokenization

/// One request as the scheduler runs it.
public struct GenerationJob: Sendable {
    public var prompt: [Int]
    public var maxTokens: Int
    public var sampling: Sampling
    public var stopTokenIDs: Set<Int>
    public var stopStrings: [String]
    /// Top-N alternatives per token (completions' `logprobs`); nil = no logprobs.
    public var logprobs: Int?
    public var steering: SteeringVectors?

    public init(prompt: [Int], maxTokens: Int, sampling: Sampling = .greedy, stopTokenIDs: Set<Int> = [],
                stopStrings: [String] = [], logprobs: Int? = nil, steering: SteeringVectors? = nil) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopTokenIDs = stopTokenIDs
        self.stopStrings = stopStrings
        self.logprobs = logprobs
        self.steering = steering
    }
}

public struct TokenLogprob: Sendable {
    public var token: String
    public var logprob: Double
    public var top: [(token: String, logprob: Double)]
}

/// A queued job: its events, and its id for `cancel`.
public struct SubmittedJob: Sendable {
    public let id: Int
    public let events: AsyncStream<JobEvent>
}

public enum JobEvent: Sendable {
    /// New text (possibly empty) and the logprobs of the tokens generated since the last event.
    case text(String, logprobs: [TokenLogprob])
    /// `reason`: "stop" (EOS or a stop string) or "length".
    case finished(reason: String, promptTokens: Int, completionTokens: Int)
    case failed(ServingError)
}

/// Continuous batching: one thread runs steps over up to `maxBatch` sequences. Between steps it drops
/// cancelled requests (their slots are free for the next admission at once) and admits every queued
/// request that fits into a free slot. Each step is one pass: a row for every generating sequence plus
/// the prompts being prefilled (whole, up to `prefillRowsPerStep` rows), so requests arriving together
/// share their prefill, and the others keep generating meanwhile. Each slot carries its own steering.
public final class Scheduler: @unchecked Sendable {
    public struct Options: Sendable {
        public var maxBatch = 8
        public var maxQueue = 64
        /// Positions a slot holds (prompt + generated tokens).
        public var contextLength = 1024
        public var requestTimeout: Double = 600
        /// Prompt rows one step takes beyond its decode rows: bounds how long a step of arrivals stalls
        /// the generating sequences (256 rows ≈ 4.5 s for Gemma-2-2B on 2 cores); prefill runs at the
        /// same rows/s in 32-row or 512-row passes. Prompts are not split below the slot batch's pass
        /// size (to equal `generate` bit for bit), so a step takes at least one whole prompt.
        public var prefillRowsPerStep = 256

        public init() {}
    }

    private struct Pending {
        let id: Int
        let job: GenerationJob
        let continuation: AsyncStream<JobEvent>.Continuation
        let accepted: ContinuousClock.Instant
    }

    private struct Running {
        let id: Int
        let job: GenerationJob
        let continuation: AsyncStream<JobEvent>.Continuation
        let accepted: ContinuousClock.Instant
        var sampler: SequenceSampler
        /// Prompt tokens in the cache; generation starts once the whole prompt is.
        var prefilled = 0
        var tokens: [Int] = []
        /// Text already sent.
        var sent = ""
        var logprobs: [TokenLogprob] = []
    }

    public let options: Options
    /// Turns generated ids into text; nil (benchmarks on random weights) sends no text.
    let tokenizer: Tokenizer?
    private let metrics: ServingMetrics
    private let batch: SlotBatch
    private let steering: SlotSteering

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var cancelled: Set<Int> = []
    private var nextID = 0
    private var stopping = false
    private var started = false
    private var finished = false
    /// Slots in use, as of the last admission or step.
    private var runningCount = 0

    // Owned by the decode thread.
    private var running: [Int: Running] = [:]
    private var step = 1

    public init(model: LanguageModel, tokenizer: Tokenizer?, options: Options, metrics: ServingMetrics) throws {
        guard options.maxBatch >= 1, options.maxBatch <= 256 else { throw ServingError.invalidSetup("\(ServingSetting.maxBatch) must be in 1…256, got \(options.maxBatch)") }
        guard options.maxQueue >= 0, options.maxQueue <= 100_000 else { throw ServingError.invalidSetup("\(ServingSetting.maxQueue) must be in 0…100000, got \(options.maxQueue)") }
        guard options.contextLength >= 2 else { throw ServingError.invalidSetup("\(ServingSetting.contextLength) must be at least 2, got \(options.contextLength)") }
        guard options.requestTimeout > 0 else { throw ServingError.invalidSetup("\(ServingSetting.requestTimeout) must be positive") }
        guard options.prefillRowsPerStep >= 1 else { throw ServingError.invalidSetup("prefill rows per step must be at least 1, got \(options.prefillRowsPerStep)") }
        self.options = options
        self.tokenizer = tokenizer
        self.metrics = metrics
        let steering = SlotSteering(slots: options.maxBatch)
        let layers = model.config.layerCount
        batch = try SlotBatch(
            model: model, slots: options.maxBatch, contextLength: options.contextLength,
            hooks: [SlotSteeringHook(layers: layers, positions: .generation, steering: steering),
                    SlotSteeringHook(layers: layers, positions: .all, steering: steering)])
        self.steering = steering
    }

    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [self] in loop() }
        thread.name = "corrsteer-decode"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues `job`; its events arrive on the stream, which ends after `.finished` or `.failed`. Ending
    /// the consumer early (a client that disconnects) cancels the job.
    public func submit(_ job: GenerationJob) throws -> SubmittedJob {
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream()
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw ServingError.unavailable("the server is shutting down") }
        // Up to maxBatch requests run and maxQueue wait.
        guard runningCount + queue.count < options.maxBatch + options.maxQueue else {
            metrics.rejected.increment()
            throw ServingError.queueFull(capacity: options.maxQueue)
        }
        let id = nextID
        nextID += 1
        continuation.onTermination = { [weak self] reason in
            if case .cancelled = reason { self?.cancel(id) }
        }
        queue.append(Pending(id: id, job: job, continuation: continuation, accepted: .now))
        metrics.requests.increment()
        metrics.queued.set(to: Double(queue.count))
        condition.signal()
        return SubmittedJob(id: id, events: stream)
    }

    /// Frees the job's slot (or queue place) before the next step.
    public func cancel(_ id: Int) {
        condition.lock()
        cancelled.insert(id)
        condition.signal()
        condition.unlock()
    }

    /// Stops admitting requests, lets the queued and running ones finish, and returns when the decode
    /// thread has ended.
    public func shutdown() {
        condition.lock()
        if !started { finished = true }
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    /// Waiting and running requests (for tests and /health).
    public var load: (queued: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (queue.count, runningCount)
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && running.isEmpty && cancelled.isEmpty && !stopping { condition.wait() }
            if stopping && queue.isEmpty && running.isEmpty {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let cancelledNow = cancelled
            cancelled.removeAll()
            queue.removeAll { pending in
                guard cancelledNow.contains(pending.id) else { return false }
                pending.continuation.finish()
                return true
            }
            let freeSlots = (0..<options.maxBatch).filter { slot in
                running[slot].map { cancelledNow.contains($0.id) } ?? true
            }
            let admitted = Array(queue.prefix(freeSlots.count))
            queue.removeFirst(admitted.count)
            runningCount = options.maxBatch - freeSlots.count + admitted.count
            metrics.queued.set(to: Double(queue.count))
            condition.unlock()

            for (slot, entry) in running where cancelledNow.contains(entry.id) {
                entry.continuation.finish()
                release(slot)
            }
            for (pending, slot) in zip(admitted, freeSlots) { admit(pending, slot: slot) }
            expireTimedOut()
            runStep()
            condition.lock()
            runningCount = running.count
            condition.unlock()
            metrics.running.set(to: Double(running.count))
        }
    }

    /// Gives `pending` its slot; its prompt goes through in the next steps.
    private func admit(_ pending: Pending, slot: Int) {
        do {
            // Checked here so that a bad job fails alone rather than the pass it would join.
            try batch.check(prompt: pending.job.prompt)
            guard pending.job.maxTokens >= 1, pending.job.prompt.count + pending.job.maxTokens <= options.contextLength else {
                throw ServingError.invalid("the prompt (\(pending.job.prompt.count) tokens) plus max_tokens (\(pending.job.maxTokens)) exceeds the context of \(options.contextLength) tokens", field: "max_tokens")
            }
            let sampler = try SequenceSampler(sampling: pending.job.sampling)
            steering.slots[slot] = pending.job.steering
            running[slot] = Running(id: pending.id, job: pending.job, continuation: pending.continuation,
                                    accepted: pending.accepted, sampler: sampler)
        } catch {
            pending.continuation.yield(.failed(error as? ServingError ?? .failed("generation failed: \(error)")))
            pending.continuation.finish()
        }
    }

    /// One pass: the next token of every generating slot, and the next prompt chunks of the slots still
    /// prefilling (oldest request first) within the step's prompt-row budget.
    private func runStep() {
        var inputs: [SlotBatch.Input] = []
        var prefilling: [(slot: Int, end: Int)] = []
        for (slot, entry) in running.sorted(by: { $0.key < $1.key }) where entry.prefilled == entry.job.prompt.count {
            inputs.append(.init(slot: slot, tokens: [entry.tokens.last!], position: entry.job.prompt.count + entry.tokens.count - 1, endsInput: true))
        }
        var promptRows = 0
        for (slot, entry) in running.sorted(by: { $0.value.id < $1.value.id }) where entry.prefilled < entry.job.prompt.count {
            let chunk = batch.prefillChunk(length: entry.job.prompt.count, done: entry.prefilled)
            guard promptRows == 0 || promptRows + chunk.count <= options.prefillRowsPerStep else { break }
            inputs.append(.init(slot: slot, tokens: Array(entry.job.prompt[chunk]), position: chunk.lowerBound,
                                endsInput: chunk.upperBound == entry.job.prompt.count))
            prefilling.append((slot, chunk.upperBound))
            promptRows += chunk.count
        }
        guard !inputs.isEmpty else { return }
        let logits: [Float]
        do {
            logits = try batch.run(inputs, step: step)
            step += 1
        } catch {
            for input in inputs { fail(input.slot, .failed("generation step failed: \(error)")) }
            return
        }
        for (slot, end) in prefilling {
            running[slot]?.prefilled = end
            if end == running[slot]?.job.prompt.count { metrics.promptTokens.increment(by: Int64(end)) }
        }
        let ending = inputs.filter(\.endsInput).map(\.slot)
        let width = logits.count / max(ending.count, 1)
        logits.withUnsafeBufferPointer { all in
            for (i, slot) in ending.enumerated() {
                accept(UnsafeBufferPointer(rebasing: all[(i * width)..<((i + 1) * width)]), slot: slot)
            }
        }
    }

    /// Samples the next token of `slot` from its logits row and sends what became final.
    private func accept(_ row: UnsafeBufferPointer<Float>, slot: Int) {
        guard var entry = running[slot] else { return }
        let token = entry.sampler.pick(row)
        entry.tokens.append(token)
        metrics.generatedTokens.increment()
        if let n = entry.job.logprobs { entry.logprobs.append(logprob(of: token, in: row, top: n)) }
        let stoppedOnToken = entry.job.stopTokenIDs.contains(token)
        let visible = stoppedOnToken ? Array(entry.tokens.dropLast()) : entry.tokens
        var text = tokenizer?.decode(visible, skipSpecialTokens: true) ?? ""
        var reason: String?
        if let cut = Self.firstStop(entry.job.stopStrings, in: text) {
            text = String(text[..<cut])
            reason = "stop"
        } else if stoppedOnToken {
            reason = "stop"
        } else if entry.tokens.count >= entry.job.maxTokens {
            reason = "length"
        }
        // While running, hold back what could still become a stop string or an incomplete character.
        let ready = reason != nil ? text : Self.settled(text, stops: entry.job.stopStrings)
        if ready.hasPrefix(entry.sent), ready.count > entry.sent.count || !entry.logprobs.isEmpty || reason != nil {
            let delta = String(ready.dropFirst(entry.sent.count))
            if case .terminated = entry.continuation.yield(.text(delta, logprobs: entry.logprobs)) {
                // Nobody listens any more: free the slot now.
                release(slot)
                return
            }
            entry.sent = ready
            entry.logprobs = []
        }
        if let reason {
            entry.continuation.yield(.finished(reason: reason, promptTokens: entry.job.prompt.count, completionTokens: entry.tokens.count))
            entry.continuation.finish()
            metrics.requestSeconds.record(ContinuousClock.now - entry.accepted)
            release(slot)
        } else {
            running[slot] = entry
        }
    }

    private func expireTimedOut() {
        let limit = Duration.milliseconds(Int64(options.requestTimeout * 1000))
        let now = ContinuousClock.now
        for (slot, entry) in running where now - entry.accepted > limit {
            fail(slot, .timeout(seconds: options.requestTimeout))
        }
    }

    private func fail(_ slot: Int, _ error: ServingError) {
        guard let entry = running[slot] else { return }
        entry.continuation.yield(.failed(error))
        entry.continuation.finish()
        release(slot)
    }

    private func release(_ slot: Int) {
        running[slot] = nil
        steering.slots[slot] = nil
    }

    /// Where the first stop string starts in `text`, if any does.
    static func firstStop(_ stops: [String], in text: String) -> String.Index? {
        stops.compactMap { text.range(of: $0)?.lowerBound }.min()
    }

    /// `text` without a trailing replacement character (a UTF-8 sequence cut between tokens) and without
    /// the longest suffix that starts a stop string.
    static func settled(_ text: String, stops: [String]) -> String {
        var end = text.endIndex
        while end > text.startIndex, text[text.index(before: end)] == "\u{FFFD}" { end = text.index(before: end) }
        let kept = text[..<end]
        var holdBack = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, kept.count), through: 1, by: -1)
            where kept.hasSuffix(stop.prefix(length)) {
                holdBack = max(holdBack, length)
                break
            }
        }
        return String(kept.dropLast(holdBack))
    }

    private func logprob(of token: Int, in row: UnsafeBufferPointer<Float>, top n: Int) -> TokenLogprob {
        var maximum = -Float.infinity
        for v in row where v > maximum { maximum = v }
        var total = 0.0
        for v in row { total += Foundation.exp(Double(v - maximum)) }
        let logTotal = Double(maximum) + Foundation.log(total)
        func value(_ id: Int) -> Double { max(Double(row[id]) - logTotal, -9999) }  // JSON has no -inf
        var best: [Int] = []
        if n > 0 {
            best = Array(row.indices).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(n).map { $0 }
        }
        let name = { (id: Int) in self.tokenizer?.decode([id], skipSpecialTokens: false) ?? String(id) }
        return TokenLogprob(token: name(token), logprob: value(token), top: best.map { (name($0), value($0)) })
    }
}
