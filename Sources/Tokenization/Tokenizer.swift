import Foundation

/// A Hugging Face `tokenizer.json` tokenizer (BPE), giving the same ids as the `tokenizers`
/// library, plus the files transformers reads beside it (`tokenizer_config.json`,
/// `special_tokens_map.json`, `chat_template.jinja`).
///
/// Immutable after loading and safe to use from any number of threads.
///
/// Known difference: the NFC/NFD/NFKC/NFKD and StripAccents normalizers use the platform's
/// Unicode tables, which are newer than those of the reference's normalization crate, so text
/// with characters assigned since Unicode 12 or so can normalize differently. Llama-3 and Gemma
/// use none of these normalizers.
public final class Tokenizer: @unchecked Sendable {
    /// The tokenizer.json this was loaded from.
    public let url: URL
    /// One more than the largest token id (model vocabulary and added tokens).
    public let vocabularySize: Int
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let padTokenID: Int?
    public let unknownTokenID: Int?
    /// The chat format named by the chat template, nil when there is none or it is not known.
    public let chatFormat: ChatFormat?
    /// transformers' `clean_up_tokenization_spaces` from tokenizer_config.json (false if absent).
    public let cleansUpTokenizationSpaces: Bool

    private let model: BPEModel
    private let normalizer: Normalizer?
    private let preTokenizer: PreTokenizer?
    private let postProcessor: PostProcessor?
    private let decoder: TokenDecoder?
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let tokenTable: ByteStringTable
    private let tokenStrings: [String?]
    /// The string each id decodes from (normalized added tokens decode from their normalized form).
    private let decodeStrings: [String?]
    /// Ids left out by `skipSpecialTokens` (their decode string is a special token's).
    private let skippable: [Bool]
    private let specialIDs: [Int]
    /// Bytes of every id, when the decoder is plain ByteLevel (decoding is then concatenation).
    private let byteLevelDecoding: (bytes: [UInt8], starts: [Int32])?
    private let configuration: TokenizerConfiguration
    private let pool = WorkspacePool()

    /// Loads a tokenizer.json, and the tokenizer_config.json, special_tokens_map.json and
    /// chat_template.jinja next to it when present.
    public init(contentsOf tokenizerJSON: URL) throws {
        url = tokenizerJSON
        let file = try TokenizerFile.load(tokenizerJSON)
        let configuration = try TokenizerConfiguration.load(besides: tokenizerJSON)
        self.configuration = configuration
        model = file.model
        normalizer = file.normalizer
        preTokenizer = file.preTokenizer
        decoder = file.decoder
        tokenTable = file.tokenTable
        tokenStrings = file.tokenStrings
        vocabularySize = file.tokenStrings.count

        func id(of token: String?) -> Int? {
            guard let token else { return nil }
            let id = file.tokenTable.value(Array(token.utf8))
            return id >= 0 ? Int(id) : nil
        }
        let configPath = tokenizerJSON.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json").path
        // transformers rebuilds the template from add_bos_token / add_eos_token when either is given.
        if configuration.addBOSToken != nil || configuration.addEOSToken != nil {
            var pieces: [PostProcessor.TemplatePiece] = []
            if configuration.addBOSToken == true {
                guard let id = id(of: configuration.bosToken) else {
                    throw TokenizerError.invalidField(path: configPath, field: "bos_token", reason: "is not set or not in the vocabulary, but add_bos_token is true")
                }
                pieces.append(.special([Int32(id)]))
            }
            pieces.append(.sequence)
            if configuration.addEOSToken == true {
                guard let id = id(of: configuration.eosToken) else {
                    throw TokenizerError.invalidField(path: configPath, field: "eos_token", reason: "is not set or not in the vocabulary, but add_eos_token is true")
                }
                pieces.append(.special([Int32(id)]))
            }
            postProcessor = .template(pieces)
        } else {
            postProcessor = file.postProcessor
        }

        let leading = postProcessor?.leadingSpecialIDs ?? []
        bosTokenID = id(of: configuration.bosToken) ?? (leading.count == 1 ? Int(leading[0]) : nil)
        eosTokenID = id(of: configuration.eosToken)
        padTokenID = id(of: configuration.padToken) ?? file.paddingID
        unknownTokenID = id(of: configuration.unknownToken) ?? (file.model.unknownID >= 0 ? Int(file.model.unknownID) : nil)
        chatFormat = configuration.chatTemplate.flatMap(ChatFormat.init(template:))
        cleansUpTokenizationSpaces = configuration.cleanUpTokenizationSpaces

        let normalizer = file.normalizer
        var rawTokens: [AddedToken] = []
        var normalizedTokens: [AddedToken] = []
        var normalizedPatterns: [[UInt8]] = []
        var decodeStrings = file.tokenStrings
        for token in file.addedTokens {
            if token.normalized {
                let pattern = normalizer?.apply(Array(token.content.utf8)) ?? Array(token.content.utf8)
                normalizedTokens.append(token)
                normalizedPatterns.append(pattern)
                decodeStrings[Int(token.id)] = String(decoding: pattern, as: UTF8.self)
            } else {
                rawTokens.append(token)
            }
        }
        rawMatcher = AddedTokenMatcher(tokens: rawTokens, patterns: rawTokens.map { Array($0.content.utf8) })
        normalizedMatcher = AddedTokenMatcher(tokens: normalizedTokens, patterns: normalizedPatterns)
        self.decodeStrings = decodeStrings
        // Compared as bytes: String equality would also match canonically equivalent text.
        let specialContents = Set(file.addedTokens.filter(\.special).map { Array($0.content.utf8) })
        skippable = decodeStrings.map { $0.map { specialContents.contains(Array($0.utf8)) } ?? false }
        specialIDs = file.addedTokens.filter(\.special).map { Int($0.id) }.sorted()

        if let decoder = file.decoder, decoder.isByteLevel {
            var bytes: [UInt8] = []
            var starts: [Int32] = [0]
            for string in decodeStrings {
                if let string { TokenDecoder.appendByteLevelBytes(of: string, to: &bytes) }
                starts.append(Int32(bytes.count))
            }
            byteLevelDecoding = (bytes, starts)
        } else {
            byteLevelDecoding = nil
        }
    }

    /// Loads `tokenizer.json` (and its companions) from a model folder.
    public convenience init(directory: URL) throws {
        let file = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw TokenizerError.missingTokenizerFile(directory: directory.path)
        }
        try self.init(contentsOf: file)
    }

    // MARK: Vocabulary

    /// The id of a token string (model vocabulary or added token).
    public func tokenID(for token: String) -> Int? {
        let id = tokenTable.value(Array(token.utf8))
        return id >= 0 ? Int(id) : nil
    }

    /// The token string of an id, nil if no token has it.
    public func token(for id: Int) -> String? {
        guard id >= 0 && id < tokenStrings.count else { return nil }
        return tokenStrings[id]
    }

    /// The id of the token that ends a turn in the chat format (`<end_of_turn>`, `<|eot_id|>`).
    public var endOfTurnTokenID: Int? {
        chatFormat.flatMap { tokenID(for: $0.endOfTurnToken) }
    }

    /// Ids of the added tokens marked special, ascending.
    public var specialTokenIDs: [Int] { specialIDs }

    /// Whether decoding with `skipSpecialTokens` leaves this id out.
    public func isSpecialToken(_ id: Int) -> Bool {
        id >= 0 && id < skippable.count && skippable[id]
    }

    // MARK: Encoding

    /// The ids of `text`; with `addSpecialTokens`, wrapped by the post-processor (BOS and the like).
    /// Special-token text inside `text` is always recognised, as in the reference.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        pool.withWorkspace { encode(text, addSpecialTokens: addSpecialTokens, workspace: $0) }
    }

    /// `encode` for many texts, spread over up to `maxConcurrency` threads (default: all cores).
    public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = true, maxConcurrency: Int? = nil) -> [[Int]] {
        let workers = min(max(1, maxConcurrency ?? ProcessInfo.processInfo.activeProcessorCount), texts.count)
        if workers <= 1 { return texts.map { encode($0, addSpecialTokens: addSpecialTokens) } }
        let results = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer {
            results.deinitialize()
            results.deallocate()
        }
        let next = WorkCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            pool.withWorkspace { workspace in
                while let range = next.claim(chunk: 16, limit: texts.count) {
                    for index in range {
                        results[index] = encode(texts[index], addSpecialTokens: addSpecialTokens, workspace: workspace)
                    }
                }
            }
        }
        return Array(results)
    }

    private func encode(_ text: String, addSpecialTokens: Bool, workspace: EncodingWorkspace) -> [Int] {
        var text = text
        var ids = workspace.ids
        ids.removeAll(keepingCapacity: true)
        text.withUTF8 { encodeBytes($0, into: &ids, workspace) }
        if addSpecialTokens, let postProcessor { ids = postProcessor.process(ids) }
        let result = ids.map { Int($0) }
        workspace.ids = ids
        return result
    }

    private func encodeBytes(_ bytes: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], _ workspace: EncodingWorkspace) {
        let base = bytes.baseAddress ?? emptyBytePointer
        rawMatcher.split(base, count: bytes.count) { segment in
            switch segment {
            case let .token(id):
                ids.append(id)
            case let .text(start, end):
                if let normalizer {
                    let normalized = normalizer.apply(Array(bytes[start..<end]))
                    normalized.withUnsafeBufferPointer { text in
                        splitNormalized(text.baseAddress ?? emptyBytePointer, count: text.count,
                                        startsText: start == 0, into: &ids, workspace)
                    }
                } else {
                    splitNormalized(base + start, count: end - start, startsText: start == 0, into: &ids, workspace)
                }
            }
        }
    }

    private func splitNormalized(_ text: UnsafePointer<UInt8>, count: Int, startsText: Bool,
                                 into ids: inout [Int32], _ workspace: EncodingWorkspace) {
        normalizedMatcher.split(text, count: count) { segment in
            switch segment {
            case let .token(id):
                ids.append(id)
            case let .text(start, end):
                encodeWords(text + start, count: end - start, startsText: startsText && start == 0, into: &ids, workspace)
            }
        }
    }

    private func encodeWords(_ text: UnsafePointer<UInt8>, count: Int, startsText: Bool,
                             into ids: inout [Int32], _ workspace: EncodingWorkspace) {
        guard let preTokenizer else {
            model.encodeWord(text, count: count, into: &ids, workspace: workspace)
            return
        }
        var pieces = workspace.takeSparePieces()
        pieces.reset(firstStartsText: startsText)
        pieces.bytes.append(contentsOf: UnsafeBufferPointer(start: text, count: count))
        pieces.appendRange(0, count)
        preTokenizer.apply(&pieces, workspace)
        pieces.bytes.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress ?? emptyBytePointer
            for k in 0..<pieces.count {
                model.encodeWord(base + pieces.starts[k], count: pieces.ends[k] - pieces.starts[k], into: &ids,
                                 workspace: workspace)
            }
        }
        workspace.returnSparePieces(pieces)
    }

    // MARK: Decoding

    /// The text of `ids`, as the reference's `decode` gives it. Unknown ids are ignored.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        if let table = byteLevelDecoding {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(ids.count * 4)
            table.bytes.withUnsafeBufferPointer { arena in
                for id in ids where id >= 0 && id < decodeStrings.count && decodeStrings[id] != nil {
                    if skipSpecialTokens && skippable[id] { continue }
                    let start = Int(table.starts[id])
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: arena[start..<Int(table.starts[id + 1])]))
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids where id >= 0 && id < decodeStrings.count {
            guard let token = decodeStrings[id] else { continue }
            if skipSpecialTokens && skippable[id] { continue }
            tokens.append(token)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// `decode`, then transformers' `clean_up_tokenization` when asked (it removes the space
    /// before `.`, `?`, `!`, `,` and some English contractions).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool, cleanUpTokenizationSpaces: Bool) -> String {
        let text = decode(ids, skipSpecialTokens: skipSpecialTokens)
        return cleanUpTokenizationSpaces ? Self.cleanUpTokenization(text) : text
    }

    static func cleanUpTokenization(_ text: String) -> String {
        let rules = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]
        return rules.reduce(text) { $0.replacingAll($1.0, with: $1.1) }
    }

    // MARK: Chat

    /// The conversation rendered exactly as the tokenizer's chat template does. Encode the
    /// result with `addSpecialTokens: false` (it already starts with the BOS text).
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        guard let template = configuration.chatTemplate else {
            throw TokenizerError.noChatTemplate(path: url.path)
        }
        guard let format = ChatFormat(template: template) else {
            throw TokenizerError.unknownChatTemplate(path: configuration.chatTemplateSource)
        }
        return try format.render(messages, addGenerationPrompt: addGenerationPrompt, bosToken: configuration.bosToken ?? "")
    }
}

/// Hands out consecutive index ranges to worker threads.
private final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func claim(chunk: Int, limit: Int) -> Range<Int>? {
        lock.lock()
        defer { lock.unlock() }
        guard next < limit else { return nil }
        let start = next
        next = min(limit, next + chunk)
        return start..<next
    }
}
