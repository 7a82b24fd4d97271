import Foundation
import Tokenization
import XCTest

/// Chat renders against the real templates rendered by transformers
/// (scripts/fixtures/tokenization_chat.py → Tests/Fixtures/tokenization/chat-renders.json).
final class ChatFormatTests: XCTestCase {
    private struct RenderCase {
        let format: String
        let messages: [ChatMessage]
        let addGenerationPrompt: Bool
        let expected: String?
        let error: String?
    }

    private func cases() throws -> [RenderCase] {
        let list = try FixtureFiles.json(TestPaths.fixtures.appendingPathComponent("chat-renders.json")) as! [[String: Any]]
        return list.map { entry in
            let messages = (entry["messages"] as! [[String: String]]).map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
            return RenderCase(format: entry["format"] as! String, messages: messages,
                              addGenerationPrompt: entry["add_generation_prompt"] as! Bool,
                              expected: entry["expected"] as? String, error: entry["error"] as? String)
        }
    }

    /// A folder with the Gemma-configured tokenizer and the real Gemma-2 chat template in its config.
    private func gemmaFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: TestPaths.gemmaLike.appendingPathComponent("tokenizer.json"),
                                         to: folder.appendingPathComponent("tokenizer.json"))
        var config = try FixtureFiles.json(TestPaths.gemmaLike.appendingPathComponent("tokenizer_config.json")) as! [String: Any]
        config["chat_template"] = try String(contentsOf: TestPaths.shared.appendingPathComponent("gemma-2/chat_template.jinja"), encoding: .utf8)
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        return folder
    }

    func testFixtureCoversBothFormatsWithAndWithoutGenerationPrompt() throws {
        let all = try cases()
        for format in ["gemma-2", "llama-3.1"] {
            for prompt in [false, true] {
                XCTAssertTrue(all.contains { $0.format == format && $0.addGenerationPrompt == prompt && $0.expected != nil })
            }
            XCTAssertTrue(all.contains { $0.format == format && $0.messages.contains { $0.role == "system" } })
        }
        XCTAssertTrue(all.contains { $0.format == "gemma-2" && $0.error?.contains("System role not supported") == true })
    }

    func testRendersEqualTheReferenceThroughTheTokenizers() throws {
        let llama = try LoadedTokenizers.llama31.get()
        let gemma = try Tokenizer(directory: try gemmaFolder())
        XCTAssertEqual(gemma.chatFormat, .gemma2)
        XCTAssertEqual(llama.chatFormat, .llama31)
        XCTAssertEqual(gemma.endOfTurnTokenID, 107)
        XCTAssertEqual(llama.endOfTurnTokenID, 128_009)
        for entry in try cases() {
            let tokenizer = entry.format == "gemma-2" ? gemma : llama
            let label = "\(entry.format) \(entry.messages.map(\.role)) prompt=\(entry.addGenerationPrompt)"
            if let expected = entry.expected {
                let rendered = try tokenizer.renderChat(entry.messages, addGenerationPrompt: entry.addGenerationPrompt)
                assertSameText(rendered, expected, label)
            } else {
                XCTAssertThrowsError(try tokenizer.renderChat(entry.messages, addGenerationPrompt: entry.addGenerationPrompt), label) { error in
                    guard case TokenizerError.chatTemplateRejected = error else { return XCTFail("\(label): \(error)") }
                    if entry.error!.contains("System role") || entry.error!.contains("alternate") {
                        XCTAssertTrue(entry.error!.hasSuffix((error as! TokenizerError).description.components(separatedBy: ": ").last!), label)
                    }
                }
            }
        }
    }

    func testRenderedChatEncodesToTheTurnMarkers() throws {
        let llama = try LoadedTokenizers.llama31.get()
        let text = try llama.renderChat([.system("Be brief."), .user("Hi")], addGenerationPrompt: true)
        let ids = llama.encode(text, addSpecialTokens: false)
        XCTAssertEqual(ids.first, 128_000)
        XCTAssertEqual(ids.filter { $0 == 128_009 }.count, 2)
        XCTAssertEqual(Array(ids.suffix(4)), [128_006, llama.tokenID(for: "assistant")!, 128_007, llama.tokenID(for: "ĊĊ")!])
    }

    func testUnknownOrMissingTemplateIsAClearError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("chat-unknown-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: TestPaths.gemmaLike.appendingPathComponent("tokenizer.json"),
                                         to: folder.appendingPathComponent("tokenizer.json"))
        let bare = try Tokenizer(directory: folder)
        XCTAssertThrowsError(try bare.renderChat([.user("hi")], addGenerationPrompt: true)) { error in
            XCTAssertEqual(error as? TokenizerError, .noChatTemplate(path: folder.appendingPathComponent("tokenizer.json").path))
        }
        let template = folder.appendingPathComponent("chat_template.jinja")
        try "{% for m in messages %}{{ m['content'] }}{% endfor %}".write(to: template, atomically: true, encoding: .utf8)
        let unknown = try Tokenizer(directory: folder)
        XCTAssertNil(unknown.chatFormat)
        XCTAssertThrowsError(try unknown.renderChat([.user("hi")], addGenerationPrompt: true)) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownChatTemplate(path: template.path))
            XCTAssertTrue("\(error)".contains("chat_template.jinja"))
        }
    }

    func testFormatsCanBeUsedDirectly() throws {
        XCTAssertEqual(try ChatFormat.gemma2.render([.user(" x ")], addGenerationPrompt: true, bosToken: "<bos>"),
                       "<bos><start_of_turn>user\nx<end_of_turn>\n<start_of_turn>model\n")
        XCTAssertThrowsError(try ChatFormat.llama31.render([], addGenerationPrompt: true, bosToken: ""))
        XCTAssertEqual(ChatFormat.gemma2.endOfTurnToken, "<end_of_turn>")
        XCTAssertEqual(ChatFormat.llama31.endOfTurnToken, "<|eot_id|>")
    }

    /// Qwen's ChatML templates (transcribed; scripts/fixtures/tokenization_chat_qwen.py) are recognised
    /// and render as transformers renders them, reasoning and tool turns included.
    func testQwenChatMLRendersEqualTransformers() throws {
        let templates = try FixtureFiles.json(TestPaths.fixtures.appendingPathComponent("chat-templates-qwen.json")) as! [String: String]
        XCTAssertEqual(ChatFormat(template: templates["qwen-2.5"]!), .qwen25)
        XCTAssertEqual(ChatFormat(template: templates["qwen-3"]!), .qwen3)
        XCTAssertNil(ChatFormat(template: "{% for m in messages %}<|im_start|>{{ m.role }}<|im_end|>{% endfor %}"),
                     "a ChatML template that is not Qwen's is not guessed")
        let list = try FixtureFiles.json(TestPaths.fixtures.appendingPathComponent("chat-renders-qwen.json")) as! [[String: Any]]
        XCTAssertGreaterThan(list.count, 150)
        XCTAssertTrue(list.contains { ($0["expected"] as? String)?.hasSuffix("<|im_start|>assistant\n<think>\n\n</think>\n\n") == true })
        for entry in list {
            let format = ChatFormat(rawValue: entry["format"] as! String)!
            let messages = (entry["messages"] as! [[String: String]]).map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
            let prompt = entry["add_generation_prompt"] as! Bool
            let thinking = entry["enable_thinking"] as? Bool ?? true
            let label = "\(format.rawValue) \(messages.map(\.role)) prompt=\(prompt) thinking=\(thinking)"
            if let expected = entry["expected"] as? String {
                XCTAssertEqual(try format.render(messages, addGenerationPrompt: prompt, bosToken: "", enableThinking: thinking),
                               expected, label)
            } else {
                XCTAssertThrowsError(try format.render(messages, addGenerationPrompt: prompt, bosToken: "", enableThinking: thinking), label)
            }
        }
        XCTAssertEqual(ChatFormat.qwen3.endOfTurnToken, "<|im_end|>")
    }
}
