import Tensors

/// Which positions `forward` returns logits for.
public enum LogitPositions: Sendable {
    case lastPosition
    case allPositions
}

/// A batch of prompts to continue.
public struct GenerationRequest: Sendable {
    public var prompts: [[Int]]
    public var maxNewTokens: Int
    /// Generation stops for a sequence when it produces one of these; nil = the model's EOS ids.
    public var stopTokenIDs: Set<Int>?
    public var sampling: Sampling
    /// Constrained decoding: when set, logits are computed only for these ids and the next token is
    /// always one of them.
    public var allowedTokenIDs: [Int]?

    public init(prompts: [[Int]], maxNewTokens: Int, stopTokenIDs: Set<Int>? = nil, sampling: Sampling = .greedy,
                allowedTokenIDs: [Int]? = nil) {
        self.prompts = prompts
        self.maxNewTokens = maxNewTokens
        self.stopTokenIDs = stopTokenIDs
        self.sampling = sampling
        self.allowedTokenIDs = allowedTokenIDs
    }
}

/// What one prompt produced.
public struct GeneratedSequence: Sendable, Equatable {
    /// The generated ids, including the stop token if one was produced.
    public var tokens: [Int]
    /// Whether generation ended on a stop token (rather than the max-new-tokens limit).
    public var stoppedOnEOS: Bool

    public init(tokens: [Int], stoppedOnEOS: Bool) {
        self.tokens = tokens
        self.stoppedOnEOS = stoppedOnEOS
    }
}

/// Runs a model over batches of prompts: ragged prefill (prompts packed into one matrix, no padding),
/// then decode steps that advance all live sequences together, with residual-stream hooks.
public struct Generator: Sendable {
    public let model: LanguageModel
    /// Most rows one prefill pass packs; longer inputs are split into chunks that continue from the cache.
    public var maxRowsPerPass: Int

    public init(model: LanguageModel, maxRowsPerPass: Int = 1024) {
        self.model = model
        self.maxRowsPerPass = max(1, maxRowsPerPass)
    }

    /// Continues each prompt until it produces a stop token or `maxNewTokens` tokens.
    public func generate(_ request: GenerationRequest, hooks: [ResidualHook] = []) throws -> [GeneratedSequence] {
        try validate(request.prompts)
        guard request.maxNewTokens >= 0 else {
            throw LanguageModelError.invalidRequest("max new tokens must be ≥ 0, got \(request.maxNewTokens)")
        }
        try request.sampling.validate()
        let head = try headWeights(allowed: request.allowedTokenIDs)
        let stops = request.stopTokenIDs ?? Set(model.config.eosTokenIDs)
        let count = request.prompts.count
        guard count > 0 else { return [] }
        let run = try DecoderRun(model: model, lengths: request.prompts.map { $0.count + request.maxNewTokens }, hooks: hooks)
        var sampler = TokenSampler(sampling: request.sampling, sequences: count)
        var results = Array(repeating: GeneratedSequence(tokens: [], stoppedOnEOS: false), count: count)
        let headSize = head.shape[0]
        var live: [Int] = []

        // Greedy requests over the whole vocabulary only need each row's argmax (`DecoderRun.greedyPass`).
        let greedy = request.allowedTokenIDs == nil && request.sampling.isGreedy
        func accept(_ index: Int, sequence s: Int) {
            let token = request.allowedTokenIDs?[index] ?? index
            results[s].tokens.append(token)
            if stops.contains(token) {
                results[s].stoppedOnEOS = true
            } else if results[s].tokens.count < request.maxNewTokens {
                live.append(s)
            }
        }
        func next(tokens: [Int32], segments: [PassSegment], step: Int) throws {
            let sequences = segments.filter(\.endsInput).map(\.sequence)
            if greedy {
                let picks = try run.greedyPass(tokens: tokens, segments: segments, step: step,
                                               buildScreen: GreedyScreen.isWorthBuilding(forNewTokens: request.maxNewTokens))
                for (s, index) in zip(sequences, picks) { accept(index, sequence: s) }
                return
            }
            let logits = try run.pass(tokens: tokens, segments: segments, step: step, logitRows: .inputEnds, head: head)
            logits.withUnsafeBufferPointer { all in
                for (i, s) in sequences.enumerated() {
                    accept(sampler.pick(UnsafeBufferPointer(rebasing: all[(i * headSize)..<((i + 1) * headSize)]), sequence: s),
                           sequence: s)
                }
            }
        }

        try prefill(request.prompts, continues: request.maxNewTokens > 1) { tokens, segments in
            if request.maxNewTokens > 0 {
                try next(tokens: tokens, segments: segments, step: 0)
            } else {
                _ = try run.pass(tokens: tokens, segments: segments, step: 0, logitRows: .none, head: head)
            }
        }
        var step = 1
        while !live.isEmpty {
            let current = live
            live = []
            var segments: [PassSegment] = []
            segments.reserveCapacity(current.count)
            for (i, s) in current.enumerated() {
                let position = request.prompts[s].count + results[s].tokens.count - 1
                segments.append(PassSegment(sequence: s, position: position, rowStart: i, rowCount: 1, endsInput: true,
                                            keepsKeys: results[s].tokens.count + 1 < request.maxNewTokens))
            }
            try next(tokens: current.map { Int32(results[$0].tokens.last!) }, segments: segments, step: step)
            step += 1
        }
        return results
    }

    /// Runs each token sequence once (no generation) and returns its logits: [1, V] (last position) or
    /// [T, V] (all positions) per sequence. Hooks see every pass as step 0.
    public func forward(tokens: [[Int]], hooks: [ResidualHook] = [], logits positions: LogitPositions = .lastPosition) throws -> [Tensor] {
        try validate(tokens)
        guard !tokens.isEmpty else { return [] }
        let run = try DecoderRun(model: model, lengths: tokens.map(\.count), hooks: hooks)
        let vocabulary = model.config.vocabularySize
        let outputs = tokens.map { Tensor(zeros: [positions == .allPositions ? $0.count : 1, vocabulary]) }
        var filled = Array(repeating: 0, count: tokens.count)
        let rows: DecoderRun.LogitRows = positions == .allPositions ? .all : .inputEnds
        try prefill(tokens, continues: false) { tokens, segments in
            let logits = try run.pass(tokens: tokens, segments: segments, step: 0, logitRows: rows, head: model.weights.head)
            // The sequence of each logit row.
            let sequences = rows == .all ? segments.flatMap { Array(repeating: $0.sequence, count: $0.rowCount) }
                                         : segments.filter(\.endsInput).map(\.sequence)
            logits.withUnsafeBufferPointer { values in
                for (i, s) in sequences.enumerated() {
                    let target = outputs[s].floatPointer + filled[s] * vocabulary
                    target.update(from: values.baseAddress! + i * vocabulary, count: vocabulary)
                    filled[s] += 1
                }
            }
        }
        return outputs
    }

    /// Packs the prompts into passes of at most `maxRowsPerPass` rows (splitting long prompts into chunks
    /// that continue from the cache) and hands each to `pass`. Keys and values are cached where a later
    /// chunk, or a token when `continues`, will attend to them.
    private func prefill(_ prompts: [[Int]], continues: Bool,
                         pass: (_ tokens: [Int32], _ segments: [PassSegment]) throws -> Void) throws {
        var tokens: [Int32] = []
        var segments: [PassSegment] = []
        func flush() throws {
            guard !segments.isEmpty else { return }
            try pass(tokens, segments)
            tokens.removeAll(keepingCapacity: true)
            segments.removeAll(keepingCapacity: true)
        }
        for (s, prompt) in prompts.enumerated() {
            var start = 0
            while start < prompt.count {
                let room = maxRowsPerPass - tokens.count
                let n = min(room, prompt.count - start)
                segments.append(PassSegment(sequence: s, position: start, rowStart: tokens.count, rowCount: n,
                                            endsInput: start + n == prompt.count,
                                            keepsKeys: start + n < prompt.count || continues))
                tokens += prompt[start..<(start + n)].map { Int32($0) }
                start += n
                if tokens.count == maxRowsPerPass { try flush() }
            }
        }
        try flush()
    }

    private func validate(_ sequences: [[Int]]) throws {
        let vocabulary = model.config.vocabularySize
        for (b, sequence) in sequences.enumerated() {
            guard !sequence.isEmpty else { throw LanguageModelError.invalidRequest("sequence \(b) is empty") }
            if let (i, id) = sequence.enumerated().first(where: { $0.element < 0 || $0.element >= vocabulary }) {
                throw LanguageModelError.invalidRequest("sequence \(b), position \(i): token id \(id) is outside the vocabulary (0…\(vocabulary - 1))")
            }
        }
    }

    /// The LM head, or only its rows for `allowed` ids (gathered once per request).
    private func headWeights(allowed: [Int]?) throws -> Tensor {
        let head = model.weights.head
        guard let allowed else { return head }
        let vocabulary = model.config.vocabularySize
        guard !allowed.isEmpty else { throw LanguageModelError.invalidRequest("the allowed token list is empty") }
        if let bad = allowed.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw LanguageModelError.invalidRequest("allowed token id \(bad) is outside the vocabulary (0…\(vocabulary - 1))")
        }
        let rowBytes = head.shape[1] * head.dtype.byteSize
        let subset = Tensor(zeros: [allowed.count, head.shape[1]], dtype: head.dtype)
        for (i, id) in allowed.enumerated() {
            (subset.rawPointer + i * rowBytes).copyMemory(from: head.rawPointer + id * rowBytes, byteCount: rowBytes)
        }
        return subset
    }
}
