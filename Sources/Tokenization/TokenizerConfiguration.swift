import Foundation

/// What transformers reads beside tokenizer.json: `tokenizer_config.json`,
/// `special_tokens_map.json` and `chat_template.jinja`, all optional.
struct TokenizerConfiguration {
    var bosToken: String?
    var eosToken: String?
    var padToken: String?
    var unknownToken: String?
    var addBOSToken: Bool?
    var addEOSToken: Bool?
    var cleanUpTokenizationSpaces = false
    var chatTemplate: String?
    /// The file the chat template came from (for error messages).
    var chatTemplateSource: String

    static func load(besides tokenizerFile: URL) throws -> TokenizerConfiguration {
        let directory = tokenizerFile.deletingLastPathComponent()
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let mapURL = directory.appendingPathComponent("special_tokens_map.json")
        let templateURL = directory.appendingPathComponent("chat_template.jinja")
        let fileManager = FileManager.default
        var configuration = TokenizerConfiguration(chatTemplateSource: configURL.path)

        if fileManager.fileExists(atPath: configURL.path) {
            let root = try JSONNode.read(configURL)
            _ = try root.object()
            configuration.bosToken = try root["bos_token"].tokenContent()
            configuration.eosToken = try root["eos_token"].tokenContent()
            configuration.padToken = try root["pad_token"].tokenContent()
            configuration.unknownToken = try root["unk_token"].tokenContent()
            configuration.addBOSToken = try root["add_bos_token"].optionalBool()
            configuration.addEOSToken = try root["add_eos_token"].optionalBool()
            configuration.cleanUpTokenizationSpaces = try root["clean_up_tokenization_spaces"].bool(default: false)
            configuration.chatTemplate = try chatTemplate(root["chat_template"])
        }
        if fileManager.fileExists(atPath: mapURL.path) {
            let root = try JSONNode.read(mapURL)
            _ = try root.object()
            configuration.bosToken = try configuration.bosToken ?? root["bos_token"].tokenContent()
            configuration.eosToken = try configuration.eosToken ?? root["eos_token"].tokenContent()
            configuration.padToken = try configuration.padToken ?? root["pad_token"].tokenContent()
            configuration.unknownToken = try configuration.unknownToken ?? root["unk_token"].tokenContent()
        }
        // transformers gives a separate chat_template.jinja priority over the config's entry.
        if fileManager.fileExists(atPath: templateURL.path) {
            do {
                configuration.chatTemplate = try String(contentsOf: templateURL, encoding: .utf8)
            } catch {
                throw TokenizerError.unreadableFile(path: templateURL.path, reason: JSONNode.describe(error))
            }
            configuration.chatTemplateSource = templateURL.path
        }
        return configuration
    }

    /// `chat_template` is a string, or a list of `{"name", "template"}` (the "default" one is used).
    private static func chatTemplate(_ node: JSONNode) throws -> String? {
        if node.isNull { return nil }
        if let text = node.stringValue { return text }
        let entries = try node.elements()
        var first: String?
        for entry in entries {
            let name = try entry["name"].string()
            let template = try entry["template"].string()
            if name == "default" { return template }
            first = first ?? template
        }
        return first
    }
}
