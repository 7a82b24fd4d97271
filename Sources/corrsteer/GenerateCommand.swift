import ArgumentParser
import Foundation
import LanguageModels
import Tokenization

/// `corrsteer generate`: continue prompts with a model (greedy or sampled) and print what it produced.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue one or more prompts and print the generated token ids (and text when the model has a tokenizer).",
        discussion: """
            Several prompts run as one ragged batch. Generation stops at the model's EOS ids \
            (generation_config.json) or after --max-new-tokens. Example:
              corrsteer generate --model Tests/Fixtures/models/gemma2-tiny-bf16 --prompt-tokens 2,651 --max-new-tokens 8
            """)

    @Option(help: "Model folder, or a Hugging Face id found in the local HF cache.")
    var model: String

    @Option(name: .customLong("prompt-tokens"), parsing: .singleValue, help: "Comma-separated token ids of one prompt (repeatable).")
    var promptTokens: [String] = []

    @Option(name: .long, parsing: .singleValue, help: "Prompt text, tokenized with the model's tokenizer.json (repeatable).")
    var prompt: [String] = []

    @Option(help: "tokenizer.json file or folder (default: the model folder).")
    var tokenizer: String?

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens to generate per prompt.")
    var maxNewTokens = 20

    @Option(help: "Sampling temperature; 0 (default) is greedy.")
    var temperature: Float = 0

    @Option(name: .customLong("top-k"), help: "Sample only among the k most likely tokens.")
    var topK: Int?

    @Option(name: .customLong("top-p"), help: "Sample only within the smallest set of tokens whose probability reaches p.")
    var topP: Float?

    @Option(help: "Seed of the sampler.")
    var seed: UInt64 = 0

    @Flag(name: .customLong("ignore-eos"), help: "Do not stop at EOS; always generate --max-new-tokens.")
    var ignoreEOS = false

    @Flag(help: "Print one JSON object per prompt.")
    var json = false

    func run() throws {
        let languageModel = try LanguageModel.load(model)
        var prompts = try promptTokens.map(TokenList.parse)
        let textTokenizer = try TokenizerLocation.optional(tokenizer, model: languageModel)
        if !prompt.isEmpty {
            let tokenizer = try textTokenizer ?? TokenizerLocation.load(tokenizer, model: languageModel)
            prompts += prompt.map { tokenizer.encode($0) }
        }
        guard !prompts.isEmpty else { throw ValidationError("give at least one --prompt-tokens or --prompt") }
        let sampling: Sampling = temperature > 0 ? .random(temperature: temperature, topK: topK, topP: topP, seed: seed) : .greedy
        let request = GenerationRequest(prompts: prompts, maxNewTokens: maxNewTokens,
                                        stopTokenIDs: ignoreEOS ? [] : nil, sampling: sampling)
        let results = try Generator(model: languageModel).generate(request)
        for result in results {
            let text = textTokenizer?.decode(result.tokens, skipSpecialTokens: false)
            if json {
                var object: [String: Any] = ["tokens": result.tokens, "stopped_on_eos": result.stoppedOnEOS]
                if let text { object["text"] = text }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(result.tokens.map(String.init).joined(separator: ","))
                if let text { print(text) }
            }
        }
    }
}
