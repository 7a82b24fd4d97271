import ArgumentParser
import CorrSteer
import Foundation
import LanguageModels
import Tokenization

/// `corrsteer generate`: continue prompts with a model (greedy or sampled) and print what it produced.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue one or more prompts and print the generated token ids (and text when the model has a tokenizer).",
        discussion: HelpText.discussion(
            "Several prompts run as one ragged batch. Generation stops at the model's EOS ids "
                + "(generation_config.json) or after --max-new-tokens. With --plan, every prompt is generated "
                + "twice, without and with the plan's steering vectors, and the two completions are printed side by side. "
                + "Give at least one --prompt or --prompt-tokens.",
            examples: [
                "corrsteer generate -m MODEL --prompt 'Request: Hi there.' --max-new-tokens 8",
                "corrsteer generate -m MODEL --prompt-tokens 2,51,35 --temperature 0.7",
                "corrsteer generate -m MODEL --plan RUN/plans/A.json --prompt 'Request: Hi'",
            ],
            extra: [HelpText.environment]))

    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(name: [.customShort("m"), .long], help: "Model folder, or a Hugging Face id found in the local HF cache.")
    var model: String

    @OptionGroup var precision: PrecisionOption
    @OptionGroup var output: QuietOption

    @Option(name: .customLong("prompt-tokens"), parsing: .singleValue, help: "Comma-separated token ids of one prompt (repeatable).")
    var promptTokens: [String] = []

    @Option(name: .long, parsing: .singleValue, help: "Prompt text, tokenized with the model's tokenizer.json (repeatable).")
    var prompt: [String] = []

    @Option(help: "tokenizer.json file or folder (default: the model folder).")
    var tokenizer: String?

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens to generate per prompt.")
    var maxNewTokens = 20

    @Option(help: "Sampling temperature; 0 is greedy.")
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

    @Option(help: "Steering plan (plans/NAME.json of a run): print unsteered and steered completions side by side.")
    var plan: String?

    @Option(name: .customLong("steer-positions"), help: "Where the plan adds its vectors: generation or all.")
    var steerPositions: PositionMode = .generation

    func validate() throws {
        guard !promptTokens.isEmpty || !prompt.isEmpty else { throw ValidationError("give at least one --prompt-tokens or --prompt") }
        for list in promptTokens { _ = try TokenList.parse(list) }
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or more, got \(temperature)") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
    }

    func run() throws {
        precision.apply(output)
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
        if let plan {
            let steering = try SteeringHook(plan: try SteeringPlan.load(from: URL(fileURLWithPath: plan)), positions: steerPositions)
            try steering.validate(for: languageModel)
            let steered = try Generator(model: languageModel).generate(request, hooks: [steering])
            try printSideBySide(results, steered, tokenizer: textTokenizer)
            return
        }
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

    private func printSideBySide(_ plain: [GeneratedSequence], _ steered: [GeneratedSequence], tokenizer: Tokenizer?) throws {
        for (index, (a, b)) in zip(plain, steered).enumerated() {
            let textA = tokenizer?.decode(a.tokens, skipSpecialTokens: true)
            let textB = tokenizer?.decode(b.tokens, skipSpecialTokens: true)
            if json {
                var object: [String: Any] = ["unsteered_tokens": a.tokens, "steered_tokens": b.tokens]
                if let textA, let textB { object["unsteered"] = textA; object["steered"] = textB }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                continue
            }
            let left = (textA ?? a.tokens.map(String.init).joined(separator: ",")).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let right = (textB ?? b.tokens.map(String.init).joined(separator: ",")).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let width = max(9, left.map(\.count).max() ?? 0)
            if index > 0 { print("") }
            print("unsteered".padding(toLength: width, withPad: " ", startingAt: 0) + " │ steered")
            print(String(repeating: "─", count: width) + "─┼─" + String(repeating: "─", count: max(7, right.map(\.count).max() ?? 0)))
            for row in 0..<max(left.count, right.count) {
                let l = row < left.count ? left[row] : ""
                print(l.padding(toLength: width, withPad: " ", startingAt: 0) + " │ " + (row < right.count ? right[row] : ""))
            }
        }
    }
}
