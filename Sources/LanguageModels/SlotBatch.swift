import Tensors

/// A fixed number of sequence slots sharing one KV cache, for continuous batching: a sequence is
/// prefilled into a free slot whenever it arrives, then advances one token per `decode` call together
/// with whichever other slots are live. Each slot holds up to `contextLength` positions.
///
/// The kernels are row-independent and attention visits cached positions in position order whatever the
/// slot's layout, so a sequence's logits here equal `Generator.generate` for it alone, bit for bit.
///
/// Hooks see slot indices as sequence indices. Two runs share the cache so that each prefill can choose
/// where steering applies: `generationHooks` act on the last prompt row only, `allPositionHooks` on every
/// prompt row. `decode` runs `allPositionHooks` for every slot: with one row per sequence the two modes
/// coincide, so a steering hook should appear in both sets (with its positions set accordingly).
public final class SlotBatch {
    public let model: LanguageModel
    public let slotCount: Int
    public let contextLength: Int
    /// Most rows one prefill pass packs; longer prompts continue from the cache.
    public let maxRowsPerPass: Int
    private let generationRun: DecoderRun
    private let allPositionRun: DecoderRun

    public init(model: LanguageModel, slots: Int, contextLength: Int, maxRowsPerPass: Int = 1024,
                generationHooks: [ResidualHook] = [], allPositionHooks: [ResidualHook] = []) throws {
        guard slots >= 1 else { throw LanguageModelError.invalidRequest("a slot batch needs at least 1 slot, got \(slots)") }
        guard contextLength >= 1 else { throw LanguageModelError.invalidRequest("context length must be ≥ 1, got \(contextLength)") }
        self.model = model
        slotCount = slots
        self.contextLength = contextLength
        self.maxRowsPerPass = max(1, maxRowsPerPass)
        let cache = KVCache(config: model.config, lengths: Array(repeating: contextLength, count: slots))
        generationRun = try DecoderRun(model: model, cache: cache, hooks: generationHooks)
        allPositionRun = try DecoderRun(model: model, cache: cache, hooks: allPositionHooks)
    }

    /// Runs `prompt` into `slot` from position 0 (replacing what the slot held) and returns the logits of
    /// its last position (vocabulary-size floats). `steerAllPositions` picks the hook set.
    public func prefill(slot: Int, prompt: [Int], steerAllPositions: Bool) throws -> [Float] {
        try check(slot: slot)
        guard !prompt.isEmpty else { throw LanguageModelError.invalidRequest("the prompt is empty") }
        guard prompt.count <= contextLength else {
            throw LanguageModelError.invalidRequest("the prompt has \(prompt.count) tokens; a slot holds \(contextLength)")
        }
        try checkVocabulary(prompt)
        let run = steerAllPositions ? allPositionRun : generationRun
        var start = 0
        var logits: [Float] = []
        while start < prompt.count {
            let n = min(maxRowsPerPass, prompt.count - start)
            let ends = start + n == prompt.count
            let segment = PassSegment(sequence: slot, position: start, rowStart: 0, rowCount: n, endsInput: ends)
            logits = try run.pass(tokens: prompt[start..<(start + n)].map { Int32($0) }, segments: [segment], step: 0,
                                  logitRows: ends ? .inputEnds : .none, head: model.weights.head)
            start += n
        }
        return logits
    }

    /// One decode step: feeds `token` at `position` of each listed slot (distinct slots) and returns the
    /// logits, one vocabulary-size row per entry, in order. `step` is what hooks see as the step (≥ 1).
    public func decode(_ entries: [(slot: Int, token: Int, position: Int)], step: Int = 1) throws -> [Float] {
        guard !entries.isEmpty else { return [] }
        var segments: [PassSegment] = []
        segments.reserveCapacity(entries.count)
        var seen = Set<Int>()
        for (i, entry) in entries.enumerated() {
            try check(slot: entry.slot)
            guard seen.insert(entry.slot).inserted else { throw LanguageModelError.invalidRequest("slot \(entry.slot) appears twice in one step") }
            guard entry.position >= 1, entry.position < contextLength else {
                throw LanguageModelError.invalidRequest("slot \(entry.slot): position \(entry.position) is outside 1…\(contextLength - 1)")
            }
            segments.append(PassSegment(sequence: entry.slot, position: entry.position, rowStart: i, rowCount: 1, endsInput: true))
        }
        try checkVocabulary(entries.map(\.token))
        return try allPositionRun.pass(tokens: entries.map { Int32($0.token) }, segments: segments, step: max(1, step),
                                       logitRows: .inputEnds, head: model.weights.head)
    }

    private func check(slot: Int) throws {
        guard slot >= 0, slot < slotCount else { throw LanguageModelError.invalidRequest("slot \(slot) is outside 0…\(slotCount - 1)") }
    }

    private func checkVocabulary(_ tokens: [Int]) throws {
        let vocabulary = model.config.vocabularySize
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw LanguageModelError.invalidRequest("token id \(bad) is outside the vocabulary (0…\(vocabulary - 1))")
        }
    }
}

/// Picks the next token of one sequence, as `Generator.generate` does for a single prompt (sequence 0's
/// random stream for the seed).
public struct SequenceSampler: Sendable {
    private var sampler: TokenSampler

    public init(sampling: Sampling) throws {
        try sampling.validate()
        sampler = TokenSampler(sampling: sampling, sequences: 1)
    }

    public mutating func pick(_ logits: UnsafeBufferPointer<Float>) -> Int {
        sampler.pick(logits, sequence: 0)
    }
}
