import ArgumentParser
import Foundation
import LanguageModels
import Tokenization
import WeightFiles

/// `corrsteer forward`: logits and every block's residual stream for token sequences, as safetensors.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run a model over token sequences and write logits and residual streams to a safetensors file.",
        discussion: HelpText.discussion(
            "For each sequence b (in the order given, --tokens before --prompt) the file holds logits.b [T, vocab] "
                + "and, for every block L, resid_pre.L.b and resid_post.L.b [T, hidden] (the last block's resid_post is "
                + "before the final norm), all f32. Give at least one --tokens or --prompt; token ids must be below "
                + "the model's vocab_size.",
            examples: [
                "corrsteer forward -m MODEL --tokens 2,51,35 -o f.safetensors",
                "corrsteer forward -m MODEL --prompt 'Hello world' -o f.safetensors",
            ],
            extra: [HelpText.environment]))

    @OptionGroup var weightChecks: WeightCheckOptions

    @Option(name: [.customShort("m"), .long], help: "Model folder, or a Hugging Face id found in the local HF cache.")
    var model: String

    @OptionGroup var output: QuietOption

    @Option(name: .long, parsing: .singleValue, help: "Comma-separated token ids of one sequence (repeatable).")
    var tokens: [String] = []

    @Option(name: .long, parsing: .singleValue, help: "Text of one sequence, tokenized with the model's tokenizer.json (repeatable).")
    var prompt: [String] = []

    @Option(help: "tokenizer.json file or folder for --prompt (default: the model folder).")
    var tokenizer: String?

    @Option(name: [.customShort("o"), .long], help: "Output .safetensors file (written atomically).")
    var out: String

    func validate() throws {
        guard !tokens.isEmpty || !prompt.isEmpty else { throw ValidationError("give at least one --tokens or --prompt") }
        for list in tokens { _ = try TokenList.parse(list) }
    }

    func run() throws {
        let languageModel = try LanguageModel.load(model)
        var sequences = try tokens.map(TokenList.parse)
        if !prompt.isEmpty {
            let tokenizer = try TokenizerLocation.load(tokenizer, model: languageModel)
            sequences += prompt.map { tokenizer.encode($0) }
        }
        guard !sequences.isEmpty else { throw ValidationError("give at least one --tokens or --prompt") }
        let layers = languageModel.config.layerCount
        let sites = (0..<layers).flatMap { [HookSite.residPre(layer: $0), .residPost(layer: $0)] }
        let recorder = ResidualRecorder(sites: sites, positions: .all)
        let logits = try languageModel.forward(tokens: sequences, hooks: [recorder], logits: .allPositions)
        let d = languageModel.config.hiddenSize
        var entries: [SafeTensorsWriter.Entry] = []
        for (b, sequence) in sequences.enumerated() {
            entries.append(SafeTensorsWriter.Entry(name: "logits.\(b)", tensor: logits[b]))
            for l in 0..<layers {
                for (site, key) in [(HookSite.residPre(layer: l), "resid_pre"), (.residPost(layer: l), "resid_post")] {
                    let rows = recorder.matrix(site: site, sequence: b)?.values ?? []
                    entries.append(SafeTensorsWriter.Entry(name: "\(key).\(l).\(b)", shape: [sequence.count, d], floats: rows))
                }
            }
        }
        let metadata = ["sequences": String(sequences.count), "tokens": sequences.map { $0.map(String.init).joined(separator: ",") }.joined(separator: ";")]
        try SafeTensorsWriter.write(entries, metadata: metadata, to: URL(fileURLWithPath: out))
        print("wrote \(entries.count) tensors for \(sequences.count) sequence(s) to \(out)")
    }
}

/// Parsing of `--tokens 2,651,235`.
enum TokenList {
    static func parse(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("empty token list")
        }
        return try parts.map { part in
            guard let id = Int(part), id >= 0 else {
                throw ValidationError("'\(part)' in '\(text)' is not a token id (expected comma-separated non-negative integers)")
            }
            return id
        }
    }
}

/// The tokenizer for `--prompt`: an explicit path, else the model's folder.
enum TokenizerLocation {
    static func load(_ path: String?, model: LanguageModel) throws -> Tokenizer {
        if let path {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
            return try exists && isDirectory.boolValue ? Tokenizer(directory: url) : Tokenizer(contentsOf: url)
        }
        guard let directory = model.directory else { throw ValidationError("--prompt needs --tokenizer") }
        return try Tokenizer(directory: directory)
    }

    /// The model folder's tokenizer when it has one (for printing text), else nil.
    static func optional(_ path: String?, model: LanguageModel) throws -> Tokenizer? {
        if path != nil { return try load(path, model: model) }
        guard let directory = model.directory,
              FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path) else { return nil }
        return try Tokenizer(directory: directory)
    }
}
