import Foundation
import LanguageModels
import Tokenization

/// A model with its tokenizer, and how the pipeline talks to it: prompts in, completions out.
public final class ModelContext: @unchecked Sendable {
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    /// The folder the model was read from (resolved from a Hugging Face id when one was given).
    public let directory: URL

    public init(model: LanguageModel, tokenizer: Tokenizer, directory: URL) {
        self.model = model
        self.tokenizer = tokenizer
        self.directory = directory
    }

    /// Loads `reference`: a model folder or a Hugging Face id found in the local cache.
    public static func load(_ reference: String) throws -> ModelContext {
        let model = try LanguageModel.load(reference)
        guard let directory = model.directory else {
            throw RunError.invalidSetting("model '\(reference)' has no folder to read its tokenizer from")
        }
        let tokenizer = try Tokenizer(directory: directory)
        return ModelContext(model: model, tokenizer: tokenizer, directory: directory)
    }

    /// Token ids that end a generation by default: every `eos_token_id` of the model's `config.json` /
    /// `generation_config.json` (generation config first), plus pad. This is where transformers'
    /// `generate()` stops with the model's generation config, so an instruction-tuned Gemma
    /// (gemma-2-2b-it: `eos_token_id: [1, 107]`) stops at `<end_of_turn>` as users expect. Pad is
    /// included because the reference's valid length also ends at the first pad (method §3.2).
    public var stopTokenIDs: Set<Int> {
        var ids = Set(model.config.eosTokenIDs)
        if let pad = model.config.padTokenID { ids.insert(pad) }
        return ids
    }

    /// The stop set of a run. Under the reference's behaviour, only the tokenizer's EOS, as the reference
    /// passes it to `generate()` (method §3.2): an instruction-tuned Gemma then keeps generating after
    /// `<end_of_turn>` until `<eos>` or the token limit.
    public func stopTokenIDs(_ reference: ReferenceBehaviour) -> Set<Int> {
        guard reference.stopsAtTokenizerEOSOnly else { return stopTokenIDs }
        // A tokenizer without an EOS falls back to the model's first EOS id, which is what the
        // reference's `generate()` would then use.
        if let eos = tokenizer.eosTokenID ?? model.config.eosTokenIDs.first { return [eos] }
        return []
    }

    /// First token id of each option string (method §6: `encode(option, add_special_tokens=False)[0]`).
    public func optionTokenIDs(_ options: [String]) throws -> [Int] {
        try options.map { option in
            guard let first = tokenizer.encode(option, addSpecialTokens: false).first else {
                throw RunError.invalidSetting("option '\(option)' encodes to no token")
            }
            return first
        }
    }

    /// One generated completion.
    public struct Completion: Sendable {
        public let tokens: [Int]
        public let text: String
        public let stoppedOnEOS: Bool
    }

    /// Greedy completions of `prompts` (a ragged batch), with `hooks` installed; generation stops at
    /// `stopTokenIDs` (nil = the default set, `stopTokenIDs`).
    public func complete(
        _ prompts: [String], maxNewTokens: Int, allowedTokenIDs: [Int]? = nil, hooks: [ResidualHook] = [],
        stopTokenIDs: Set<Int>? = nil
    ) throws -> [Completion] {
        try complete(tokenIDs: tokenizer.encodeBatch(prompts, addSpecialTokens: true), maxNewTokens: maxNewTokens,
                     allowedTokenIDs: allowedTokenIDs, hooks: hooks, stopTokenIDs: stopTokenIDs)
    }

    /// Greedy completions of already tokenized prompts.
    public func complete(
        tokenIDs: [[Int]], maxNewTokens: Int, allowedTokenIDs: [Int]? = nil, hooks: [ResidualHook] = [],
        stopTokenIDs: Set<Int>? = nil
    ) throws -> [Completion] {
        let request = GenerationRequest(
            prompts: tokenIDs, maxNewTokens: maxNewTokens, stopTokenIDs: stopTokenIDs ?? self.stopTokenIDs, sampling: .greedy,
            allowedTokenIDs: allowedTokenIDs)
        let generated = try Generator(model: model).generate(request, hooks: hooks)
        return generated.map { sequence in
            Completion(tokens: sequence.tokens,
                       // As the reference decodes: special tokens skipped, the config's space clean-up applied.
                       text: tokenizer.decode(sequence.tokens, skipSpecialTokens: true,
                                              cleanUpTokenizationSpaces: tokenizer.cleansUpTokenizationSpaces),
                       stoppedOnEOS: sequence.stoppedOnEOS)
        }
    }
}
