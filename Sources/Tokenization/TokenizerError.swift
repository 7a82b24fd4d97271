import Foundation
import InputQuoting

/// Everything that can go wrong while loading a tokenizer, rendering a chat or reading token
/// streams. Each case names the file (or stream) and what is wrong with it, in one sentence.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read at all.
    case unreadableFile(path: String, reason: String)
    /// The file is not valid JSON (or not the JSON shape expected at its top level).
    case invalidJSON(path: String, reason: String)
    /// A required field is absent.
    case missingField(path: String, field: String)
    /// A field is present but has the wrong type or an impossible value.
    case invalidField(path: String, field: String, reason: String)
    /// The tokenizer model type is one this library does not implement (Unigram, WordPiece, …).
    case unsupportedModel(path: String, type: String)
    /// A normalizer, pre-tokenizer, post-processor, decoder or pattern this library does not implement.
    case unsupportedComponent(path: String, field: String, description: String)
    /// A merge names a token (or produces one) that is not in the vocabulary.
    case mergeNotInVocabulary(path: String, index: Int, token: String)
    /// The folder holds no tokenizer.json.
    case missingTokenizerFile(directory: String)
    /// The tokenizer has no chat template (neither in tokenizer_config.json nor chat_template.jinja).
    case noChatTemplate(path: String)
    /// The chat template is not one of the formats this library renders.
    case unknownChatTemplate(path: String)
    /// The chat template itself refuses the conversation (the template's own error message).
    case chatTemplateRejected(format: String, message: String)
    /// A line of a JSON-lines stream is not what was expected.
    case invalidInputLine(source: String, line: Int, reason: String)

    public var description: String {
        // Fields, tokens, types and template messages can hold anything the file holds (a 1 MB merge
        // string, control characters): quote them clipped and escaped so the error stays one short line.
        func input(_ text: String) -> String { QuotedInput.escaped(text) }
        // Field paths may embed an already quoted token (`model.vocab["…"]`).
        func fieldPath(_ text: String) -> String { QuotedInput.bounded(text) }
        func said(_ reason: String) -> String { QuotedInput.bounded(reason) }
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot be read (\(said(reason)))"
        case let .invalidJSON(path, reason):
            return "\(path): not valid JSON (\(said(reason)))"
        case let .missingField(path, field):
            return "\(path): missing field \"\(fieldPath(field))\""
        case let .invalidField(path, field, reason):
            return "\(path): field \"\(fieldPath(field))\" \(said(reason))"
        case let .unsupportedModel(path, type):
            return "\(path): tokenizer model type \"\(input(type))\" is not supported (only BPE is)"
        case let .unsupportedComponent(path, field, description):
            return "\(path): \(fieldPath(field)) \(said(description)) is not supported"
        case let .mergeNotInVocabulary(path, index, token):
            return "\(path): merge #\(index) uses or produces \"\(input(token))\", which is not in the vocabulary"
        case let .missingTokenizerFile(directory):
            return "\(directory): no tokenizer.json in this folder"
        case let .noChatTemplate(path):
            return "\(path): the tokenizer has no chat template (no \"chat_template\" and no chat_template.jinja)"
        case let .unknownChatTemplate(path):
            return "\(path): the chat template is not one of the known formats (Gemma-2-it, Llama-3.1-Instruct)"
        case let .chatTemplateRejected(format, message):
            return "\(format) chat template: \(said(message))"
        case let .invalidInputLine(source, line, reason):
            return "\(source) line \(line): \(said(reason))"
        }
    }
}
