import Testing
import PhiTokenizer

@Suite struct ChatTemplateTests {
    static let conversation: [ChatMessage] = [.system("You are terse."), .user("Hi"), .assistant("Hello."), .user("2+2?")]

    @Test func phi2Rendering() {
        #expect(ChatTemplate.phi2.render([.user("Write a haiku.")]) == "Instruct: Write a haiku.\nOutput:")
        #expect(ChatTemplate.phi2.render(Self.conversation)
            == "You are terse.\nInstruct: Hi\nOutput: Hello.\nInstruct: 2+2?\nOutput:")
        #expect(ChatTemplate.phi2.render([.user("x")], addGenerationPrompt: false) == "Instruct: x\n")
    }

    @Test func phi3Rendering() {
        #expect(ChatTemplate.phi3.render(Self.conversation)
            == "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\n2+2?<|end|>\n<|assistant|>\n")
        #expect(ChatTemplate.phi3.render([.user("x")], addGenerationPrompt: false) == "<|user|>\nx<|end|>\n<|endoftext|>")
    }

    @Test func phi4MiniRendering() {
        #expect(ChatTemplate.phi4Mini.render(Self.conversation)
            == "<|system|>You are terse.<|end|><|user|>Hi<|end|><|assistant|>Hello.<|end|><|user|>2+2?<|end|><|assistant|>")
    }

    /// Published templates: Phi-3-mini-4k (as in the fixture GGUF), Phi-3.5-mini, Phi-4-mini-instruct.
    static let phi35Source = "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
    static let phi4MiniSource = "{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}"
    static let chatMLSource = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"

    @Test func detectsPublishedTemplates() throws {
        let fixture = try Fixtures.tokenizer("phi3-gguf").chatTemplateSource
        #expect(fixture != nil)
        #expect(ChatTemplate.detect(source: fixture ?? "") == .phi3)
        #expect(ChatTemplate.detect(source: Self.phi35Source) == .phi3)
        #expect(ChatTemplate.detect(source: Self.phi4MiniSource) == .phi4Mini)
        #expect(ChatTemplate.detect(source: Self.chatMLSource) == nil)
    }

    @Test func resolutionOrder() throws {
        // explicit name > recognised template > architecture default > error
        #expect(try ChatTemplate.resolve(name: "phi-2", templateSource: Self.phi35Source, architecture: "phi3") == .phi2)
        #expect(try ChatTemplate.resolve(templateSource: Self.phi4MiniSource, architecture: "phi3") == .phi4Mini)
        #expect(try ChatTemplate.resolve(templateSource: Self.chatMLSource, architecture: "phi3") == .phi3)
        #expect(try ChatTemplate.resolve(templateSource: nil, architecture: "phi3", preTokenizer: .o200k) == .phi4Mini)
        #expect(try ChatTemplate.resolve(templateSource: nil, architecture: "phi2") == .phi2)
        #expect(throws: TokenizerError.self) { try ChatTemplate.resolve(templateSource: Self.chatMLSource, architecture: "llama") }
        #expect(throws: TokenizerError.self) { try ChatTemplate.resolve(templateSource: nil, architecture: nil) }
        #expect(throws: TokenizerError.self) { try ChatTemplate.named("chatml") }
        for template in ChatTemplate.allCases { #expect(try ChatTemplate.named(template.rawValue) == template) }
    }

    @Test func tokenizersPickTheirTemplate() throws {
        #expect(try Fixtures.tokenizer("phi3-gguf").chatTemplate(architecture: "phi3") == .phi3)
        #expect(try Fixtures.tokenizer("phi2-gguf").chatTemplate(architecture: "phi2") == .phi2)
        #expect(try Fixtures.tokenizer("phi3-gguf").chatTemplate(name: "phi4-mini", architecture: "phi3") == .phi4Mini)
    }

    @Test("phi-3 prompt ids: BOS, special tokens, rstrip and per-fragment dummy prefix",
          arguments: ["phi3-gguf", "phi3-json"])
    func phi3PromptIds(_ name: String) throws {
        let t = try Fixtures.tokenizer(name)
        let ids = ChatTemplate.phi3.encode([.system("You are terse."), .user("Hi")], with: t)
        let text = { (s: String) in t.encode(s, addSpecialTokens: false) }
        #expect(ids == [1, 32006] + text("You are terse.") + [32007, 32010] + text("Hi") + [32007, 32001])
        #expect(t.decode(ids) == "You are terse. Hi")  // as Hugging Face decodes it
    }

    @Test func phi2PromptIds() throws {
        let t = try Fixtures.tokenizer("phi2-gguf")
        let prompt = "Instruct: Write a haiku.\nOutput:"
        #expect(ChatTemplate.phi2.encode([.user("Write a haiku.")], with: t) == t.encode(prompt))
        #expect(t.decode(t.encode(prompt)) == prompt)
    }
}
