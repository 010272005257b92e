// The chat formats of the Phi models, reproduced from their published templates (no Jinja engine).

/// One chat turn.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { .init(role: .system, content: content) }
    public static func user(_ content: String) -> ChatMessage { .init(role: .user, content: content) }
    public static func assistant(_ content: String) -> ChatMessage { .init(role: .assistant, content: content) }
}

/// A known chat format.
///
/// Chosen by `resolve(name:templateSource:architecture:preTokenizer:)`: an explicit name wins; else the
/// template shipped with the model (GGUF `tokenizer.chat_template`, `tokenizer_config.json`) is
/// recognised by its markers; a template that is not recognised, or none, falls back to the
/// architecture's default (phi2 → `.phi2`, phi3 → `.phi3`, or `.phi4Mini` with the o200k
/// tokenizer); with no architecture either it is an error.
public enum ChatTemplate: String, Sendable, CaseIterable {
    /// phi-1/1.5/2 QA format: `Instruct: …\nOutput:`. A system message becomes a leading line.
    case phi2
    /// Phi-3 / Phi-3.5: `<|system|>\n…<|end|>\n<|user|>\n…<|end|>\n<|assistant|>\n`. BOS comes from the
    /// tokenizer (`add_bos_token`), not from the rendered text.
    case phi3
    /// Phi-4-mini: `<|system|>…<|end|><|user|>…<|end|><|assistant|>` (no newlines, no BOS).
    case phi4Mini = "phi4-mini"

    /// The template of an override name: `phi2`/`phi-2`, `phi3`/`phi-3`/`phi3.5`/`phi-3.5`,
    /// `phi4-mini`/`phi-4-mini`/`phi4mini` (case-insensitive).
    public static func named(_ name: String) throws(TokenizerError) -> ChatTemplate {
        switch name.lowercased() {
        case "phi2", "phi-2", "phi-1", "phi-1.5", "phi1", "phi1.5": return .phi2
        case "phi3", "phi-3", "phi3.5", "phi-3.5": return .phi3
        case "phi4-mini", "phi-4-mini", "phi4mini", "phi4_mini": return .phi4Mini
        default: throw .unknownChatTemplate("name '\(name)' (expected phi2, phi3 or phi4-mini)")
        }
    }

    /// The known template a Jinja source implements, recognised by its markers; nil if none.
    public static func detect(source: String) -> ChatTemplate? {
        if source.contains("<|assistant|>"), source.contains("<|end|>") {
            // Phi-4-mini concatenates role marker and content without a newline.
            if source.contains("message['role'] + '|>' + message['content']")
                || source.contains("message[\"role\"] + \"|>\" + message[\"content\"]")
            {
                return .phi4Mini
            }
            return .phi3
        }
        if source.contains("Instruct:"), source.contains("Output:") { return .phi2 }
        return nil
    }

    /// The default for a model architecture (`general.architecture` / `model_type`).
    public static func architectureDefault(_ architecture: String, preTokenizer: PreTokenizer? = nil) -> ChatTemplate? {
        switch architecture.lowercased() {
        case "phi2", "phi", "phi-msft", "phi1", "phi-1": return .phi2
        case "phi3", "phi3small", "phi3v": return preTokenizer == .o200k ? .phi4Mini : .phi3
        default: return nil
        }
    }

    /// See the type's documentation for the order of choices.
    public static func resolve(
        name: String? = nil, templateSource: String?, architecture: String?, preTokenizer: PreTokenizer? = nil
    ) throws(TokenizerError) -> ChatTemplate {
        if let name { return try named(name) }
        if let source = templateSource, let known = detect(source: source) { return known }
        if let architecture, let fallback = architectureDefault(architecture, preTokenizer: preTokenizer) {
            return fallback
        }
        throw .unknownChatTemplate(
            templateSource == nil
                ? "no template and no known architecture '\(architecture ?? "none")'"
                : "template not recognised and no known architecture '\(architecture ?? "none")'")
    }

    /// The prompt text. `addGenerationPrompt` ends it where the assistant's answer starts; without it
    /// phi-3/phi-4-mini end with `<|endoftext|>` as their templates do.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        switch self {
        case .phi2:
            for m in messages {
                switch m.role {
                case .system: out += m.content + "\n"
                case .user: out += "Instruct: " + m.content + "\n"
                case .assistant: out += "Output: " + m.content + "\n"
                }
            }
            if addGenerationPrompt { out += "Output:" }
        case .phi3:
            for m in messages {
                out += "<|\(m.role.rawValue)|>\n" + m.content + "<|end|>\n"
            }
            out += addGenerationPrompt ? "<|assistant|>\n" : "<|endoftext|>"
        case .phi4Mini:
            for m in messages {
                out += "<|\(m.role.rawValue)|>" + m.content + "<|end|>"
            }
            out += addGenerationPrompt ? "<|assistant|>" : "<|endoftext|>"
        }
        return out
    }

    /// The prompt's token ids: the rendered text encoded with special tokens recognised and the
    /// tokenizer's BOS added (as `apply_chat_template(tokenize=True)` does). Special-token text inside
    /// message contents is recognised too, as in Hugging Face and llama.cpp.
    public func encode(
        _ messages: [ChatMessage], with tokenizer: any Tokenizer, addGenerationPrompt: Bool = true
    ) -> [Int32] {
        tokenizer.encode(render(messages, addGenerationPrompt: addGenerationPrompt), addSpecialTokens: true, parseSpecialTokens: true)
    }
}

extension BPETokenizer {
    /// The chat template for this tokenizer: `name` if given, else its shipped template, else the
    /// default of `architecture` (see `ChatTemplate.resolve`).
    public func chatTemplate(name: String? = nil, architecture: String?) throws(TokenizerError) -> ChatTemplate {
        var pre: PreTokenizer? = nil
        if case let .byteLevel(p) = definition.model { pre = p }
        return try ChatTemplate.resolve(
            name: name, templateSource: definition.chatTemplate, architecture: architecture, preTokenizer: pre)
    }
}
