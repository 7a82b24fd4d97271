import Tensors

/// A fixed number of sequence slots sharing one KV cache, for continuous batching: each `run` is one
/// ragged pass in which every listed slot contributes rows — a whole prompt (or a chunk of a long one)
/// being prefilled, or the one token a generating sequence feeds back — so prompts arriving together are
/// prefilled together and alongside the decode step. Each slot holds up to `contextLength` positions.
///
/// The kernels are row-independent and attention visits cached positions in position order whatever the
/// slot's layout, so a sequence's logits here equal `Generator.generate` for it alone, bit for bit, as
/// long as its prompt goes through in the chunks `prefillChunk` gives (those of `Generator`'s prefill).
///
/// Hooks see slot indices as sequence indices and choose per slot: a hook with `generation` positions
/// acts on the last row of each input that ends its slot's input (the last prompt row, then each decode
/// row), one with `all` positions on every row.
public final class SlotBatch {
    public let model: LanguageModel
    public let slotCount: Int
    public let contextLength: Int
    /// Most prompt rows of one slot in one pass; longer prompts continue from the cache in later passes.
    public let maxRowsPerPass: Int
    private let decoder: DecoderRun

    /// The rows one slot contributes to a pass: `tokens` at positions `position`…, after the positions
    /// before `position` that the slot's cache already holds.
    public struct Input: Sendable {
        public var slot: Int
        public var tokens: [Int]
        public var position: Int
        /// Whether `tokens` end what the slot has to read (its logits row is returned).
        public var endsInput: Bool

        public init(slot: Int, tokens: [Int], position: Int, endsInput: Bool) {
            self.slot = slot
            self.tokens = tokens
            self.position = position
            self.endsInput = endsInput
        }
    }

    public init(model: LanguageModel, slots: Int, contextLength: Int, maxRowsPerPass: Int = 1024, hooks: [ResidualHook] = []) throws {
        guard slots >= 1 else { throw LanguageModelError.invalidRequest("a slot batch needs at least 1 slot, got \(slots)") }
        guard contextLength >= 1 else { throw LanguageModelError.invalidRequest("context length must be ≥ 1, got \(contextLength)") }
        self.model = model
        slotCount = slots
        self.contextLength = contextLength
        self.maxRowsPerPass = max(1, maxRowsPerPass)
        decoder = try DecoderRun(model: model, lengths: Array(repeating: contextLength, count: slots), hooks: hooks)
    }

    /// Throws unless `prompt` is non-empty, fits in a slot and holds only vocabulary ids.
    public func check(prompt: [Int]) throws {
        guard !prompt.isEmpty else { throw LanguageModelError.invalidRequest("the prompt is empty") }
        guard prompt.count <= contextLength else {
            throw LanguageModelError.invalidRequest("the prompt has \(prompt.count) tokens; a slot holds \(contextLength)")
        }
        try checkVocabulary(prompt)
    }

    /// The prompt positions the next prefill pass of a prompt of `length` tokens covers when `done` are
    /// in the cache: up to `maxRowsPerPass`, the chunks `Generator` prefills a lone prompt in.
    public func prefillChunk(length: Int, done: Int) -> Range<Int> {
        done..<min(length, done + maxRowsPerPass)
    }

    /// One pass over `inputs` (distinct slots). Returns the logits of the last row of each input that
    /// ends its slot's input, one vocabulary-size row each, in order. `step` is what hooks see as the step.
    public func run(_ inputs: [Input], step: Int) throws -> [Float] {
        guard !inputs.isEmpty else { return [] }
        var segments: [PassSegment] = []
        segments.reserveCapacity(inputs.count)
        var tokens: [Int32] = []
        var seen = Set<Int>()
        for input in inputs {
            guard input.slot >= 0, input.slot < slotCount else {
                throw LanguageModelError.invalidRequest("slot \(input.slot) is outside 0…\(slotCount - 1)")
            }
            guard seen.insert(input.slot).inserted else { throw LanguageModelError.invalidRequest("slot \(input.slot) appears twice in one pass") }
            guard !input.tokens.isEmpty, input.position >= 0, input.position + input.tokens.count <= contextLength else {
                throw LanguageModelError.invalidRequest(
                    "slot \(input.slot): \(input.tokens.count) tokens at position \(input.position) do not fit in \(contextLength) positions")
            }
            try checkVocabulary(input.tokens)
            segments.append(PassSegment(sequence: input.slot, position: input.position, rowStart: tokens.count,
                                        rowCount: input.tokens.count, endsInput: input.endsInput))
            tokens += input.tokens.map { Int32($0) }
        }
        return try decoder.pass(tokens: tokens, segments: segments, step: step, logitRows: .inputEnds, head: model.weights.head)
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
