/// The author of a chat message.
public enum ChatRole: String, Sendable, Hashable, Codable, CaseIterable {
    case system, developer, user, assistant, tool, function

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let role = ChatRole(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "expected one of system, developer, user, assistant, tool, found \"\(raw.prefix(40))\""
            )
        }
        self = role
    }
}

/// One message of a chat completion request (`messages[i]`).
public struct ChatMessage: Sendable, Hashable, Codable {
    public var role: ChatRole
    public var content: MessageContent?
    public var name: String?
    public var toolCalls: [ToolCall]?
    public var toolCallID: String?
    /// Members the gateway does not model (`refusal`, `audio`, …), passed through verbatim.
    public var extra: [String: JSONValue]

    public init(
        role: ChatRole, content: MessageContent? = nil, name: String? = nil,
        toolCalls: [ToolCall]? = nil, toolCallID: String? = nil, extra: [String: JSONValue] = [:]
    ) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case role, content, name
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }
    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        role = try container.decode(ChatRole.self, forKey: .role)
        content = try container.decodeIfPresent(MessageContent.self, forKey: .content)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        toolCalls = try container.decodeIfPresent([ToolCall].self, forKey: .toolCalls)
        toolCallID = try container.decodeIfPresent(String.self, forKey: .toolCallID)
        let all = try decoder.container(keyedBy: AnyCodingKey.self)
        extra = try all.extras(excluding: Self.knownKeys)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        if let content { try container.encode(content, forKey: .content) } else { try container.encodeNil(forKey: .content) }
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
        try container.encodeIfPresent(toolCallID, forKey: .toolCallID)
        try encoder.encodeExtras(extra, excluding: Self.knownKeys)
    }
}

/// Message content: a plain string or an array of typed parts.
public enum MessageContent: Sendable, Hashable, Codable {
    case text(String)
    case parts([ContentPart])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let parts = try? container.decode([ContentPart].self) {
            self = .parts(parts)
        } else {
            // Decode again to surface the precise error of the array form (e.g. `content[1].type`).
            do {
                self = .parts(try container.decode([ContentPart].self))
            } catch let error as DecodingError {
                if case .typeMismatch = error {
                    throw DecodingError.dataCorruptedError(
                        in: container, debugDescription: "expected a string or an array of content parts")
                }
                throw error
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .parts(let parts): try container.encode(parts)
        }
    }

    /// The concatenated text of the content (text parts only).
    public var text: String {
        switch self {
        case .text(let text): return text
        case .parts(let parts):
            return parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined()
        }
    }
}

/// One part of an array content: text, image URL, or another type kept verbatim.
public enum ContentPart: Sendable, Hashable, Codable {
    case text(String)
    case imageURL(url: String, detail: String?)
    /// Any other part type (`input_audio`, `file`, `refusal`, …): the whole object, verbatim.
    case other(type: String, JSONValue)

    private enum CodingKeys: String, CodingKey {
        case type, text
        case imageURL = "image_url"
    }
    private struct ImageURL: Codable {
        var url: String
        var detail: String?
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "text":
            self = .text(try container.decode(String.self, forKey: .text))
        case "image_url":
            let image = try container.decode(ImageURL.self, forKey: .imageURL)
            self = .imageURL(url: image.url, detail: image.detail)
        default:
            self = .other(type: type, try JSONValue(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .text(let text):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("text", forKey: .type)
            try container.encode(text, forKey: .text)
        case .imageURL(let url, let detail):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("image_url", forKey: .type)
            try container.encode(ImageURL(url: url, detail: detail), forKey: .imageURL)
        case .other(_, let value):
            try value.encode(to: encoder)
        }
    }
}

/// A tool call made by the assistant (`tool_calls[i]`).
public struct ToolCall: Sendable, Hashable, Codable {
    public var id: String
    public var type: String
    public var function: FunctionCall

    public init(id: String, type: String = "function", function: FunctionCall) {
        self.id = id
        self.type = type
        self.function = function
    }
}

/// The function a tool call invokes; `arguments` is a JSON text, as on the wire.
public struct FunctionCall: Sendable, Hashable, Codable {
    public var name: String
    public var arguments: String

    public init(name: String, arguments: String) {
        self.name = name
        self.arguments = arguments
    }
}
