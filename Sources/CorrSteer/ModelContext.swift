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
            throw RunError.invalidOption("model '\(reference)' has no folder to read its tokenizer from")
        }
        let tokenizer = try Tokenizer(directory: directory)
        return ModelContext(model: model, tokenizer: tokenizer, directory: directory)
    }

    /// Token ids that end a generation, as the reference passes them (method §3.2): EOS and pad.
    /// Chat-turn ends such as Gemma's `<end_of_turn>` are not among them.
    public var stopTokenIDs: Set<Int> {
        var ids = Set(model.config.eosTokenIDs)
        if let pad = model.config.padTokenID { ids.insert(pad) }
        return ids
    }

    /// First token id of each option string (method §6: `encode(option, add_special_tokens=False)[0]`).
    public func optionTokenIDs(_ options: [String]) throws -> [Int] {
        try options.map { option in
            guard let first = tokenizer.encode(option, addSpecialTokens: false).first else {
                throw RunError.invalidOption("option '\(option)' encodes to no token")
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

    /// Greedy completions of `prompts` (a ragged batch), with `hooks` installed.
    public func complete(
        _ prompts: [String], maxNewTokens: Int, allowedTokenIDs: [Int]? = nil, hooks: [ResidualHook] = []
    ) throws -> [Completion] {
        try complete(tokenIDs: tokenizer.encodeBatch(prompts, addSpecialTokens: true), maxNewTokens: maxNewTokens,
                     allowedTokenIDs: allowedTokenIDs, hooks: hooks)
    }

    /// Greedy completions of already tokenized prompts.
    public func complete(
        tokenIDs: [[Int]], maxNewTokens: Int, allowedTokenIDs: [Int]? = nil, hooks: [ResidualHook] = []
    ) throws -> [Completion] {
        let request = GenerationRequest(
            prompts: tokenIDs, maxNewTokens: maxNewTokens, stopTokenIDs: stopTokenIDs, sampling: .greedy,
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
