/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable, Hashable {
    /// `system`, `user`, `assistant`, or any other role the format accepts.
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

/// The chat formats this library renders, each exactly as its model's Jinja template does (no
/// template engine: the templates are written out by hand, without their tool-definition branches).
public enum ChatFormat: String, Sendable, CaseIterable {
    /// Gemma-2-it: `<start_of_turn>user|model … <end_of_turn>`; no system role.
    case gemma2 = "gemma-2"
    /// Llama-3.1-Instruct: header blocks, the date preamble in the system block, `<|eot_id|>`.
    case llama31 = "llama-3.1"
    /// Qwen2 / Qwen2.5 (ChatML): `<|im_start|>role … <|im_end|>`, Qwen's default system message when
    /// the conversation has none, consecutive tool results in one user turn.
    case qwen25 = "qwen-2.5"
    /// Qwen3 (ChatML): no default system message; assistant turns after the last user query keep their
    /// reasoning in a `<think>` block, earlier ones lose it. `render(enableThinking: false)` gives the
    /// non-thinking generation prompt.
    case qwen3 = "qwen-3"

    /// The format of a chat template: Gemma-2 and Llama-3.1 by a fingerprint of their exact text
    /// (surrounding whitespace ignored); Qwen's ChatML templates by phrases only they contain, so that
    /// the revisions Qwen published of each template are all recognised (see
    /// scripts/fixtures/tokenization_chat_qwen.py). Nil for any other template.
    public init?(template: String) {
        switch Self.fingerprint(template) {
        case 0x5C10_EE65_212D_93B3: self = .gemma2
        case 0xCC03_68E1_FFB6_B958: self = .llama31
        default:
            guard template.contains("<|im_start|>"), template.contains("<|im_end|>") else { return nil }
            if template.contains("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.") {
                self = .qwen25
            } else if template.contains("last_query_index"), template.contains("</think>") {
                self = .qwen3
            } else {
                return nil
            }
        }
    }

    /// FNV-1a (64-bit) of the template's UTF-8 without leading and trailing whitespace.
    static func fingerprint(_ template: String) -> UInt64 {
        let bytes = Array(template.utf8)
        var start = 0
        var end = bytes.count
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C]
        while start < end && whitespace.contains(bytes[start]) { start += 1 }
        while end > start && whitespace.contains(bytes[end - 1]) { end -= 1 }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes[start..<end] {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        return hash
    }

    /// The token that ends a turn in this format.
    public var endOfTurnToken: String {
        switch self {
        case .gemma2: return "<end_of_turn>"
        case .llama31: return "<|eot_id|>"
        case .qwen25, .qwen3: return "<|im_end|>"
        }
    }

    /// Renders the conversation as the model's template would, starting with `bosToken`.
    /// Encode the result with `addSpecialTokens: false`: it already holds the BOS text. `enableThinking`
    /// is the Qwen3 template's `enable_thinking`: false closes an empty `<think>` block in the generation
    /// prompt so that the model answers directly (other formats ignore it).
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String,
                       enableThinking: Bool = true) throws -> String {
        // Both templates index messages[0] unconditionally, which fails on an empty list.
        guard !messages.isEmpty else {
            throw TokenizerError.chatTemplateRejected(format: rawValue, message: "the conversation has no messages")
        }
        switch self {
        case .gemma2: return try renderGemma2(messages, addGenerationPrompt, bosToken)
        case .llama31: return renderLlama31(messages, addGenerationPrompt, bosToken)
        case .qwen25: return renderQwen25(messages, addGenerationPrompt)
        case .qwen3: return renderQwen3(messages, addGenerationPrompt, enableThinking)
        }
    }

    /// ChatML's block for one message.
    private static func chatML(_ role: String, _ content: String) -> String {
        "<|im_start|>" + role + "\n" + content + "<|im_end|>\n"
    }

    /// A run of `tool` messages becomes one user turn of `<tool_response>` blocks (both Qwen templates).
    private static func toolResponse(_ messages: [ChatMessage], at index: Int) -> String {
        var text = index == 0 || messages[index - 1].role != "tool" ? "<|im_start|>user" : ""
        text += "\n<tool_response>\n" + messages[index].content + "\n</tool_response>"
        if index == messages.count - 1 || messages[index + 1].role != "tool" { text += "<|im_end|>\n" }
        return text
    }

    private func renderQwen25(_ messages: [ChatMessage], _ addGenerationPrompt: Bool) -> String {
        var text = messages[0].role == "system"
            ? Self.chatML("system", messages[0].content)
            : Self.chatML("system", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        for (index, message) in messages.enumerated() {
            switch message.role {
            case "user", "assistant": text += Self.chatML(message.role, message.content)
            case "system" where index > 0: text += Self.chatML("system", message.content)
            case "tool": text += Self.toolResponse(messages, at: index)
            default: break  // the template renders no other role
            }
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }

    private func renderQwen3(_ messages: [ChatMessage], _ addGenerationPrompt: Bool, _ enableThinking: Bool) -> String {
        var text = messages[0].role == "system" ? Self.chatML("system", messages[0].content) : ""
        // The last user message that is not a wrapped tool result.
        let lastQuery = messages.indices.last { index in
            let m = messages[index]
            return m.role == "user" && !(m.content.hasPrefix("<tool_response>") && m.content.hasSuffix("</tool_response>"))
        } ?? messages.count - 1
        for (index, message) in messages.enumerated() {
            switch message.role {
            case "user": text += Self.chatML("user", message.content)
            case "system" where index > 0: text += Self.chatML("system", message.content)
            case "assistant":
                var content = message.content, reasoning = ""
                if let close = content.range(of: "</think>") {
                    let before = content[..<close.lowerBound].trimmingSuffix("\n")
                    reasoning = String(before.components(separatedBy: "<think>").last ?? "").trimmingPrefix("\n")
                    content = String(content.components(separatedBy: "</think>").last ?? "").trimmingPrefix("\n")
                }
                if index > lastQuery && (index == messages.count - 1 || !reasoning.isEmpty) {
                    text += "<|im_start|>assistant\n<think>\n" + reasoning.trimmingPrefix("\n").trimmingSuffix("\n")
                        + "\n</think>\n\n" + content.trimmingPrefix("\n")
                } else {
                    text += "<|im_start|>assistant\n" + content
                }
                text += "<|im_end|>\n"
            case "tool": text += Self.toolResponse(messages, at: index)
            default: break
            }
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" + (enableThinking ? "" : "<think>\n\n</think>\n\n") }
        return text
    }

    private func renderGemma2(_ messages: [ChatMessage], _ addGenerationPrompt: Bool, _ bos: String) throws -> String {
        if messages[0].role == "system" {
            throw TokenizerError.chatTemplateRejected(format: rawValue, message: "System role not supported")
        }
        var text = bos
        for (index, message) in messages.enumerated() {
            if (message.role == "user") != (index % 2 == 0) {
                throw TokenizerError.chatTemplateRejected(
                    format: rawValue, message: "Conversation roles must alternate user/assistant/user/assistant/...")
            }
            let role = message.role == "assistant" ? "model" : message.role
            text += "<start_of_turn>" + role + "\n" + Self.pythonStrip(message.content) + "<end_of_turn>\n"
        }
        if addGenerationPrompt { text += "<start_of_turn>model\n" }
        return text
    }

    private func renderLlama31(_ messages: [ChatMessage], _ addGenerationPrompt: Bool, _ bos: String) -> String {
        var remaining = messages[...]
        var systemMessage = ""
        if messages[0].role == "system" {
            systemMessage = Self.pythonStrip(messages[0].content)
            remaining = messages.dropFirst()
        }
        var text = bos
        text += "<|start_header_id|>system<|end_header_id|>\n\n"
        text += "Cutting Knowledge Date: December 2023\n"
        text += "Today Date: 26 Jul 2024\n\n"
        text += systemMessage
        text += "<|eot_id|>"
        for message in remaining {
            if message.role == "ipython" || message.role == "tool" {
                // The template JSON-encodes tool output (a string is "iterable" to Jinja).
                text += "<|start_header_id|>ipython<|end_header_id|>\n\n" + Self.jsonString(message.content) + "<|eot_id|>"
            } else {
                text += "<|start_header_id|>" + message.role + "<|end_header_id|>\n\n"
                    + Self.pythonStrip(message.content) + "<|eot_id|>"
            }
        }
        if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return text
    }

    /// Python's `str.strip()` (Jinja's `trim`): removes the characters `str.isspace` accepts.
    static func pythonStrip(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isPythonSpace($0.value) }) else { return "" }
        let last = scalars.lastIndex(where: { !isPythonSpace($0.value) })!
        return String(scalars[first...last])
    }

    static func isPythonSpace(_ value: UInt32) -> Bool {
        switch value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `json.dumps(text, ensure_ascii=False)`, the `tojson` filter transformers installs.
    static func jsonString(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: output += "\\\""
            case 0x5C: output += "\\\\"
            case 0x0A: output += "\\n"
            case 0x0D: output += "\\r"
            case 0x09: output += "\\t"
            case 0x08: output += "\\b"
            case 0x0C: output += "\\f"
            case 0..<0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }
}

private extension StringProtocol {
    /// Python's `lstrip("\n")` / `rstrip("\n")`: on scalars, so that a "\r\n" keeps its "\r" as in Python.
    func trimmingPrefix(_ scalar: Unicode.Scalar) -> String {
        String(String.UnicodeScalarView(unicodeScalars.drop { $0 == scalar }))
    }

    func trimmingSuffix(_ scalar: Unicode.Scalar) -> String {
        var scalars = Array(unicodeScalars)
        while scalars.last == scalar { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
