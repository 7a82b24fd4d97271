import ArgumentParser
import Foundation
import Tokenization

/// `corrsteer tokenize`: JSON lines of text to JSON lines of token ids, or back with `--decode`.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode JSON lines {\"text\": …} from stdin to {\"ids\": […]} (or back with --decode).",
        discussion: """
            Gives the ids Hugging Face `tokenizers` gives for the same tokenizer.json. The \
            tokenizer_config.json, special_tokens_map.json and chat_template.jinja beside it are read \
            when present. The whole input is checked before anything is written.

            Examples:
              echo '{"text":"Hello"}' | corrsteer tokenize --tokenizer MODEL
              echo '{"ids":[2,51,35]}' | corrsteer tokenize --tokenizer MODEL --decode
            """)

    @Option(name: .long, help: "A tokenizer.json file, or the model folder that holds it.")
    var tokenizer: String

    @Flag(name: .customLong("no-special-tokens"), help: "Do not add BOS and the like around each text.")
    var noSpecialTokens = false

    @Flag(name: .long, help: "Read {\"ids\": […]} lines and write {\"text\": …} lines.")
    var decode = false

    @Flag(name: .customLong("skip-special-tokens"), help: "With --decode, leave special tokens out of the text.")
    var skipSpecialTokens = false

    @Option(name: .long, help: "Encoding threads (default: all cores).")
    var threads: Int?

    @OptionGroup var output: QuietOption

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if skipSpecialTokens && !decode { throw ValidationError("--skip-special-tokens applies only with --decode") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: tokenizer)
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        let loaded = try exists && isDirectory.boolValue ? Tokenizer(directory: url) : Tokenizer(contentsOf: url)
        let input = FileHandle.standardInput.readDataToEndOfFile()
        let output = FileHandle.standardOutput
        if decode {
            try TokenizationJSONLines.decode(input, source: "stdin", tokenizer: loaded, skipSpecialTokens: skipSpecialTokens) {
                output.write($0)
            }
        } else {
            try TokenizationJSONLines.encode(input, source: "stdin", tokenizer: loaded, addSpecialTokens: !noSpecialTokens,
                                             maxConcurrency: threads) {
                output.write($0)
            }
        }
    }
}
